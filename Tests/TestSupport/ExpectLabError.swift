// Expecting the one error type of the packages, of a given domain (a checkpoint error must not
// pass as a config error).
import LabSupport
import Testing

/// Expects `body` to throw a LabError of `domain`; returns it for checks of its message.
@discardableResult
public func expectLabError<R>(
    _ domain: LabError.Domain, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R
) -> LabError? {
    let error = #expect(throws: LabError.self, sourceLocation: sourceLocation) { _ = try body() }
    #expect(error?.domain == domain, "domain of \(String(describing: error))", sourceLocation: sourceLocation)
    return error
}

/// The same for async work.
@discardableResult
public func expectLabError<R>(
    _ domain: LabError.Domain, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> R
) async -> LabError? {
    let error = await #expect(throws: LabError.self, sourceLocation: sourceLocation) { _ = try await body() }
    #expect(error?.domain == domain, "domain of \(String(describing: error))", sourceLocation: sourceLocation)
    return error
}
