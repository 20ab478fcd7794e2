import CTagCacheSys
import RESP

extension UnsafeBufferPointer where Element == UInt8 {
    /// The argument as a Redis integer (string2ll rules), or nil.
    @inline(__always) public var redisInteger: Int? { parseRedisInteger(self) }

    /// The argument as a double (Redis's string2d rules), or nil.
    public var redisDouble: Double? {
        guard let p = baseAddress else { return nil }
        var d: Double = 0
        return p.withMemoryRebound(to: CChar.self, capacity: count) { tc_parse_double($0, count, &d) } == 1 ? d : nil
    }

    /// The argument as a long double (Redis's string2ld rules), or nil.
    public var redisLongDouble: Float80? {
        guard let p = baseAddress else { return nil }
        var d: Float80 = 0
        return p.withMemoryRebound(to: CChar.self, capacity: count) { tc_parse_long_double($0, count, &d) } == 1 ? d : nil
    }

    /// The bytes up to the first NUL: what Redis's strcasecmp sees of an option, so "nx\0junk"
    /// is NX there and here.
    var cString: UnsafeBufferPointer<UInt8> {
        for i in 0..<count where self[i] == 0 { return UnsafeBufferPointer(rebasing: self[0..<i]) }
        return self
    }
}

/// Formats a long double as INCRBYFLOAT replies it (%.17Lg, trailing zeros dropped).
public func formatLongDouble(_ v: Float80) -> [UInt8] {
    var buf = [CChar](repeating: 0, count: 5200)
    let n = Int(tc_format_long_double(&buf, buf.count, v))
    return buf[0..<n].map { UInt8(bitPattern: $0) }
}

extension Array where Element == UInt8 {
    public init(_ s: StaticString) {
        self = Array(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
}
