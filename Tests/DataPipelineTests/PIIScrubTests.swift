// The PII scrub on a hand table of positive and negative examples per kind.
import DataPipeline
import Testing

@Suite struct PIIScrubTests {
    /// (text, scrubbed text)
    static let table: [(String, String)] = [
        ("write to jane.doe+news@mail.example.co.uk today", "write to <EMAIL> today"),
        ("not an address: user@localhost or @handle", "not an address: user@localhost or @handle"),
        ("server 192.168.0.12 answered", "server <IP> answered"),
        ("the last server was 10.0.0.7.", "the last server was <IP>."),
        ("version 1.2.3.4.5 and 256.1.1.1 are not IPs", "version 1.2.3.4.5 and 256.1.1.1 are not IPs"),
        ("v6 at 2001:db8::8a2e:370:7334 and ::1", "v6 at <IP> and <IP>"),
        ("the time is 10:30 and the ratio 3:2", "the time is 10:30 and the ratio 3:2"),
        ("card 4111 1111 1111 1111 expires", "card <CARD> expires"),
        ("card 4111-1111-1111-1112 fails Luhn", "card 4111-1111-1111-1112 fails Luhn"),
        ("ssn 123-45-6789 on file", "ssn <ID> on file"),
        ("ssn 666-45-6789 and 123-00-6789 were never issued", "ssn 666-45-6789 and 123-00-6789 were never issued"),
        ("身份证 11010519491231002X 已登记", "身份证 <ID> 已登记"),
        ("身份证 110105194912310021 校验错", "身份证 110105194912310021 校验错"),
        ("call +1 (555) 123-4567 or 020 7946 0958", "call <PHONE> or <PHONE>"),
        ("the year 1999 and 42 apples", "the year 1999 and 42 apples"),
    ]

    @Test func eachKindOnTheHandTable() {
        for (text, expected) in Self.table {
            #expect(PIIScrub.scrub(text).text == expected, "\(text)")
        }
        let counts = PIIScrub.scrub("a@b.io, c@d.org, 10.0.0.1 and 123-45-6789").counts
        #expect(counts == [.email: 2, .ip: 1, .id: 1])
    }

    @Test func theChecksums() {
        #expect(PIIScrub.luhn("79927398713") == false)  // 11 digits: too short to be a card
        #expect(PIIScrub.luhn("4012 8888 8888 1881") && !PIIScrub.luhn("4012 8888 8888 1882"))
        #expect(PIIScrub.validChineseID("11010519491231002X") && !PIIScrub.validChineseID("11010519491231002"))
    }
}
