import CTagCacheSys

/// Learns of every error reply a ReplyWriter writes (the server counts them by code).
public protocol ErrorReplyObserver: AnyObject {
    /// `code` is the error's first word, e.g. `ERR` or `WRONGTYPE`; valid during the call only.
    func errorReplied(code: UnsafeRawBufferPointer)
}

/// Encodes replies into a connection's output buffer in RESP2 or RESP3. Types RESP2 lacks are
/// downgraded exactly as Redis does (map -> flat array, set -> array, double -> bulk string,
/// boolean -> integer, null -> $-1 or *-1, verbatim -> bulk).
public final class ReplyWriter {
    public let out: ByteBuffer
    /// 2 or 3, switched by HELLO.
    public var protocolVersion: Int = 2
    /// Number of error replies written (for INFO errorstats).
    public var errorCount = 0
    /// Told the code of every error reply (`ERR`, `WRONGTYPE`...), for INFO errorstats.
    public var errorObserver: ErrorReplyObserver?
    public init(out: ByteBuffer = ByteBuffer()) { self.out = out }

    @inlinable public var resp3: Bool { protocolVersion >= 3 }

    @inline(__always) public func ok() { out.append("+OK\r\n") }
    @inline(__always) public func queued() { out.append("+QUEUED\r\n") }

    @inline(__always) public func simple(_ s: StaticString) {
        out.append(43); out.append(s); out.append("\r\n")
    }

    public func simple(string s: String) {
        out.append(43); out.append(string: s); out.append("\r\n")
    }

    /// An error reply; `message` includes the code prefix (`ERR ...`, `WRONGTYPE ...`).
    public func error(_ message: String) {
        var m = message
        m.withUTF8 { error(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// An error reply of any bytes (a message may quote a client's argument, valid UTF-8 or not).
    /// `counted: false` leaves it out of the error statistics (a script passing on an error a
    /// command inside it already counted), though the command still counts as failed.
    public func error(bytes message: UnsafeRawBufferPointer, counted: Bool = true) {
        errorCount += 1
        out.append(45)
        // Redis replaces newlines in error messages with spaces.
        for b in message { out.append(b == 13 || b == 10 ? 32 : b) }
        out.append("\r\n")
        if counted, let o = errorObserver { report(message, to: o) }
    }

    @inline(__always) public func error(_ message: StaticString) {
        errorCount += 1
        out.append(45); out.append(message); out.append("\r\n")
        if let o = errorObserver {
            report(UnsafeRawBufferPointer(start: message.utf8Start, count: message.utf8CodeUnitCount), to: o)
        }
    }

    /// The code is the message up to its first space, as Redis's afterErrorReply takes it.
    private func report(_ message: UnsafeRawBufferPointer, to o: ErrorReplyObserver) {
        var n = 0
        while n < message.count && message[n] != 32 && message[n] != 13 && message[n] != 10 { n += 1 }
        o.errorReplied(code: UnsafeRawBufferPointer(rebasing: message[0..<n]))
    }

    @inline(__always) public func integer(_ v: Int) {
        out.reserve(24)
        out.append(58)
        out.appendDecimal(v)
        out.append("\r\n")
    }

    @inline(__always) public func bulk(_ b: Bytes) {
        out.reserve(b.count + 24)
        out.append(36)
        out.appendDecimal(b.count)
        out.append("\r\n")
        out.append(b)
        out.append("\r\n")
    }

    @inline(__always) public func bulk(_ p: UnsafeRawPointer, count: Int) {
        out.reserve(count + 24)
        out.append(36)
        out.appendDecimal(count)
        out.append("\r\n")
        out.append(p, count: count)
        out.append("\r\n")
    }

    public func bulk(_ a: [UInt8]) { a.withUnsafeBufferPointer { bulk($0) } }

    public func bulk(string s: String) {
        var s = s
        s.withUTF8 { bulk($0) }
    }

    /// A bulk string with the decimal form of v (e.g. INCRBYFLOAT-style replies use text).
    public func bulkDecimal(_ v: Int) {
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &tmp) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let n = formatDecimal(v, into: p)
            bulk(UnsafeRawPointer(p), count: n)
        }
    }

    /// Null bulk: `$-1` in RESP2, `_` in RESP3.
    @inline(__always) public func null() {
        if resp3 { out.append("_\r\n") } else { out.append("$-1\r\n") }
    }

    /// Null array: `*-1` in RESP2, `_` in RESP3.
    @inline(__always) public func nullArray() {
        if resp3 { out.append("_\r\n") } else { out.append("*-1\r\n") }
    }

    @inline(__always) public func array(_ n: Int) { header(42, n) }

    /// A map of n pairs (RESP2: array of 2n).
    @inline(__always) public func map(_ n: Int) {
        if resp3 { header(37, n) } else { header(42, n * 2) }
    }

    /// A set of n members (RESP2: array).
    @inline(__always) public func set(_ n: Int) { header(resp3 ? 126 : 42, n) }

    /// An aggregate's header: `<type><n>\r\n`.
    @inline(__always) func header(_ type: UInt8, _ n: Int) {
        out.reserve(24)
        out.append(type)
        out.appendDecimal(n)
        out.append("\r\n")
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    public func boolean(_ v: Bool) {
        if resp3 { out.append(v ? "#t\r\n" : "#f\r\n") } else { integer(v ? 1 : 0) }
    }

    /// A double as Redis 7 formats it ("%.17g"; inf/-inf): RESP3 `,`, RESP2 bulk string.
    public func double(_ v: Double) {
        var buf = [CChar](repeating: 0, count: 64)
        let n = Int(tc_format_double(&buf, 64, v))
        buf.withUnsafeBufferPointer { b in
            let raw = UnsafeRawPointer(b.baseAddress!)
            if resp3 {
                out.append(44)
                out.append(raw, count: n)
                out.append("\r\n")
            } else {
                bulk(raw, count: n)
            }
        }
    }

    /// Verbatim text (INFO, CLIENT LIST/INFO): `=len\r\ntxt:...` in RESP3, bulk in RESP2.
    public func verbatim(_ text: String) {
        var s = text
        s.withUTF8 { u in
            if resp3 {
                header(61, u.count + 4)
                out.append("txt:")
                out.append(u)
                out.append("\r\n")
            } else {
                bulk(u)
            }
        }
    }

}
