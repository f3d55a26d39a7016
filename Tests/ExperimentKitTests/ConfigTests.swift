import ExperimentKit
import Foundation
// Config layering: defaults, then base.json, the ablation file, --set; and the errors for
// unknown keys, wrong types, malformed JSON and bad values, each naming the key and the file.
import LabSupport
import TestSupport
import Testing

struct NestedConfig: ExperimentConfig, Equatable {
    struct Optim: Codable, Equatable, Sendable {
        var lr = 0.1
        var betas = [0.9, 0.95]
    }
    var steps = 10
    var name = "x"
    var useBias = true
    var optim = Optim()
    init() {}
    func validate() throws {
        if optim.lr <= 0 { throw LabError.invalid(key: "optim.lr", "must be positive") }
    }
}

func writeJSON(_ text: String, _ name: String, in folder: String) -> String {
    let path = "\(folder)/\(name)"
    try? text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite struct ConfigTests {
    @Test func layersApplyInOrder() throws {
        let folder = temporaryFolder()
        let base = try ConfigLayer.file(writeJSON(#"{"_description": "d", "steps": 20}"#, "base.json", in: folder))!
        let ablation = try ConfigLayer.file(
            writeJSON(#"{"optim": {"lr": 0.5}, "useBias": false}"#, "a.json", in: folder))!
        let sets = try ConfigLayer.sets(["optim.betas=[0.8,0.9]", "name=hello", "steps=30"])
        let resolved = try ConfigResolver.resolve(NestedConfig.self, layers: [base, ablation, sets])
        var expected = NestedConfig()
        expected.steps = 30
        expected.name = "hello"
        expected.useBias = false
        expected.optim = .init(lr: 0.5, betas: [0.8, 0.9])
        #expect(resolved.value == expected)
        #expect(resolved.sources["optim.lr"] == "\(folder)/a.json" && resolved.sources["steps"] == "--set")
        #expect(resolved.json.value(at: "optim.lr") == .number(0.5))
    }

    @Test func unknownKeyNamesKeyAndFile() throws {
        let path = writeJSON(#"{"optim": {"learning_rate": 0.5}}"#, "typo.json", in: temporaryFolder())
        let error = expectLabError(.config) {
            try ConfigResolver.resolve(NestedConfig.self, layers: [try ConfigLayer.file(path)!])
        }
        #expect(error?.message == "\(path): unknown key 'optim.learning_rate' (known keys: betas, lr)")
    }

    @Test func wrongTypeNamesKeyAndFile() throws {
        let path = writeJSON(#"{"useBias": "yes"}"#, "type.json", in: temporaryFolder())
        let error = expectLabError(.config) {
            try ConfigResolver.resolve(NestedConfig.self, layers: [try ConfigLayer.file(path)!])
        }
        #expect(error?.message == "\(path): key 'useBias' must be a boolean, got a string")
        let integer = writeJSON(#"{"steps": 2.5}"#, "int.json", in: temporaryFolder())
        let intError = expectLabError(.config) {
            try ConfigResolver.resolve(NestedConfig.self, layers: [try ConfigLayer.file(integer)!])
        }
        #expect(intError?.message.hasPrefix("\(integer): key 'steps': ") == true, "\(intError?.message ?? "")")
    }

    @Test func malformedJSONNamesTheFile() throws {
        let path = writeJSON(#"{"steps": 3 "name": "x"}"#, "broken.json", in: temporaryFolder())
        let error = expectLabError(.config) { try ConfigLayer.file(path) }
        #expect(error?.message.hasPrefix("\(path): malformed JSON") == true)
        #expect(throws: LabError(.config, "\(path)x: no such config file")) { try ConfigLayer.file(path + "x") }
    }

    @Test func badValueFromValidateNamesKeyAndItsSource() throws {
        let sets = try ConfigLayer.sets(["optim.lr=-1"])
        #expect(
            throws: LabError(
                .config,
                "--set: key 'optim.lr' = -1: must be positive", key: "optim.lr", reason: "must be positive")
        ) {
            try ConfigResolver.resolve(NestedConfig.self, layers: [sets])
        }
        expectLabError(.config) { try ConfigLayer.sets(["no-equals-sign"]) }
    }
}
