/// Limits the parser enforces, as Redis does (proto-max-bulk-len and friends).
public struct ProtocolLimits: Sendable {
    public var maxBulkLength: Int
    public var maxMultibulkLength: Int
    public var maxInlineLength: Int
    public init(maxBulkLength: Int = 512 * 1024 * 1024, maxMultibulkLength: Int = 1024 * 1024,
                maxInlineLength: Int = 64 * 1024) {
        self.maxBulkLength = maxBulkLength
        self.maxMultibulkLength = maxMultibulkLength
        self.maxInlineLength = maxInlineLength
    }
}

/// What the parser found at the front of the input buffer.
public enum ParseStep {
    /// A complete request; its arguments stay valid until the next call.
    case command(Arguments)
    /// No complete request yet.
    case needMore
    /// A protocol error: reply `-ERR Protocol error: <message>` and close the connection.
    case protocolError(String)
}

/// Incremental RESP request parser for multibulk and inline requests. It keeps the state of a
/// partly received multibulk request so a large request is not re-scanned on every read.
public final class RequestParser {
    public var limits: ProtocolLimits

    /// Before AUTH a client may send at most this many arguments per request, and bulks of at
    /// most `unauthenticatedMaxBulkLength` bytes (Redis's processMultibulkBuffer), so a client
    /// without the password cannot make the server buffer a large request.
    public static let unauthenticatedMaxMultibulkLength = 10
    public static let unauthenticatedMaxBulkLength = 16384

    // Partial multibulk state, offsets relative to the request's first byte (buffer.readIndex).
    private var expected = 0          // arguments announced by '*N'; 0 = not inside a multibulk
    private var cursor = 0            // where parsing resumes
    private var offsets: [(Int, Int)] = []
    /// Where the bulk whose header was read ends, past its CRLF; -1 if none. Saturates at Int.max
    /// (proto-max-bulk-len may be Int.max): such a bulk never arrives whole, and the query buffer
    /// limit ends the client instead of an overflow.
    private var bulkEnd = -1

    /// Argument views handed out with a command; allocated with the first command, given back
    /// by releaseMemory.
    private var spans = UnsafeMutableBufferPointer<Bytes>(start: nil, count: 0)
    private var inline: [UInt8] = []  // unescaped inline arguments, back to back
    private var inlineRanges: [(Int, Int)] = []

    public init(limits: ProtocolLimits = ProtocolLimits()) {
        self.limits = limits
    }

    deinit { spans.deallocate() }

    /// How many more bytes the request being parsed needs before it is complete, when a bulk
    /// header told (0 otherwise). Saturated, never negative.
    public func bytesStillNeeded(_ buffer: ByteBuffer) -> Int {
        bulkEnd < 0 ? 0 : max(0, bulkEnd - buffer.readableCount)
    }

    /// Gives back what earlier requests made the parser keep (argument views, inline copies),
    /// for a connection gone idle. Does nothing in the middle of a request.
    public func releaseMemory() {
        if expected != 0 { return }
        spans.deallocate()
        spans = UnsafeMutableBufferPointer(start: nil, count: 0)
        offsets = []
        inline = []
        inlineRanges = []
    }

    /// Parses the next request at buffer.readIndex, consuming it from the buffer on success.
    /// `authenticated` false applies Redis's limits for clients that still owe a password.
    public func next(_ buffer: ByteBuffer, authenticated: Bool = true) -> ParseStep {
        while true {
            let avail = buffer.readableCount
            if avail == 0 { return .needMore }
            let p = buffer.readPointer
            if expected == 0 {
                if p[0] == UInt8(ascii: "*") {
                    guard let nl = findCR(p, from: 1, to: avail) else {
                        if avail > limits.maxInlineLength { return .protocolError("too big mbulk count string") }
                        return .needMore
                    }
                    if nl + 1 >= avail { return .needMore }
                    guard let n = parseInt(p + 1, nl - 1), n <= Int(Int32.max) else {
                        return .protocolError("invalid multibulk length")
                    }
                    // Redis 7.0 checks only Int32.max before the unauthenticated limit; the
                    // proto-max-multibulk-len check is TagCache's own and comes after it.
                    if !authenticated && n > Self.unauthenticatedMaxMultibulkLength {
                        return .protocolError("unauthenticated multibulk length")
                    }
                    if n > limits.maxMultibulkLength { return .protocolError("invalid multibulk length") }
                    if n <= 0 {
                        buffer.readIndex += nl + 2
                        continue
                    }
                    expected = n
                    cursor = nl + 2
                    offsets.removeAll(keepingCapacity: true)
                    bulkEnd = -1
                } else {
                    return parseInline(buffer, authenticated: authenticated)
                }
            }
            return continueMultibulk(buffer, authenticated: authenticated)
        }
    }

