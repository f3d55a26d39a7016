// The fixture Scripts/reference/interop_fixtures.py wrote: what transformers, the gguf package and
// llama.cpp read from our exports of Fixtures/tiny.ckpt.h5, and a random Llama made by transformers.
import Crypto
import Foundation
import Interop
import NanoTransformer
import TensorCore

struct InteropFixture {
    let root: [String: Any]
    let folder: String

    init(testFile: String = #filePath) throws {
        folder = URL(fileURLWithPath: testFile).deletingLastPathComponent().appendingPathComponent("Fixtures").path
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/interop.json"))
        root = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    var probe: String { root["probe"] as! String }
    var export: [String: Any] { root["export"] as! [String: Any] }
    var imported: [String: Any] { root["import"] as! [String: Any] }
    var tinyCheckpoint: String { "\(folder)/tiny.ckpt.h5" }
    var randomLlama: String { "\(folder)/hf-random" }

    static func floats(_ value: Any?) -> [Float] { (value as? [Double] ?? []).map { Float($0) } }
}

func sha256(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

func sha256(floats: [Float]) -> String {
    sha256(floats.withUnsafeBytes { Array($0) })
}

/// Logits (T, V) of one sequence, flattened.
func logits(_ model: NanoTransformer, _ ids: [Int]) -> [Float] {
    var rng = RNG(seed: 0)
    let out = withNoGrad { model.logits(ids, batch: 1, time: ids.count, rng: &rng) }
    return Array(UnsafeBufferPointer(start: out.data, count: out.count))
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// A fresh temporary folder, removed by the caller.
func temporaryFolder(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "interop-\(name)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
