import RESP
import Store

/// The arguments and the reply of the SCAN family (SCAN, HSCAN, SSCAN, TAG.SCAN), read and
/// written once, as Redis's parseScanCursorOrReply and scanGenericCommand do.
extension ScanOptions {
    /// Options a command takes besides COUNT and MATCH.
    struct Extras: OptionSet {
        let rawValue: Int
        /// TYPE (SCAN).
        static let type = Extras(rawValue: 1)
        /// NOVALUES (HSCAN: Redis 7.4's, which TagCache offers; 7.0 has no such option).
        static let noValues = Extras(rawValue: 2)
    }

    /// Parses the options from args[first...]; nil after replying with Redis's error. Options
    /// are compared up to their first NUL (Redis's strcasecmp), COUNT is a Redis integer of at
    /// least 1 (else `syntax error`), and a later option overrides an earlier one.
    static func parse(_ ctx: CommandContext, _ args: Arguments, from first: Int, accepting extras: Extras = []) -> ScanOptions? {
        var o = ScanOptions()
        var i = first
        while i < args.count {
            let more = args.count - i
            let option = args[i].cString
            if option.equalsIgnoringCase("count") && more >= 2 {
                guard let c = args[i + 1].redisInteger else {
                    ctx.notInteger()
                    return nil
                }
                if c < 1 {
                    ctx.syntaxError()
                    return nil
                }
                o.count = c
                i += 2
            } else if option.equalsIgnoringCase("match") && more >= 2 {
                let p = args[i + 1]
                o.pattern = p.count == 1 && p[0] == 42 ? nil : p
                i += 2
            } else if extras.contains(.type) && option.equalsIgnoringCase("type") && more >= 2 {
                o.typeName = args[i + 1].cString
                i += 2
            } else if extras.contains(.noValues) && option.equalsIgnoringCase("novalues") {
                o.noValues = true
                i += 1
            } else {
                ctx.syntaxError()
                return nil
            }
        }
        return o
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// The argument as a SCAN cursor, as Redis's strtoul-based parser accepts it: the text up to
    /// the first NUL, an optional sign (a negative value wraps), decimal digits; "" is cursor 0.
    /// nil for anything else (`invalid cursor`).
    var scanCursor: UInt64? {
        let b = cString
        let n = b.count
        if n == 0 { return 0 }
        let first = b[0]
        if first == 32 || (first >= 9 && first <= 13) { return nil }
        var i = 0
        var negative = false
        if first == 43 || first == 45 {
            negative = first == 45
            i = 1
        }
        if i == n { return nil }
        guard let v = parseDecimalDigits(b, from: i) else { return nil }
        return negative ? 0 &- v : v
    }
}

extension CommandContext {
    /// The cursor argument of a SCAN-family command; nil after replying `invalid cursor`.
    func scanCursor(_ arg: Bytes) -> UInt64? {
        if let c = arg.scanCursor { return c }
        reply.error("ERR invalid cursor")
        return nil
    }

    /// The reply of a SCAN-family call: [next cursor, [elements]].
    func replyScan(next cursor: UInt64, _ elements: BulkList) {
        reply.array(2)
        // A cursor is any UInt64, beyond the Int that bulkDecimal takes.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var v = cursor
            var at = digits.count
            repeat {
                at -= 1
                digits[at] = UInt8(48 + v % 10)
                v /= 10
            } while v > 0
            reply.bulk(Bytes(rebasing: digits[at...]))
        }
        elements.reply(reply)
    }

    /// HSCAN, SSCAN (and ZSCAN) key cursor [MATCH pattern] [COUNT n] (+ `extras`): the cursor is
    /// checked first, then the key (a missing one answers an empty scan before the options are
    /// read, a wrong type WRONGTYPE), then the options, in Redis's order.
    func scanAggregate<T: ScannableValue>(_ args: Arguments, _ kind: ValueKind, as type: T.Type,
                                          accepting extras: ScanOptions.Extras = []) {
        guard let cursor = scanCursor(args[2]) else { return }
        withKey(args[1]) { k in
            guard let (_, found) = openAggregate(k, kind, as: T.self, read: true) else { return }
            guard let value = found else {
                replyScan(next: 0, BulkList())
                return
            }
            guard let o = ScanOptions.parse(self, args, from: 3, accepting: extras) else { return }
            var elements = BulkList()
            let next = value.scan(from: cursor, o) { m, v in
                elements.append(m)
                if let v, !o.noValues { elements.append(v) }
            }
            replyScan(next: next, elements)
        }
    }
}

/// Elements gathered for a reply while a shard lock is held (KEYS, the SCAN family, TAG.KEYS):
/// one flat byte buffer and the end offset of each element, so gathering costs no allocation
/// per element.
struct BulkList {
    var bytes: [UInt8] = []
    var ends: [Int] = []

    mutating func append(_ element: Bytes) {
        bytes.append(contentsOf: element)
        ends.append(bytes.count)
    }

    /// Writes the elements as an array of bulk strings.
    func reply(_ reply: ReplyWriter) {
        reply.array(ends.count)
        bytes.withUnsafeBufferPointer { all in
            var start = 0
            for end in ends {
                reply.bulk(Bytes(rebasing: all[start..<end]))
                start = end
            }
        }
    }
}
