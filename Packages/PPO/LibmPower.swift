// NumPy's x**2 on a float64 (float32) scalar is libm's pow (powf), which is not always x * x
// rounded: about 1 value in 1,300 differs in the last bit. Gymnasium writes x**2 in Acrobot's
// dynamics and Pendulum's cost, so an exact replay needs pow itself. The optimiser rewrites a
// direct pow(x, 2) into x * x, so these call libm through pointers looked up at run time.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

enum Libm {
    typealias Power = @convention(c) (Double, Double) -> Double
    typealias PowerFloat = @convention(c) (Float, Float) -> Float

    static let pow: Power = unsafeBitCast(dlsym(dlopen(nil, RTLD_NOW), "pow")!, to: Power.self)
    static let powf: PowerFloat = unsafeBitCast(dlsym(dlopen(nil, RTLD_NOW), "powf")!, to: PowerFloat.self)
}

/// x**2 as NumPy computes it on a float64: libm's pow(x, 2).
@inline(__always) func numpySquare(_ x: Double) -> Double { Libm.pow(x, 2) }

/// x**2 as NumPy computes it on a float32: libm's powf(x, 2).
@inline(__always) func numpySquare(_ x: Float) -> Float { Libm.powf(x, 2) }
