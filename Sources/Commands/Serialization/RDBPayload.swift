/// Redis's serialization as DUMP and FUNCTION DUMP write it (RDB version 10): length-prefixed
/// strings, LZF-compressed when that saves bytes, and the payload's footer (the RDB version,
/// then a CRC-64 of everything before it), so payloads move between Redis 7.0 and TagCache.
enum RDBPayload {
    static let version: UInt16 = 10
    /// RDB_OPCODE_FUNCTION2 (7.0 GA) and RDB_OPCODE_FUNCTION (7.0 release candidates).
    static let functionOpcode: UInt8 = 245
    static let oldFunctionOpcode: UInt8 = 246

    // MARK: writing

    /// rdbSaveLen: 6-bit, 14-bit, 32-bit or 64-bit big-endian lengths.
    static func appendLength(_ n: Int, to out: inout [UInt8]) {
        if n < 64 {
            out.append(UInt8(n))
        } else if n < 16384 {
            out.append(UInt8(0x40 | (n >> 8)))
            out.append(UInt8(n & 0xFF))
        } else if n <= Int(UInt32.max) {
            out.append(0x80)
            for s in stride(from: 24, through: 0, by: -8) { out.append(UInt8((n >> s) & 0xFF)) }
        } else {
            out.append(0x81)
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8((n >> s) & 0xFF)) }
        }
    }

    /// rdbSaveRawString: as an integer when it is one of at most 11 characters, LZF-compressed
    /// when longer than 20 bytes and compression saves at least 4, else as it is.
    static func appendString(_ s: [UInt8], to out: inout [UInt8], compress: Bool = true) {
        if s.count <= 11, let v = canonicalInteger(s) {
            if v >= -128 && v <= 127 {
                out += [0xC0, UInt8(truncatingIfNeeded: v)]
                return
            }
            if v >= -32768 && v <= 32767 {
                out += [0xC1, UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)]
                return
            }
            if v >= -2_147_483_648 && v <= 2_147_483_647 {
                out += [0xC2] + (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
                return
            }
        }
        if compress && s.count > 20, let z = LZF.compress(s, maxOutput: s.count - 4) {
            out.append(0xC3)
            appendLength(z.count, to: &out)
            appendLength(s.count, to: &out)
            out += z
            return
        }
        appendLength(s.count, to: &out)
        out += s
    }

    /// The string as Redis's string2ll reads it back exactly (no sign on zero, no leading zeros).
    static func canonicalInteger(_ s: [UInt8]) -> Int? {
        guard let v = Int(String(decoding: s, as: UTF8.self)), String(v).utf8.elementsEqual(s) else { return nil }
        return v
    }

    /// The version and CRC-64 that end every payload.
    static func appendFooter(to out: inout [UInt8]) {
        out.append(UInt8(version & 0xFF))
        out.append(UInt8(version >> 8))
        let crc = CRC64.checksum(out)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt64(i)))) }
    }

    // MARK: reading

    /// verifyDumpPayload: the payload's RDB version (at most ours) and its checksum.
    static func verify(_ p: [UInt8]) -> Bool {
        guard p.count >= 10 else { return false }
        let footer = p.count - 10
        let v = UInt16(p[footer]) | UInt16(p[footer + 1]) << 8
        if v > version { return false }
        var crc: UInt64 = 0
        for i in 0..<8 { crc |= UInt64(p[footer + 2 + i]) << (8 * UInt64(i)) }
        return CRC64.checksum(p[0..<(p.count - 8)]) == crc
    }

    /// A length, or the special encoding of the string that follows (`encoded`).
    static func readLength(_ p: [UInt8], _ pos: inout Int) -> (value: Int, encoded: Bool)? {
        guard pos < p.count else { return nil }
        let b = p[pos]
        pos += 1
        switch b >> 6 {
        case 0: return (Int(b & 0x3F), false)
        case 1:
            guard pos < p.count else { return nil }
            defer { pos += 1 }
            return (Int(b & 0x3F) << 8 | Int(p[pos]), false)
        case 2:
            let bytes = b == 0x80 ? 4 : b == 0x81 ? 8 : 0
            guard bytes > 0, pos + bytes <= p.count else { return nil }
            var v: UInt64 = 0
            for i in 0..<bytes { v = v << 8 | UInt64(p[pos + i]) }
            pos += bytes
            guard v <= UInt64(Int.max) else { return nil }
            return (Int(v), false)
        default:
            return (Int(b & 0x3F), true)
        }
    }

    /// rdbGenericLoadStringObject: a plain, integer-encoded or LZF-compressed string.
    static func readString(_ p: [UInt8], _ pos: inout Int) -> [UInt8]? {
        guard let (n, encoded) = readLength(p, &pos) else { return nil }
        if !encoded {
            guard n <= p.count - pos else { return nil }
            defer { pos += n }
            return Array(p[pos..<pos + n])
        }
        switch n {
        case 0, 1, 2:
            let bytes = 1 << n
            guard pos + bytes <= p.count else { return nil }
            var v: UInt64 = 0
            for i in 0..<bytes { v |= UInt64(p[pos + i]) << (8 * UInt64(i)) }
            pos += bytes
            let signed: Int = bytes == 1 ? Int(Int8(truncatingIfNeeded: v)) : bytes == 2 ? Int(Int16(truncatingIfNeeded: v)) : Int(Int32(truncatingIfNeeded: v))
            return Array(String(signed).utf8)
        case 3:
            guard let (clen, _) = readLength(p, &pos), let (len, _) = readLength(p, &pos),
                  clen <= p.count - pos, len <= 512 * 1024 * 1024 else { return nil }
            defer { pos += clen }
            guard let s = LZF.decompress(p[pos..<pos + clen], length: len), s.count == len else { return nil }
            return s
        default:
            return nil
        }
    }
}

