import Dispatch
import Glibc
import TagCache
import XCTest

/// End-to-end: a real TagCache on an ephemeral port, driven over TCP by TestClient.
final class ServerSmokeTests: XCTestCase {
    func testPingOverRawSocket() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        try c.send(raw: "*1\r\n$4\r\nPING\r\n")
        assertReply(try c.readReplyText(), "+PONG\r\n")
        assertReply(try c.command("PING", "hello"), "$5\r\nhello\r\n")
        assertReply(try c.command("ping"), "+PONG\r\n")
    }

    func testPipelineOf1000CommandsInOneWrite() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        var request: [UInt8] = []
        for i in 0..<250 {
            request += TestClient.encode(["SET", "key:\(i)", "value:\(i)"])
            request += TestClient.encode(["GET", "key:\(i)"])
            request += TestClient.encode(["INCR", "counter"])
            request += TestClient.encode(["PING"])
        }
        try c.send(raw: request)
        var expected: [String] = []
        for i in 0..<250 {
            let value = "value:\(i)"
            expected += ["+OK\r\n", "$\(value.utf8.count)\r\n\(value)\r\n", ":\(i + 1)\r\n", "+PONG\r\n"]
        }
        var got: [String] = []
        for _ in 0..<1000 { got.append(try c.readReplyText()) }
        if let i = (0..<1000).first(where: { got[$0] != expected[$0] }) {
            XCTFail("reply #\(i) is \(got[i].debugDescription), expected \(expected[i].debugDescription)")
        }
        XCTAssertTrue(try c.isQuiet(for: 0.1), "no reply beyond the 1000 expected")
    }

    func testMalformedMultibulkLengthClosesOnlyThatConnection() throws {
        let s = try TestServer()
        defer { s.stop() }
        let bad = try s.client()
        let good = try s.client()
        assertReply(try good.command("SET", "k", "v"), "+OK\r\n")
        try bad.send(raw: "*abc\r\n")
        assertReply(try bad.readReplyText(), "-ERR Protocol error: invalid multibulk length\r\n")
        let rest = try bad.readUntilClosed(within: 5)
        XCTAssertEqual(rest, [], "the server closes the connection after a protocol error")
        assertReply(try good.command("PING"), "+PONG\r\n")
        assertReply(try good.command("GET", "k"), "$1\r\nv\r\n")
        let fresh = try s.client()
        assertReply(try fresh.command("PING"), "+PONG\r\n")
    }

    func testProtocolErrorAfterGoodCommandsInSameWrite() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        // The commands before the bad request are answered, then the error, then EOF.
        try c.send(raw: "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$x\r\n")
        assertReply(try c.readReplyText(), "+PONG\r\n")
        assertReply(try c.readReplyText(), "$2\r\nhi\r\n")
        assertReply(try c.readReplyText(), "-ERR Protocol error: invalid bulk length\r\n")
        XCTAssertEqual(try c.readUntilClosed(within: 5), [])
        let d = try s.client()
        try d.send(raw: "*1\r\nx\r\n")
        assertReply(try d.readReplyText(), "-ERR Protocol error: expected '$', got 'x'\r\n")
        XCTAssertEqual(try d.readUntilClosed(within: 5), [])
    }

    func testInlineCommandsWithQuotes() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        try c.send(raw: "PING\r\n")
        assertReply(try c.readReplyText(), "+PONG\r\n")
        try c.send(raw: "SET greeting \"hello world\"\r\n")
        assertReply(try c.readReplyText(), "+OK\r\n")
        try c.send(raw: "GET greeting\n")
        assertReply(try c.readReplyText(), "$11\r\nhello world\r\n")
        // Escapes inside double quotes; single quotes keep everything but \'.
        try c.send(raw: "SET esc \"a\\tb\\x41\\n\"\r\nGET esc\r\n")
        assertReply(try c.readReplyText(), "+OK\r\n")
        assertReply(try c.readReplyText(), "$5\r\na\tbA\n\r\n")
        try c.send(raw: "SET sq 'it\\'s \"raw\" \\n'\r\nGET sq\r\n")
        assertReply(try c.readReplyText(), "+OK\r\n")
        assertReply(try c.readReplyText(), "$13\r\nit's \"raw\" \\n\r\n")
        // Empty lines are ignored.
        try c.send(raw: "\r\n\r\nPING\r\n")
        assertReply(try c.readReplyText(), "+PONG\r\n")
        try c.send(raw: "SET k \"unbalanced\r\n")
        assertReply(try c.readReplyText(), "-ERR Protocol error: unbalanced quotes in request\r\n")
        XCTAssertEqual(try c.readUntilClosed(within: 5), [])
    }

    func testHalfACommandThenTheRest() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        try c.send(raw: "*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nhello")
        XCTAssertTrue(try c.isQuiet(for: 0.2), "no reply before the request is complete")
        try c.send(raw: "world\r\n")
        assertReply(try c.readReplyText(), "+OK\r\n")
        // Byte by byte, split inside the header, the length and the CRLF.
        for byte in TestClient.encode(["GET", "half"]) {
            try c.send(raw: [byte])
            usleep(1000)
        }
        assertReply(try c.readReplyText(), "$10\r\nhelloworld\r\n")
        // An inline command in two pieces.
        try c.send(raw: "GE")
        XCTAssertTrue(try c.isQuiet(for: 0.1))
        try c.send(raw: "T half\r")
        XCTAssertTrue(try c.isQuiet(for: 0.1))
        try c.send(raw: "\n")
        assertReply(try c.readReplyText(), "$10\r\nhelloworld\r\n")
    }

    func testOneMebibyteValueRoundtrip() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        var value = [UInt8](repeating: 0, count: 1 << 20)
        for i in value.indices { value[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 9) }
        value[0] = 0
        value[1] = 13
        value[2] = 10
        assertReply(TestClient.text(try c.commandBytes([Array("SET".utf8), Array("big".utf8), value])), "+OK\r\n")
        let reply = try c.commandBytes([Array("GET".utf8), Array("big".utf8)])
        let header = Array("$1048576\r\n".utf8)
        XCTAssertEqual(reply.count, header.count + value.count + 2)
        XCTAssertEqual(Array(reply.prefix(header.count)), header)
        XCTAssertTrue(reply[header.count..<(header.count + value.count)].elementsEqual(value), "value bytes differ")
        XCTAssertEqual(Array(reply.suffix(2)), [13, 10])
        assertReply(try c.command("STRLEN", "big"), ":1048576\r\n")
    }

    func testTwoClientsConcurrently() throws {
        let s = try TestServer()
        defer { s.stop() }
        let port = s.port
        let failures = FailureList()
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            do {
                let c = try TestClient(port: port)
                for i in 0..<500 {
                    let r = try c.command("INCR", "shared")
                    if !r.hasPrefix(":") { failures.add("worker \(worker) INCR #\(i): \(r.debugDescription)") }
                    let own = "w\(worker):\(i)"
                    let set = try c.command("SET", own, own)
                    if set != "+OK\r\n" { failures.add("worker \(worker) SET: \(set.debugDescription)") }
                    let get = try c.command("GET", own)
                    if get != "$\(own.utf8.count)\r\n\(own)\r\n" { failures.add("worker \(worker) GET: \(get.debugDescription)") }
                }
            } catch {
                failures.add("worker \(worker): \(error)")
            }
        }
        XCTAssertEqual(failures.all, [])
        let c = try s.client()
        assertReply(try c.command("GET", "shared"), "$4\r\n1000\r\n")
    }

    func testResp3HelloReplyIsAMap() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        let reply = try c.command("HELLO", "3")
        XCTAssertTrue(reply.hasPrefix("%"), "a RESP3 map: \(reply.debugDescription)")
        XCTAssertTrue(reply.contains("$5\r\nproto\r\n:3\r\n"), reply.debugDescription)
        assertReply(try c.command("GET", "missing"), "_\r\n")
        assertReply(try c.command("CONFIG", "GET", "maxmemory"), "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n")
    }

    func testStopWithoutShutdownCommand() throws {
        let s = try TestServer()
        let c = try s.client()
        assertReply(try c.command("PING"), "+PONG\r\n")
        let port = s.port
        XCTAssertTrue(s.stop(timeout: 10), "stop() returns once the server has stopped")
        XCTAssertEqual(try c.readUntilClosed(within: 5), [], "connected clients are closed")
        XCTAssertThrowsError(try TestClient(port: port), "the listener is closed")
        // Stopping twice is harmless, and a new server starts in the same process.
        s.server.stop()
        let again = try TestServer()
        defer { again.stop() }
        assertReply(try again.client().command("PING"), "+PONG\r\n")
    }

    /// The reply framer itself, on every RESP2/RESP3 type, whole and cut short.
    func testReplyFraming() throws {
        let replies = [
            "+OK\r\n", "-ERR x\r\n", ":42\r\n", "$3\r\nabc\r\n", "$-1\r\n", "$0\r\n\r\n", "*-1\r\n",
            "*2\r\n$1\r\na\r\n:1\r\n", "_\r\n", ",1.5\r\n", "#t\r\n", "(123456789012345678901\r\n",
            "=15\r\ntxt:Some string\r\n", "!9\r\nERR fatal\r\n", "%1\r\n+k\r\n*1\r\n:1\r\n", "~2\r\n+a\r\n+b\r\n",
            ">2\r\n+message\r\n$2\r\nhi\r\n", "|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n", "*0\r\n", "%0\r\n",
            "$4\r\na\r\nb\r\n",
        ]
        for r in replies {
            let b = Array(r.utf8)
            XCTAssertEqual(try TestClient.replyLength(b + Array("+NEXT\r\n".utf8), from: 0), b.count, r.debugDescription)
            for cut in 0..<b.count {
                XCTAssertNil(try TestClient.replyLength(Array(b[0..<cut]), from: 0), "\(r.debugDescription) cut at \(cut)")
            }
        }
        XCTAssertThrowsError(try TestClient.replyLength(Array("?x\r\n".utf8), from: 0))
        XCTAssertThrowsError(try TestClient.replyLength(Array("$3\r\nabcd\r\n".utf8), from: 0))
    }
}

/// Failures collected from several threads.
final class FailureList: @unchecked Sendable {
    private var items: [String] = []
    private let lock = NSLock()

    func add(_ s: String) {
        lock.lock()
        items.append(s)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}