    private func continueMultibulk(_ buffer: ByteBuffer, authenticated: Bool) -> ParseStep {
        let p = buffer.readPointer
        let avail = buffer.readableCount
        while offsets.count < expected {
            if bulkEnd < 0 {
                if cursor >= avail { return .needMore }
                guard let nl = findCR(p, from: cursor, to: avail) else {
                    if avail - cursor > limits.maxInlineLength { return .protocolError("too big bulk count string") }
                    return .needMore
                }
                if nl + 1 >= avail { return .needMore }
                if p[cursor] != UInt8(ascii: "$") {
                    return .protocolError("expected '$', got '\(Character(Unicode.Scalar(p[cursor])))'")
                }
                guard let len = parseInt(p + cursor + 1, nl - cursor - 1), len >= 0, len <= limits.maxBulkLength else {
                    return .protocolError("invalid bulk length")
                }
                if !authenticated && len > Self.unauthenticatedMaxBulkLength {
                    return .protocolError("unauthenticated bulk length")
                }
                cursor = nl + 2
                bulkEnd = saturatingSum(cursor, len, 2)
            }
            // bulkEnd <= avail implies it did not saturate, so the length below is exact.
            if avail < bulkEnd { return .needMore }
            offsets.append((cursor, bulkEnd - 2 - cursor))
            cursor = bulkEnd
            bulkEnd = -1
        }
        // Complete: build the views.
        let n = expected
        ensureSpans(n)
        for i in 0..<n {
            let (o, l) = offsets[i]
            spans[i] = Bytes(start: p + o, count: l)
        }
        buffer.readIndex += cursor
        expected = 0
        cursor = 0
        return .command(Arguments(UnsafeBufferPointer(rebasing: spans[0..<n])))
    }

    private func ensureSpans(_ n: Int) {
        if spans.count >= n { return }
        let capacity = max(n, spans.count * 2, 16)
        spans.deallocate()
        spans = .allocate(capacity: capacity)
    }

    private func parseInline(_ buffer: ByteBuffer, authenticated: Bool) -> ParseStep {
        while true {
            let p = buffer.readPointer
            let avail = buffer.readableCount
            if avail == 0 { return .needMore }
            if p[0] == UInt8(ascii: "*") { return next(buffer, authenticated: authenticated) }
            var nl = -1
            var i = 0
            while i < avail { if p[i] == 10 { nl = i; break }; i += 1 }
            if nl < 0 {
                if avail > limits.maxInlineLength { return .protocolError("too big inline request") }
                return .needMore
            }
            var lineLen = nl
            if lineLen > 0 && p[lineLen - 1] == 13 { lineLen -= 1 }
            guard splitInline(p, lineLen) else { return .protocolError("unbalanced quotes in request") }
            buffer.readIndex += nl + 1
            if inlineRanges.isEmpty { continue }
            let n = inlineRanges.count
            ensureSpans(n)
            inline.withUnsafeBufferPointer { ib in
                for k in 0..<n {
                    let (o, l) = inlineRanges[k]
                    spans[k] = Bytes(start: ib.baseAddress! + o, count: l)
                }
            }
            return .command(Arguments(UnsafeBufferPointer(rebasing: spans[0..<n])))
        }
    }

    /// Splits a line like Redis's sdssplitargs: blanks separate, "..." with \n \r \t \b \a \xHH
    /// escapes, '...' with \' only. A closing quote must be followed by a blank or the end.
    private func splitInline(_ p: UnsafeMutablePointer<UInt8>, _ len: Int) -> Bool {
        inline.removeAll(keepingCapacity: true)
        inlineRanges.removeAll(keepingCapacity: true)
        inline.reserveCapacity(len + 1)
        var i = 0
        @inline(__always) func at(_ k: Int) -> UInt8 { k < len ? p[k] : 0 }
        @inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }
        while true {
            while i < len && isSpace(p[i]) { i += 1 }
            if i >= len || p[i] == 0 { return true }
            let start = inline.count
            var inq = false, insq = false, done = false
            while !done {
                let c = at(i)
                if inq {
                    if c == 92 && at(i + 1) == UInt8(ascii: "x") && isHex(at(i + 2)) && isHex(at(i + 3)) {
                        inline.append(hexValue(at(i + 2)) * 16 + hexValue(at(i + 3)))
                        i += 3
                    } else if c == 92 && at(i + 1) != 0 {
                        i += 1
                        switch at(i) {
                        case UInt8(ascii: "n"): inline.append(10)
                        case UInt8(ascii: "r"): inline.append(13)
                        case UInt8(ascii: "t"): inline.append(9)
                        case UInt8(ascii: "b"): inline.append(8)
                        case UInt8(ascii: "a"): inline.append(7)
                        default: inline.append(at(i))
                        }
                    } else if c == UInt8(ascii: "\"") {
                        if at(i + 1) != 0 && !isSpace(at(i + 1)) { return false }
                        done = true
                    } else if c == 0 {
                        return false
                    } else {
                        inline.append(c)
                    }
                } else if insq {
                    if c == 92 && at(i + 1) == UInt8(ascii: "'") {
                        i += 1
                        inline.append(UInt8(ascii: "'"))
                    } else if c == UInt8(ascii: "'") {
                        if at(i + 1) != 0 && !isSpace(at(i + 1)) { return false }
                        done = true
                    } else if c == 0 {
                        return false
                    } else {
                        inline.append(c)
                    }
                } else {
                    switch c {
                    case 32, 10, 13, 9, 0: done = true
                    case UInt8(ascii: "\""): inq = true
                    case UInt8(ascii: "'"): insq = true
                    default: inline.append(c)
                    }
                }
                if at(i) != 0 { i += 1 }
            }
            inlineRanges.append((start, inline.count - start))
        }
    }
}

