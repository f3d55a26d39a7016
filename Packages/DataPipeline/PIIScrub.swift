import Foundation

// Personal information in pretraining text, replaced by typed placeholders (the seed's data
// section: scrub before training; what FineWeb and Dolma do for e-mail and IP addresses, extended).
// Patterns, tried in this order so a longer kind is not eaten by a shorter one:
//   <EMAIL>  local@domain.tld
//   <IP>     IPv6 (any form inet_pton accepts, found as runs of hex digits and colons with at
//            least two colons) and dotted IPv4 with every part 0...255 (a full stop after it ends
//            the sentence; a fifth number after a dot makes it a version, not an address)
//   <CARD>   13 to 19 digits, optionally in groups split by single spaces or dashes, that pass
//            the Luhn check (so most long numbers, dates and phone numbers are left alone)
//   <ID>     national-ID-like numbers: a US SSN ddd-dd-dddd outside the never-issued ranges
//            (area 000, 666, 900-999; group 00; serial 0000), and an 18-character Chinese
//            resident ID whose ISO 7064 MOD 11-2 check character is right
//   <PHONE>  an optional +country code, an optional (area), then two or three groups of digits
//            joined by spaces, dots or dashes, 7 to 15 digits in all
// Everything else is left byte for byte as it was.
#if canImport(Glibc)
    import Glibc
#endif

public enum PIIKind: String, Codable, Sendable, CaseIterable {
    case email = "EMAIL"
    case ip = "IP"
    case card = "CARD"
    case id = "ID"
    case phone = "PHONE"

    public var placeholder: String { "<\(rawValue)>" }
}

public enum PIIScrub {
    static func regex(_ pattern: String) -> NSRegularExpression {
        try! NSRegularExpression(pattern: pattern)  // literal patterns, checked by the tests
    }

    nonisolated(unsafe) static let patterns: [(PIIKind, NSRegularExpression, (String) -> Bool)] = [
        (.email, regex(#"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"#), { _ in true }),
        (.ip, regex(#"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Fa-f:])"#), isIPv6),
        (
            .ip,
            regex(
                #"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\d|\.\d)"#
            ),
            { _ in true }
        ),
        (.card, regex(#"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"#), luhn),
        (.id, regex(#"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"#), validSSN),
        (.id, regex(#"(?<![\dXx])\d{17}[\dXx](?![\dXx])"#), validChineseID),
        (
            .phone,
            regex(
                #"(?<![\w+-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}[ .-]\d{3,4}(?:[ .-]\d{3,4})?(?![\w-])"#),
            phoneDigits
        ),
    ]

    /// The text with every match replaced by its placeholder, and the count of each kind.
    public static func scrub(_ text: String) -> (text: String, counts: [PIIKind: Int]) {
        var out = text
        var counts: [PIIKind: Int] = [:]
        for (kind, regex, accept) in patterns {
            let ns = out as NSString
            var pieces: [String] = []
            var last = 0
            for match in regex.matches(in: out, range: NSRange(location: 0, length: ns.length)) {
                let candidate = ns.substring(with: match.range)
                guard accept(candidate) else { continue }
                pieces.append(ns.substring(with: NSRange(location: last, length: match.range.location - last)))
                pieces.append(kind.placeholder)
                last = match.range.location + match.range.length
                counts[kind, default: 0] += 1
            }
            pieces.append(ns.substring(from: last))
            out = pieces.joined()
        }
        return (out, counts)
    }

    static func isIPv6(_ s: String) -> Bool {
        var address = in6_addr()
        return s.filter { $0 == ":" }.count >= 2 && inet_pton(AF_INET6, s, &address) == 1
    }

    /// The Luhn checksum of the digits (separators ignored).
    public static func luhn(_ s: String) -> Bool {
        let digits = s.compactMap(\.wholeNumberValue)
        guard (13...19).contains(digits.count) else { return false }
        var sum = 0
        for (k, d) in digits.reversed().enumerated() {
            let v = k % 2 == 1 ? d * 2 : d
            sum += v > 9 ? v - 9 : v
        }
        return sum % 10 == 0
    }

    static func validSSN(_ s: String) -> Bool {
        let parts = s.split(separator: "-").map { Int($0)! }
        let (area, group, serial) = (parts[0], parts[1], parts[2])
        return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
    }

    /// GB 11643: weights 2^(17−i) mod 11 over the first 17 digits; check = (12 − sum mod 11) mod 11, 10 written X.
    public static func validChineseID(_ s: String) -> Bool {
        let chars = Array(s.uppercased())
        guard chars.count == 18 else { return false }
        var sum = 0
        for i in 0..<17 {
            guard let d = chars[i].wholeNumberValue else { return false }
            sum += d * ((1 << (17 - i)) % 11)
        }
        let check = (12 - sum % 11) % 11
        return chars[17] == (check == 10 ? "X" : Character(String(check)))
    }

    static func phoneDigits(_ s: String) -> Bool { (7...15).contains(s.filter(\.isNumber).count) }
}
