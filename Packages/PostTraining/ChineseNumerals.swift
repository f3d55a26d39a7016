// Chinese number words for the second CoT language: 0 ... 10^16 - 1 in the standard reading,
// four-digit groups joined by 万 (10^4) and 亿 (10^8): 十 / 百 / 千 inside a group, one 零 for each
// run of missing places between two digits read (within a group or across groups), and 十 rather than
// 一十 at the very start (12 is 十二, 112 is 一百一十二). Negative numbers take 负.

public enum ChineseNumerals {
    static let digits: [Character] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"]
    static let places: [String] = ["", "十", "百", "千"]
    static let groups: [String] = ["", "万", "亿", "万亿"]

    /// The reading of `n`; |n| must be below 10^16.
    public static func words(_ n: Int64) -> String {
        if n < 0 { return "负" + words(-n) }
        precondition(n < 10_000_000_000_000_000, "ChineseNumerals: \(n) is 10^16 or more")
        if n == 0 { return "零" }
        var quads: [Int] = []  // four-digit groups, least significant first
        var rest = n
        while rest > 0 {
            quads.append(Int(rest % 10_000))
            rest /= 10_000
        }
        var out = ""
        var gap = false  // a zero place since the last digit read
        for g in stride(from: quads.count - 1, through: 0, by: -1) {
            let q = quads[g]
            if q == 0 {
                gap = gap || !out.isEmpty
                continue
            }
            // Missing places between this group's first digit and the last one read: 零.
            if !out.isEmpty && (gap || q < 1000) { out += "零" }
            out += group(q, leading: out.isEmpty) + groups[g]
            gap = q % 10 == 0
        }
        return out
    }

    /// 1 ... 9999 inside one group; `leading`: the number's first group (10...19 read 十...).
    static func group(_ q: Int, leading: Bool) -> String {
        let d = [q / 1000, q / 100 % 10, q / 10 % 10, q % 10]  // thousands ... units
        var out = ""
        var zero = false
        for (i, digit) in d.enumerated() {
            let place = 3 - i
            if digit == 0 {
                zero = !out.isEmpty
                continue
            }
            if zero { out += "零" }
            zero = false
            if !(leading && out.isEmpty && place == 1 && digit == 1) { out.append(digits[digit]) }
            out += places[place]
        }
        return out
    }
}
