import Foundation
// The preference world (reward-bpr, PPO on text, dpo): the DPO paper's "controlled sentiment
// generation" with a reward we can compute exactly. Prompts are the openings of quotations from
// Debian's `fortunes` (modern English, one quotation between "%" lines; the "-- Author" lines
// dropped); the policy continues them; the true reward is VADER's compound sentiment score of the
// continuation, in [-1, 1] (VADER.swift). Quotations are split once, by a hash of their text, into
// the ones a base model may be trained on and the held-out ones prompts come from, so a prompt's
// continuation was never seen in training whatever the corpus order.
import LabSupport

public struct PreferenceWorld: Sendable {
    /// Files of the fortunes folder that are not prose (pictures drawn in characters).
    public static let excludedFiles: Set<String> = ["ascii-art.txt"]

    public let vader: VADER
    /// Words of a quotation that make its prompt.
    public let promptWords: Int

    public init(vader: VADER, promptWords: Int = 4) throws {
        guard promptWords >= 1 else {
            throw LabError(.config, "preference.promptWords: \(promptWords) must be at least 1")
        }
        (self.vader, self.promptWords) = (vader, promptWords)
    }

    /// The true reward of a response: VADER's compound score of its text.
    public func trueReward(_ response: String) -> Double { vader.scores(response).compound }

    /// The prompt of a quotation: its first `promptWords` words (nil when it has no more words
    /// than that: nothing would be left to continue).
    public func prompt(of quotation: String) -> String? {
        let words = quotation.split(whereSeparator: \.isWhitespace)
        return words.count > promptWords ? words.prefix(promptWords).joined(separator: " ") : nil
    }

    /// Every quotation of the fortunes folder (files in name order), its lines joined by single
    /// spaces, attribution lines ("-- Author", and lines after one) dropped, empty ones skipped.
    public static func quotations(folder: String) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder).filter {
                $0.hasSuffix(".txt") && !excludedFiles.contains($0)
            }.sorted()
        } catch {
            throw LabError(
                .config, "\(folder): cannot list the fortunes folder (run Data/fetch): \(error.localizedDescription)")
        }
        guard !names.isEmpty else { throw LabError(.config, "\(folder): no fortunes files (run Data/fetch)") }
        var out: [String] = []
        for name in names {
            let path = "\(folder)/\(name)"
            guard let data = FileManager.default.contents(atPath: path) else {
                throw LabError(.config, "\(path): cannot read")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw LabError(.config, "\(path): not UTF-8")
            }
            out += quotations(in: text)
        }
        return out
    }

    /// The quotations of one fortunes file's text.
    public static func quotations(in text: String) -> [String] {
        var out: [String] = []
        var lines: [Substring] = []
        var attributed = false
        func finish() {
            let joined = lines.flatMap { $0.split(whereSeparator: \.isWhitespace) }.joined(separator: " ")
            if !joined.isEmpty { out.append(joined) }
            (lines, attributed) = ([], false)
        }
        // "\r\n" is one Character in Swift: split on it as on "\n".
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            if line == "%" {
                finish()
            } else if line.drop(while: \.isWhitespace).hasPrefix("--") {
                attributed = true
            } else if !attributed {
                lines.append(line)
            }
        }
        finish()
        return out
    }

    /// Quotations split by a hash of their text: about `heldOutShare` of them held out.
    public static func split(_ quotations: [String], heldOutShare: Double = 0.1) -> (train: [String], heldOut: [String])
    {
        precondition((0...1).contains(heldOutShare), "PreferenceWorld.split: heldOutShare must be within 0...1")
        var train: [String] = []
        var heldOut: [String] = []
        for q in quotations {
            // FNV-1a over the UTF-8 bytes: stable across runs and platforms (Swift's hashValue is not).
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in q.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            if Double(h % 10_000) < heldOutShare * 10_000 { heldOut.append(q) } else { train.append(q) }
        }
        return (train, heldOut)
    }
}
