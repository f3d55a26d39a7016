// Double-precision libm functions under names that do not collide with Tensor's methods
// (inside a Tensor extension, `log` and `exp` mean the tensor ops).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@inline(__always) func logDouble(_ x: Double) -> Double { log(x) }
@inline(__always) func cosDouble(_ x: Double) -> Double { cos(x) }
@inline(__always) func sinDouble(_ x: Double) -> Double { sin(x) }
@inline(__always) func powDouble(_ a: Double, _ b: Double) -> Double { pow(a, b) }
