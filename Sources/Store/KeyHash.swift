/// A fast 64-bit hash of key bytes, seeded per process so clients cannot aim collisions.
/// The low 32 bits choose a key's slot inside its shard's table; the high bits choose the shard.
public enum KeyHash {
    nonisolated(unsafe) public static var seed: UInt64 = {
        var s = UInt64(truncatingIfNeeded: Int(bitPattern: UInt(UInt64.random(in: 0...UInt64.max))))
        s |= 1
        return s
    }()

    /// The 32-bit hash a member, tag or tagged key is placed by in its SlotTable (a key's entry
    /// keeps the same low 32 bits of `hash`).
    @inlinable @inline(__always)
    public static func slotHash(_ b: UnsafeBufferPointer<UInt8>) -> UInt32 {
        UInt32(truncatingIfNeeded: hash(UnsafeRawPointer(b.baseAddress), b.count))
    }

    @usableFromInline @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.multipliedFullWidth(by: b)
        return r.high ^ r.low
    }

    /// wyhash-style: reads 8 bytes at a time, folds with 128-bit multiplies.
    @inlinable @inline(__always)
    public static func hash(_ p: UnsafeRawPointer?, _ n: Int) -> UInt64 {
        let k0: UInt64 = 0xa076_1d64_78bd_642f
        let k1: UInt64 = 0xe703_7ed1_a0b4_28db
        let k2: UInt64 = 0x8ebc_6af0_9c88_c6e3
        var h = seed ^ (UInt64(truncatingIfNeeded: n) &* k0)
        guard let p = p, n > 0 else { return finish(h ^ k2, k1) }
        var i = 0
        while i + 16 <= n {
            let a = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let b = p.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
            h = mix(a ^ k1, b ^ h)
            i += 16
        }
        var a: UInt64 = 0
        var b: UInt64 = 0
        let rem = n - i
        if rem >= 8 {
            a = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            b = p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        } else if rem >= 4 {
            a = UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            b = UInt64(p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
        } else if rem > 0 {
            let q = p.assumingMemoryBound(to: UInt8.self)
            a = (UInt64(q[i]) << 16) | (UInt64(q[i + rem / 2]) << 8) | UInt64(q[n - 1])
        }
        h = mix(a ^ k1 ^ h, b ^ k2)
        return finish(h, k0)
    }

    @inlinable @inline(__always)
    static func finish(_ h: UInt64, _ k: UInt64) -> UInt64 {
        let r = (h ^ k).multipliedFullWidth(by: h ^ 0x5899_65cc_7537_4cc3)
        return r.high ^ r.low
    }
}
