import Dispatch
import Glibc
import TagCache
import XCTest

/// A TagCache started in-process on an ephemeral port for one test; `stop()` ends it.
final class TestServer {
    let server: TagCacheServer
    let port: Int

    /// Starts a server with `port 0` and the given directives (name -> value).
    init(_ directives: [String: String] = [:]) throws {
        // A test client writing to a socket the server closed must get EPIPE, not a signal.
        signal(SIGPIPE, SIG_IGN)
        let config = Config()
        // Two event loops unless a test asks otherwise: the cross-loop paths (wake-ups of
        // blocked clients, EXEC under load, CLIENT KILL) run whatever the machine's default.
        var settings = ["port": "0", "bind": "127.0.0.1", "loglevel": "nothing", "event-loops": "2"]
        settings.merge(directives) { _, given in given }
        for (name, value) in settings {
            if case let .failure(error) = config.set(name, value, atStartup: true) {
                throw TestClientError.setup("config \(name) \(value): \(error)")
            }
        }
        server = TagCacheServer(config: config)
        port = try server.start()
    }

    /// A new connection to this server.
    func client(timeout: Double = 10) throws -> TestClient {
        try TestClient(port: port, timeout: timeout)
    }

    /// Stops the server (no SHUTDOWN command); false if it did not stop within `timeout` seconds.
    @discardableResult
    func stop(timeout: Double = 10) -> Bool {
        server.stop()
        let done = DispatchSemaphore(value: 0)
        let s = server
        DispatchQueue.global().async {
            s.waitUntilStopped()
            done.signal()
        }
        return done.wait(timeout: .now() + timeout) == .success
    }
}

enum TestClientError: Error, CustomStringConvertible {
    case setup(String)
    case connect(String)
    case timeout(String)
    case closed(String)
    case malformed(String)

    var description: String {
        switch self {
        case let .setup(m): return "setup failed: \(m)"
        case let .connect(m): return "connect failed: \(m)"
        case let .timeout(m): return "timed out: \(m)"
        case let .closed(m): return "connection closed by the server: \(m)"
        case let .malformed(m): return "malformed reply: \(m)"
        }
    }
}

/// A blocking TCP client for server tests: sends commands as RESP multibulk (or any raw
/// bytes) and reads exactly one complete RESP2/RESP3 reply at a time, as raw bytes. Every
/// read has a deadline, so a server that never answers fails the test instead of hanging it.
final class TestClient {
    private(set) var fd: Int32
    /// Seconds a read may wait for the rest of a reply.
    var timeout: Double
    /// Bytes read but not yet returned as a reply.
    private var pending: [UInt8] = []

