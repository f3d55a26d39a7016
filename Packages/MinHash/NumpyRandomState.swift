// numpy's legacy `RandomState` (MT19937, Matsumoto & Nishimura 1998) and its bounded integers,
// reproduced exactly: datasketch draws every permutation parameter from it, so signatures equal
// datasketch's only if these draws do. `randint(low, high)` in the legacy generator uses masked
// rejection: draw, AND with the smallest all-ones mask covering the range, retry while too big;
// ranges that fit 32 bits consume one 32-bit output per try, wider ones two (high word first).

public struct NumpyRandomState {
    var mt = [UInt32](repeating: 0, count: 624)
    var index = 624

    /// `np.random.RandomState(seed)` for an integer seed (MT19937 init_genrand).
    public init(seed: UInt32) {
        mt[0] = seed
        for i in 1..<624 { mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i) }
    }

    mutating func nextUInt32() -> UInt32 {
        if index >= 624 { twist() }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    mutating func twist() {
        for i in 0..<624 {
            let y = (mt[i] & 0x8000_0000) | (mt[(i + 1) % 624] & 0x7FFF_FFFF)
            mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
        }
        index = 0
    }

    mutating func nextUInt64() -> UInt64 {
        let high = UInt64(nextUInt32())
        return high << 32 | UInt64(nextUInt32())
    }

    /// `randint(low, high, dtype=uint32)`: uniform in low..<high (high up to 2^32).
    public mutating func randintUInt32(_ low: UInt64, _ high: UInt64) -> UInt32 {
        let range = high - 1 - low
        if range == 0 { return UInt32(low) }
        if range == 0xFFFF_FFFF { return UInt32(truncatingIfNeeded: low) &+ nextUInt32() }
        let mask = UInt32(Self.mask(range))
        while true {
            let v = nextUInt32() & mask
            if UInt64(v) <= range { return UInt32(low) + v }
        }
    }

    /// `randint(low, high, dtype=uint64)`: uniform in low..<high (high up to 2^64, as a UInt64
    /// holding high - 1 when `inclusiveHigh`).
    public mutating func randintUInt64(_ low: UInt64, inclusiveHigh: UInt64) -> UInt64 {
        let range = inclusiveHigh - low
        if range == 0 { return low }
        if range <= 0xFFFF_FFFF {
            if range == 0xFFFF_FFFF { return low &+ UInt64(nextUInt32()) }
            let mask = Self.mask(range)
            while true {
                let v = UInt64(nextUInt32()) & mask
                if v <= range { return low + v }
            }
        }
        if range == UInt64.max { return low &+ nextUInt64() }
        let mask = Self.mask(range)
        while true {
            let v = nextUInt64() & mask
            if v <= range { return low + v }
        }
    }

    /// The smallest 2^k - 1 that is >= x.
    static func mask(_ x: UInt64) -> UInt64 {
        var m = x
        m |= m >> 1
        m |= m >> 2
        m |= m >> 4
        m |= m >> 8
        m |= m >> 16
        m |= m >> 32
        return m
    }
}
