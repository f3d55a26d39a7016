// HTML to text for web-like input, the first stage of a web pipeline (the job trafilatura or
// resiliparse does for FineWeb and Dolma), written small: a page is read tag by tag;
//   - the contents of script, style, noscript, template, svg, head, nav, header, footer, aside
//     and form elements are dropped (code, navigation, menus, repeated headers and footers);
//   - block elements (p, div, li, h1-h6, br, tr, section, article, blockquote, pre, table, ...)
//     end a line, so paragraphs stay paragraphs; li items start with "- ";
//   - comments and every other tag are removed, the text between them kept;
//   - character references are decoded (named: amp, lt, gt, quot, apos, nbsp and a few common
//     typographic ones; numeric: &#65; and &#x41;), unknown ones left as written;
//   - whitespace runs inside a line become one space; blank lines collapse.
// It is not a browser: malformed markup is read as best it can be (an unclosed dropped element
// drops to the end), and nothing is ever an error.
public enum HTMLText {
    static let dropped: Set<String> = [
        "script", "style", "noscript", "template", "svg", "head", "nav", "header", "footer", "aside", "form",
    ]
    static let blocks: Set<String> = [
        "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "br", "tr", "td", "th", "section",
        "article", "blockquote", "pre", "table", "hr", "main", "dd", "dt", "dl", "figure", "figcaption", "title",
    ]
    static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "mdash": "—", "ndash": "–",
        "hellip": "…", "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”", "copy": "©",
    ]

    /// Whether a document is a page: its content_type says text/html, or its text opens like one.
    public static func isHTML(_ d: Document) -> Bool {
        if let type = d.metadata["content_type"], type.lowercased().contains("text/html") { return true }
        let opening = d.text.prefix(64).drop { $0.isWhitespace }.lowercased()
        return opening.hasPrefix("<!doctype html") || opening.hasPrefix("<html")
    }

    /// The document's text as a reader sees it: extracted when it is a page, else as it is.
    public static func plainText(of d: Document) -> String { isHTML(d) ? text(d.text) : d.text }

    public static func text(_ html: String) -> String {
        let chars = Array(html)
        var out = ""
        var i = 0
        var droppedDepth: [String] = []  // open dropped elements
        func endLine() { if !out.isEmpty && out.last != "\n" { out.append("\n") } }
        while i < chars.count {
            // "<" starts a tag only before a letter, "/" or "!" (as in HTML5); "a < b" is text.
            if chars[i] == "<", i + 1 < chars.count, chars[i + 1].isLetter || chars[i + 1] == "/" || chars[i + 1] == "!"
            {
                // A comment, a tag, or a lone "<".
                if chars[i...].starts(with: Array("<!--")) {
                    var j = i + 4
                    while j + 2 < chars.count && !(chars[j] == "-" && chars[j + 1] == "-" && chars[j + 2] == ">") {
                        j += 1
                    }
                    i = Swift.min(j + 3, chars.count)
                    continue
                }
                guard let close = chars[i...].firstIndex(of: ">") else {
                    if droppedDepth.isEmpty { out.append(contentsOf: String(chars[i...])) }
                    break
                }
                let inside = String(chars[(i + 1)..<close])
                i = close + 1
                let closing = inside.hasPrefix("/")
                let name = inside.drop(while: { $0 == "/" }).prefix(while: { $0.isLetter || $0.isNumber }).lowercased()
                if dropped.contains(name) {
                    if closing {
                        if let k = droppedDepth.lastIndex(of: name) { droppedDepth.removeSubrange(k...) }
                    } else if !inside.hasSuffix("/") {
                        droppedDepth.append(name)
                    }
                    continue
                }
                guard droppedDepth.isEmpty else { continue }
                if blocks.contains(name) {
                    endLine()
                    if name == "li" && !closing { out.append("- ") }
                }
                continue
            }
            if !droppedDepth.isEmpty {
                i += 1
                continue
            }
            if chars[i] == "&", let semicolon = chars[i...].prefix(12).firstIndex(of: ";") {
                let entity = String(chars[(i + 1)..<semicolon])
                if let decoded = decode(entity) {
                    out.append(decoded)
                    i = semicolon + 1
                    continue
                }
            }
            out.append(chars[i])
            i += 1
        }
        // Whitespace: one space inside lines, no blank lines, no trailing spaces.
        return out.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\u{A0}" }).joined(separator: " ")
        }.filter { !$0.isEmpty && $0 != "-" }.joined(separator: "\n")
    }

    static func decode(_ entity: String) -> String? {
        if let s = named[entity] { return s }
        guard entity.hasPrefix("#") else { return nil }
        let digits = entity.dropFirst()
        let value = digits.first == "x" || digits.first == "X" ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
        return value.flatMap { Unicode.Scalar($0) }.map { String(Character($0)) }
    }
}
