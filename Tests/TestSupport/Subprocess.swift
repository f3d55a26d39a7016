// Running the project's executables from tests: a test target that lists an executable in its
// `testDeps` gets it built beside the test bundle.
import Foundation

/// The path of a product built beside the test bundle.
public func productPath(_ name: String, testFile: String = #filePath) -> String {
    let bundleFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for folder in [bundleFolder, bundleFolder.deletingLastPathComponent()] {
        let candidate = folder.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    let root = URL(fileURLWithPath: testFile).deletingLastPathComponent().appendingPathComponent("../..").standardized
    return root.appendingPathComponent(".build/release/\(name)").path
}

public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs a product to completion, capturing both output streams.
public func runProduct(_ name: String, _ arguments: [String]) throws -> ProcessResult {
    try runExecutable(productPath(name), arguments)
}

/// Runs any executable (mpirun, say) to completion, capturing both output streams.
public func runExecutable(_ path: String, _ arguments: [String]) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read stderr on another thread so a full stderr pipe cannot block the child.
    let errorData = UncheckedData()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errorData.value = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    group.wait()
    return ProcessResult(
        status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
        stderr: String(decoding: errorData.value ?? Data(), as: UTF8.self))
}

final class UncheckedData: @unchecked Sendable {
    var value: Data?
}

/// A fresh temporary folder for one test.
public func temporaryFolder(_ name: String = #function) -> String {
    let folder =
        NSTemporaryDirectory() + "lab-tests-\(getpid())-\(name.filter(\.isLetter))-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder
}
