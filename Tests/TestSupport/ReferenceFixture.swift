// Reference fixtures: JSON files written by the committed scripts under Scripts/reference,
// holding named tensors (shape + float32 data) and scalar parameters per case.
import Foundation
import TensorCore

public struct ReferenceFixture {
    struct StoredTensor: Decodable {
        let shape: [Int]
        let data: [Float]
    }

    struct StoredCase: Decodable {
        let tensors: [String: StoredTensor]
    }

    struct File: Decodable {
        let generator: String
        let cases: [String: StoredCase]
    }

    let file: File
    let raw: [String: Any]
    public let path: String

    /// Loads `name` from the `Fixtures` folder next to the calling test file.
    public init(_ name: String, testFile: String = #filePath) throws {
        let url = URL(fileURLWithPath: testFile).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
        let data = try Data(contentsOf: url)
        file = try JSONDecoder().decode(File.self, from: data)
        raw = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        path = url.path
    }

    public var generator: String { file.generator }

    public func tensor(_ caseName: String, _ name: String) -> Tensor {
        guard let stored = file.cases[caseName]?.tensors[name] else {
            fatalError("fixture \(path) has no tensor \(caseName)/\(name)")
        }
        return Tensor(stored.data, shape: stored.shape)
    }

    /// A scalar or list parameter of a case, as stored.
    public func parameter(_ caseName: String, _ name: String) -> Any {
        let cases = raw["cases"] as! [String: Any]
        let c = cases[caseName] as! [String: Any]
        let params = c["params"] as! [String: Any]
        guard let value = params[name] else { fatalError("fixture \(path) has no parameter \(caseName)/\(name)") }
        return value
    }
}
