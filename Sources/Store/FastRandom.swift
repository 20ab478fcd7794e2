import CTagCacheSys

/// Random numbers for sampling: random members (SRANDMEMBER, SPOP, HRANDFIELD, RANDOMKEY) and
/// eviction candidates. Swift's system generator makes a getrandom(2) call per number (~0.9 µs
/// measured), which kept `SRANDMEMBER s -9000000` on its event loop for 6 s; this one is a
/// per-thread xoshiro256** (tc_random), a few ns, no lock. Not for secrets.
public struct FastRandom: RandomNumberGenerator {
    public init() {}

    @inline(__always) public mutating func next() -> UInt64 { tc_random() }

    /// A uniform integer of the range (unbiased, as Int.random).
    @inline(__always)
    public static func int(in range: Range<Int>) -> Int {
        var g = FastRandom()
        return Int.random(in: range, using: &g)
    }

    @inline(__always)
    public static func int(in range: ClosedRange<Int>) -> Int {
        var g = FastRandom()
        return Int.random(in: range, using: &g)
    }
}
