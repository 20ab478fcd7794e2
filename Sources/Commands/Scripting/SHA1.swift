/// SHA-1 (FIPS 180-4), for script names: EVAL's and SCRIPT LOAD's digests and redis.sha1hex.
enum SHA1 {
    /// The digest of `data` as 40 lower-case hex digits.
    static func hex(_ data: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
        var w = [UInt32](repeating: 0, count: 80)
        var block = [UInt8](repeating: 0, count: 64)
        let n = data.count
        let bitLength = UInt64(n) &* 8
        // Whole blocks, then the tail with the padding and the length (one or two blocks).
        let total = (n + 8) / 64 + 1
        for b in 0..<total {
            let start = b * 64
            for i in 0..<64 {
                let p = start + i
                block[i] = p < n ? data[p] : p == n ? 0x80 : 0
            }
            if b == total - 1 {
                for i in 0..<8 { block[56 + i] = UInt8(truncatingIfNeeded: bitLength >> (56 - 8 * UInt64(i))) }
            }
            for t in 0..<16 {
                w[t] = UInt32(block[4 * t]) << 24 | UInt32(block[4 * t + 1]) << 16 | UInt32(block[4 * t + 2]) << 8 | UInt32(block[4 * t + 3])
            }
            for t in 16..<80 {
                let x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
                w[t] = x << 1 | x >> 31
            }
            var (a, bb, c, d, e) = h
            for t in 0..<80 {
                let f: UInt32
                let k: UInt32
                switch t {
                case 0..<20: f = (bb & c) | (~bb & d); k = 0x5A82_7999
                case 20..<40: f = bb ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (bb & c) | (bb & d) | (c & d); k = 0x8F1B_BCDC
                default: f = bb ^ c ^ d; k = 0xCA62_C1D6
                }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[t]
                e = d
                d = c
                c = bb << 30 | bb >> 2
                bb = a
                a = temp
            }
            h = (h.0 &+ a, h.1 &+ bb, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(40)
        for word in [h.0, h.1, h.2, h.3, h.4] {
            for shift in stride(from: 28, through: 0, by: -4) { out.append(digits[Int(word >> UInt32(shift) & 0xF)]) }
        }
        return out
    }

    static func hex(_ data: [UInt8]) -> [UInt8] { data.withUnsafeBufferPointer { hex($0) } }
}

/// A script's name in the cache: its SHA-1 as 40 lower-case hex digits, held as five words
/// (hashing five words, not forty bytes one by one, on every EVALSHA).
struct ScriptSHA: Hashable {
    let a: UInt64, b: UInt64, c: UInt64, d: UInt64, e: UInt64

    /// The digits given (any case; Redis compares them ignoring case), or nil unless 40 bytes.
    init?(_ hex: UnsafeBufferPointer<UInt8>) {
        guard hex.count == 40 else { return nil }
        func word(_ at: Int) -> UInt64 {
            var w: UInt64 = 0
            for i in 0..<8 {
                var c = hex[at + i]
                if c >= 65 && c <= 90 { c |= 0x20 }
                w = w << 8 | UInt64(c)
            }
            return w
        }
        (a, b, c, d, e) = (word(0), word(8), word(16), word(24), word(32))
    }

    init?(_ hex: [UInt8]) {
        guard let s = hex.withUnsafeBufferPointer({ ScriptSHA($0) }) else { return nil }
        self = s
    }

    /// The 40 digits.
    var hex: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(40)
        for w in [a, b, c, d, e] {
            for i in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt64(i))) }
        }
        return out
    }
}