/// CRC-64 as Redis computes it (Jones polynomial, reflected, initial value 0).
enum CRC64 {
    static let table: [UInt64] = (0..<256).map { i -> UInt64 in
        var c = UInt64(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x95AC_9329_AC4B_C9B5 : c >> 1 }
        return c
    }

    static func checksum<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var crc: UInt64 = 0
        for b in bytes { crc = table[Int((crc ^ UInt64(b)) & 0xFF)] ^ (crc >> 8) }
        return crc
    }
}

/// LZF (liblzf 3.6, which Redis embeds with HLOG 16 and VERY_FAST): the same compressed bytes
/// as Redis's lzf_compress for the same input, and its decompressor.
enum LZF {
    static let maxLiteral = 1 << 5
    static let maxOffset = 1 << 13
    static let maxReference = (1 << 8) + (1 << 3)

    /// The compressed bytes, or nil when they would not fit in maxOutput (as lzf_compress's 0).
    static func compress(_ input: [UInt8], maxOutput: Int) -> [UInt8]? {
        let inEnd = input.count
        if inEnd < 3 || maxOutput <= 0 { return nil }
        var htab = [Int](repeating: 0, count: 1 << 16)
        var out = [UInt8](repeating: 0, count: maxOutput + 8)
        let outEnd = maxOutput
        @inline(__always) func first(_ p: Int) -> UInt32 { UInt32(input[p]) << 8 | UInt32(input[p + 1]) }
        @inline(__always) func next(_ v: UInt32, _ p: Int) -> UInt32 { v << 8 | UInt32(input[p + 2]) }
        @inline(__always) func slot(_ h: UInt32) -> Int { Int(((h >> 8) &- (h &* 5)) & 0xFFFF) }
        var ip = 0, op = 1, lit = 0
        var hval = first(ip)
        while ip < inEnd - 2 {
            hval = next(hval, ip)
            let s = slot(hval)
            let ref = htab[s]
            htab[s] = ip
            let off = ip - ref - 1
            if ref > 0, off < maxOffset, input[ref + 2] == input[ip + 2], input[ref] == input[ip], input[ref + 1] == input[ip + 1] {
                var len = 2
                let maxlen = min(inEnd - ip - len, maxReference)
                if op + 3 + 1 >= outEnd && op - (lit == 0 ? 1 : 0) + 3 + 1 >= outEnd { return nil }
                out[op - lit - 1] = UInt8(truncatingIfNeeded: lit - 1)
                op -= lit == 0 ? 1 : 0
                var done = false
                if maxlen > 16 {
                    for _ in 0..<16 {
                        len += 1
                        if input[ref + len] != input[ip + len] {
                            done = true
                            break
                        }
                    }
                }
                if !done {
                    repeat { len += 1 } while len < maxlen && input[ref + len] == input[ip + len]
                }
                len -= 2
                ip += 1
                if len < 7 {
                    out[op] = UInt8(truncatingIfNeeded: (off >> 8) + (len << 5))
                    op += 1
                } else {
                    out[op] = UInt8(truncatingIfNeeded: (off >> 8) + (7 << 5))
                    out[op + 1] = UInt8(truncatingIfNeeded: len - 7)
                    op += 2
                }
                out[op] = UInt8(truncatingIfNeeded: off)
                op += 1
                lit = 0
                op += 1
                ip += len + 1
                if ip >= inEnd - 2 { break }
                ip -= 2
                hval = first(ip)
                hval = next(hval, ip)
                htab[slot(hval)] = ip
                ip += 1
                hval = next(hval, ip)
                htab[slot(hval)] = ip
                ip += 1
            } else {
                if op >= outEnd { return nil }
                lit += 1
                out[op] = input[ip]
                op += 1
                ip += 1
                if lit == maxLiteral {
                    out[op - lit - 1] = UInt8(lit - 1)
                    lit = 0
                    op += 1
                }
            }
        }
        if op + 3 > outEnd { return nil }
        while ip < inEnd {
            lit += 1
            out[op] = input[ip]
            op += 1
            ip += 1
            if lit == maxLiteral {
                out[op - lit - 1] = UInt8(lit - 1)
                lit = 0
                op += 1
            }
        }
        out[op - lit - 1] = UInt8(truncatingIfNeeded: lit - 1)
        op -= lit == 0 ? 1 : 0
        return Array(out[0..<op])
    }

    /// lzf_decompress into at most `length` bytes; nil on malformed input.
    static func decompress(_ input: ArraySlice<UInt8>, length: Int) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(length)
        var ip = input.startIndex
        let inEnd = input.endIndex
        while ip < inEnd {
            let ctrl = Int(input[ip])
            ip += 1
            if ctrl < 32 {
                let n = ctrl + 1
                guard out.count + n <= length, ip + n <= inEnd else { return nil }
                out += input[ip..<ip + n]
                ip += n
            } else {
                var len = ctrl >> 5
                var ref = out.count - ((ctrl & 0x1F) << 8) - 1
                guard ip < inEnd else { return nil }
                if len == 7 {
                    len += Int(input[ip])
                    ip += 1
                    guard ip < inEnd else { return nil }
                }
                ref -= Int(input[ip])
                ip += 1
                guard out.count + len + 2 <= length, ref >= 0 else { return nil }
                for _ in 0..<(len + 2) {
                    out.append(out[ref])
                    ref += 1
                }
            }
        }
        return out
    }
}
