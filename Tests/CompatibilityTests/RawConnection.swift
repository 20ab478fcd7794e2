import Foundation
import Glibc

/// A blocking RESP connection that sends raw requests and reads back exactly one complete reply
/// as bytes, with a timeout so a case can never hang the suite.
final class RawConnection {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var pos = 0

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(port: Int, timeoutSeconds: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { throw Failure(description: "connect to \(port) failed: errno \(errno)") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// Encodes arguments as a RESP multibulk request.
    static func encode(_ args: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(args.count)\r\n".utf8)
        for a in args {
            out += Array("$\(a.count)\r\n".utf8)
            out += a
            out += [13, 10]
        }
        return out
    }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw Failure(description: "send failed: errno \(errno)") }
            off += n
        }
    }

    /// Sends one command and returns its complete reply.
    func call(_ args: [[UInt8]]) throws -> [UInt8] {
        try send(RawConnection.encode(args))
        return try readReply()
    }

    private func fill() throws {
        if pos > 0 && pos == buffer.count { buffer.removeAll(keepingCapacity: true); pos = 0 }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { throw Failure(description: "connection closed") }
        if n < 0 { throw Failure(description: "timed out waiting for a reply") }
        buffer += chunk[0..<n]
    }

    private func line() throws -> [UInt8] {
        while true {
            var i = pos
            while i + 1 < buffer.count {
                if buffer[i] == 13 && buffer[i + 1] == 10 {
                    let l = Array(buffer[pos..<i])
                    pos = i + 2
                    return l
                }
                i += 1
            }
            try fill()
        }
    }

    private func exactly(_ n: Int) throws -> [UInt8] {
        while buffer.count - pos < n { try fill() }
        let out = Array(buffer[pos..<(pos + n)])
        pos += n
        return out
    }

    /// Reads one complete RESP2/RESP3 reply and returns its raw bytes.
    func readReply() throws -> [UInt8] {
        let l = try line()
        guard let t = l.first else { throw Failure(description: "empty reply line") }
        var out = l + [13, 10]
        let n = Int(String(decoding: l.dropFirst(), as: UTF8.self)) ?? 0
        switch t {
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            if n >= 0 { out += try exactly(n + 2) }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            if n > 0 { for _ in 0..<n { out += try readReply() } }
        case UInt8(ascii: "%"), UInt8(ascii: "|"):
            if n > 0 { for _ in 0..<(2 * n) { out += try readReply() } }
            if t == UInt8(ascii: "|") { out += try readReply() }
        default:
            break
        }
        return out
    }
}

/// The shape of a reply: types and aggregate sizes, not values (for replies that differ by
/// nature, like TIME or CLIENT ID).
func replyShape(_ reply: [UInt8]) -> String {
    var i = 0
    func lineAt() -> [UInt8] {
        var j = i
        while j + 1 < reply.count && !(reply[j] == 13 && reply[j + 1] == 10) { j += 1 }
        let l = Array(reply[i..<j])
        i = j + 2
        return l
    }
    func one() -> String {
        guard i < reply.count else { return "?" }
        let l = lineAt()
        let t = Character(Unicode.Scalar(l[0]))
        let n = Int(String(decoding: l.dropFirst(), as: UTF8.self)) ?? 0
        switch t {
        case "$", "=", "!":
            if n >= 0 { i += n + 2 }
            return n < 0 ? "$-1" : "\(t)"
        case "*", "~", ">":
            if n < 0 { return "\(t)-1" }
            return "\(t)[" + (0..<n).map { _ in one() }.joined(separator: ",") + "]"
        case "%":
            return "%[" + (0..<(2 * n)).map { _ in one() }.joined(separator: ",") + "]"
        default:
            return String(t)
        }
    }
    return one()
}
