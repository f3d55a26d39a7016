// A value handed to parallel work that the compiler cannot prove safe to share: a buffer each
// task writes a disjoint part of, or a pointer read while its owner waits for the tasks.

public struct UncheckedSendable<T>: @unchecked Sendable {
    public var value: T
    @inlinable public init(_ value: T) { self.value = value }
}