    init(port: Int, host: String = "127.0.0.1", timeout: Double = 10) throws {
        self.timeout = timeout
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if fd < 0 { throw TestClientError.connect("socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            let why = String(cString: strerror(errno))
            Glibc.close(fd)
            fd = -1
            throw TestClientError.connect("\(host):\(port): \(why)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close() }

    func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    // MARK: Sending

    /// Encodes a command as a RESP multibulk request.
    static func encode(_ args: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(args.count)\r\n".utf8)
        for a in args {
            out += Array("$\(a.count)\r\n".utf8)
            out += a
            out += [13, 10]
        }
        return out
    }

    static func encode(_ args: [String]) -> [UInt8] { encode(args.map { Array($0.utf8) }) }

    /// Writes all of `bytes` (in as many send calls as the socket needs).
    func send(raw bytes: [UInt8]) throws {
        var sent = 0
        let deadline = TestClient.now() + timeout
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                Glibc.send(fd, buf.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                sent += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if TestClient.now() > deadline { throw TestClientError.timeout("sending") }
                continue
            }
            throw TestClientError.closed("send: \(String(cString: strerror(errno)))")
        }
    }

    func send(raw text: String) throws { try send(raw: Array(text.utf8)) }

    /// Sends one command as RESP multibulk without reading its reply.
    func send(_ args: String...) throws { try send(raw: TestClient.encode(args)) }

    func send(args: [[UInt8]]) throws { try send(raw: TestClient.encode(args)) }

    // MARK: Commands

    /// Sends a command and returns its reply's raw bytes.
    func commandBytes(_ args: [[UInt8]]) throws -> [UInt8] {
        try send(args: args)
        return try readReply()
    }

    /// Sends a command and returns its reply as text, e.g. "+PONG\r\n" or "$1\r\nv\r\n".
    @discardableResult
    func command(_ args: String...) throws -> String {
        try send(raw: TestClient.encode(args))
        return TestClient.text(try readReply())
    }

    /// The reply's bytes as text (invalid UTF-8 shows as U+FFFD).
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: Reading

    /// Reads exactly one complete reply (any RESP2/RESP3 type) and returns its raw bytes.
    func readReply() throws -> [UInt8] {
        let deadline = TestClient.now() + timeout
        while true {
            if let end = try TestClient.replyLength(pending, from: 0) {
                let reply = Array(pending[0..<end])
                pending.removeFirst(end)
                return reply
            }
            let n = try readSome(until: deadline)
            if n == 0 {
                throw TestClientError.closed("after \(pending.count) bytes of an incomplete reply: \(TestClient.text(pending).debugDescription)")
            }
        }
    }

    func readReplyText() throws -> String { TestClient.text(try readReply()) }

    /// True when nothing arrives within `seconds` (the connection stays open and quiet).
    func isQuiet(for seconds: Double) throws -> Bool {
        if !pending.isEmpty { return false }
        let n = try readSome(until: TestClient.now() + seconds, timeoutIsError: false)
        return n < 0
    }

    /// Waits for the server to close the connection; returns what arrived before EOF, or nil
    /// if the connection is still open after `seconds`.
    func readUntilClosed(within seconds: Double = 5) throws -> [UInt8]? {
        let deadline = TestClient.now() + seconds
        while true {
            let n = try readSome(until: deadline, timeoutIsError: false)
            if n == 0 {
                let rest = pending
                pending.removeAll()
                return rest
            }
            if n < 0 { return nil }
        }
    }

    /// One read into `pending`: bytes read, 0 at EOF, -1 on timeout (if not an error).
    private func readSome(until deadline: Double, timeoutIsError: Bool = true) throws -> Int {
        while true {
            let left = deadline - TestClient.now()
            if left <= 0 {
                if timeoutIsError {
                    throw TestClientError.timeout("no complete reply within \(timeout)s; have \(pending.count) bytes: \(TestClient.text(Array(pending.prefix(200))).debugDescription)")
                }
                return -1
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(max(1, min(left * 1000, 1000))))
            if ready < 0 {
                if errno == EINTR { continue }
                throw TestClientError.closed("poll: \(String(cString: strerror(errno)))")
            }
            if ready == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let n = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                pending += chunk[0..<n]
                return n
            }
            if n == 0 { return 0 }
            if errno == EINTR || errno == EAGAIN { continue }
            if errno == ECONNRESET { return 0 }
            throw TestClientError.closed("recv: \(String(cString: strerror(errno)))")
        }
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    // MARK: Framing

    /// The length of the complete reply starting at `start` in `b`, nil if more bytes are needed.
    /// Knows RESP2 (+ - : $ *) and RESP3 (_ , # ( = ! % ~ > |); an attribute (|) is returned
    /// together with the reply it annotates.
    static func replyLength(_ b: [UInt8], from start: Int) throws -> Int? {
        guard start < b.count else { return nil }
        guard let lineEnd = findCRLF(b, from: start + 1) else { return nil }
        let header = String(decoding: b[(start + 1)..<lineEnd], as: UTF8.self)
        let afterLine = lineEnd + 2
        func count() throws -> Int {
            guard let n = Int(header), n >= -1 else {
                throw TestClientError.malformed("bad length \(header.debugDescription) after \(UnicodeScalar(b[start]))")
            }
            return n
        }
        switch b[start] {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "_"),
             UInt8(ascii: ","), UInt8(ascii: "#"), UInt8(ascii: "("):
            return afterLine
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            let n = try count()
            if n < 0 { return afterLine }
            let end = afterLine + n + 2
            if b.count < end { return nil }
            guard b[end - 2] == 13, b[end - 1] == 10 else {
                throw TestClientError.malformed("bulk of \(n) bytes not followed by CRLF")
            }
            return end
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"),
             UInt8(ascii: "%"), UInt8(ascii: "|"):
            let n = try count()
            if n < 0 { return afterLine }
            let isPairs = b[start] == UInt8(ascii: "%") || b[start] == UInt8(ascii: "|")
            var pos = afterLine
            for _ in 0..<(isPairs ? 2 * n : n) {
                guard let next = try replyLength(b, from: pos) else { return nil }
                pos = next
            }
            if b[start] == UInt8(ascii: "|") {
                return try replyLength(b, from: pos)
            }
            return pos
        default:
            throw TestClientError.malformed("unknown type byte \(b[start]) in \(text(Array(b[start..<min(b.count, start + 40)])).debugDescription)")
        }
    }

    private static func findCRLF(_ b: [UInt8], from: Int) -> Int? {
        var i = from
        while i + 1 < b.count {
            if b[i] == 13 && b[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }
}

/// Asserts a reply's text, showing both sides escaped (CR and LF visible) when they differ.
func assertReply(_ actual: @autoclosure () throws -> String, _ expected: String, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    do {
        let got = try actual()
        if got != expected {
            XCTFail("reply \(got.debugDescription) is not \(expected.debugDescription) \(message)", file: file, line: line)
        }
    } catch {
        XCTFail("no reply: \(error) \(message)", file: file, line: line)
    }
}
