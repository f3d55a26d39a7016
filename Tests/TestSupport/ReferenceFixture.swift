// Reference fixtures: JSON files written by the committed scripts under Scripts/reference,
// holding named tensors (shape + float32 data) and scalar parameters per case.
import Foundation
import TensorCore
import Testing

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

extension ReferenceFixture {
    /// Checks a layer against case `name`: `out` against its "out", then the gradients of
    /// sum(out * probe) (its "probe") with respect to `input` ("grad.h") and every named parameter
    /// ("grad.<name>"), all within atol + rtol * |expected|.
    public func expectForwardAndGradients(
        _ name: String, out: Tensor, input: Tensor, parameters: [(name: String, tensor: Tensor)],
        atol: Float = 2e-5, rtol: Float = 1e-4, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let expected = tensor(name, "out")
        #expect(
            out.isClose(to: expected, atol: atol, rtol: rtol),
            "\(name) out: max diff \(out.maxAbsDifference(expected))",
            sourceLocation: sourceLocation)
        (out * tensor(name, "probe")).sum().backward()
        for (label, value) in [(name: "h", tensor: input)] + parameters {
            let want = tensor(name, "grad." + label)
            guard let got = value.grad else {
                Issue.record("\(name): no gradient for \(label)", sourceLocation: sourceLocation)
                continue
            }
            #expect(
                got.isClose(to: want, atol: atol, rtol: rtol),
                "\(name) d\(label): max diff \(got.maxAbsDifference(want))",
                sourceLocation: sourceLocation)
        }
    }
}
