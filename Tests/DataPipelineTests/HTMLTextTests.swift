// HTML to text on a saved-page-like document: navigation, scripts, styles, comments and the
// footer dropped, blocks as lines, list items marked, entities decoded, malformed markup survived.
import DataPipeline
import Testing

@Suite struct HTMLTextTests {
    static let page = """
        <!DOCTYPE html>
        <html><head><title>Flood report</title><style>p { color: red; }</style>
        <script>var tracker = "<p>not text</p>";</script></head>
        <body>
        <nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ul></nav>
        <header><h1>Site name</h1></header>
        <main>
        <h1>The river   rose</h1>
        <!-- an editor's note that must not appear -->
        <p>The river rose through the night &amp; the rain kept falling.<br>By morning the bridge was under water.</p>
        <ul><li>Schools: closed</li><li>Roads: &lt;partly&gt; open &#8212; check first</li></ul>
        <p>Caf&eacute; owners said &ldquo;we are fine&rdquo; &#x263A;.</p>
        </main>
        <footer>Copyright &copy; 2026 Example News. <a href="/privacy">Privacy</a></footer>
        </body></html>
        """

    @Test func aPageBecomesItsText() {
        #expect(
            HTMLText.text(Self.page) == """
                The river rose
                The river rose through the night & the rain kept falling.
                By morning the bridge was under water.
                - Schools: closed
                - Roads: <partly> open — check first
                Caf&eacute; owners said “we are fine” ☺.
                """)
    }

    @Test func malformedMarkupNeverFails() {
        #expect(HTMLText.text("a < b and c > d") == "a < b and c > d")  // not a tag: "<" before a space
        #expect(HTMLText.text("<p>open <script>never closed") == "open")
        #expect(HTMLText.text("text <!-- unclosed comment") == "text")
        #expect(HTMLText.text("x &bogus; y &#xZZ; z") == "x &bogus; y &#xZZ; z")
        #expect(HTMLText.text("") == "")
    }

    /// A page is known by its content_type or by how its text opens; plainText extracts only pages.
    @Test func pagesAreKnownAndOnlyPagesAreExtracted() {
        let page = Document(id: "p", text: "  <!DOCTYPE html><p>Hello &amp; bye</p>", source: "web")
        let typed = Document(
            id: "t", text: "<p>Typed</p>", source: "web", metadata: ["content_type": "\"text/html\""])
        let plain = Document(id: "x", text: "a < b and <p> is a tag", source: "books")
        #expect(HTMLText.isHTML(page) && HTMLText.isHTML(typed) && !HTMLText.isHTML(plain))
        #expect(HTMLText.plainText(of: page) == "Hello & bye")
        #expect(HTMLText.plainText(of: typed) == "Typed")
        #expect(HTMLText.plainText(of: plain) == plain.text)
    }
}