@inline(__always) private func isHex(_ c: UInt8) -> Bool {
    (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
}

@inline(__always) private func hexValue(_ c: UInt8) -> UInt8 {
    if c >= 48 && c <= 57 { return c - 48 }
    if c >= 97 && c <= 102 { return c - 87 }
    return c - 55
}

/// a + b + c, or Int.max when that does not fit (all three are non-negative here).
@inline(__always)
private func saturatingSum(_ a: Int, _ b: Int, _ c: Int) -> Int {
    let (ab, o1) = a.addingReportingOverflow(b)
    let (abc, o2) = ab.addingReportingOverflow(c)
    return o1 || o2 ? Int.max : abc
}

@inline(__always)
private func findCR(_ p: UnsafeMutablePointer<UInt8>, from: Int, to: Int) -> Int? {
    guard from < to else { return nil }
    guard let r = memchr(p + from, 13, to - from) else { return nil }
    return UnsafeMutableRawPointer(p).distance(to: r)
}

/// Parses a decimal integer the way Redis's string2ll does (no '+', no leading zeros, no spaces).
@inline(__always)
func parseInt(_ p: UnsafeMutablePointer<UInt8>, _ len: Int) -> Int? {
    parseRedisInteger(Bytes(start: p, count: len))
}

/// Redis's string2ll: optional '-', digits, no leading zeros (except "0"), fits in Int64.
@inlinable
public func parseRedisInteger(_ b: Bytes) -> Int? {
    let n = b.count
    if n == 0 || n > 20 { return nil }
    if n == 1 && b[0] == 48 { return 0 }
    var i = 0
    var negative = false
    if b[0] == 45 {
        negative = true
        i = 1
        if n == 1 { return nil }
    }
    if b[i] < 49 || b[i] > 57 { return nil }
    guard let v = parseDecimalDigits(b, from: i) else { return nil }
    if negative {
        if v > UInt64(Int64.max) + 1 { return nil }
        return v == UInt64(Int64.max) + 1 ? Int.min : -Int(v)
    }
    if v > UInt64(Int64.max) { return nil }
    return Int(v)
}

/// The value of the decimal digits b[start...]; nil when a byte is not a digit or the value
/// does not fit in a UInt64.
@inlinable @inline(__always)
public func parseDecimalDigits(_ b: Bytes, from start: Int) -> UInt64? {
    var v: UInt64 = 0
    var i = start
    while i < b.count {
        let c = b[i]
        if c < 48 || c > 57 { return nil }
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(c - 48))
        if o1 || o2 { return nil }
        v = a
        i += 1
    }
    return v
}

import Glibc

extension RequestParser {
    /// The second argument (for most commands, the key) of the next request in b, when that
    /// request is a multibulk whose first two arguments are already in b; nil otherwise. Reads
    /// nothing past b's bytes and changes nothing: the connection uses it to prefetch the next
    /// command's key while the current one runs (Store/HomeCells.swift).
    @inlinable
    public static func peekSecondArgument(_ b: ByteBuffer) -> Bytes? {
        let n = b.readableCount
        let p = UnsafePointer(b.readPointer)
        var i = 0
        // "*<count>\r\n" then two "$<len>\r\n<bytes>\r\n"; lengths of up to 9 digits.
        @inline(__always) func number(_ lead: UInt8) -> Int? {
            guard i < n, p[i] == lead else { return nil }
            i += 1
            var v = 0, digits = 0
            while i < n, p[i] >= 48, p[i] <= 57, digits < 9 {
                v = v * 10 + Int(p[i] - 48)
                i += 1
                digits += 1
            }
            guard digits > 0, i + 1 < n, p[i] == 13, p[i + 1] == 10 else { return nil }
            i += 2
            return v
        }
        guard let count = number(42), count >= 2, let nameLength = number(36) else { return nil }
        i += nameLength + 2
        guard let keyLength = number(36), i + keyLength <= n else { return nil }
        return Bytes(start: p + i, count: keyLength)
    }
}
