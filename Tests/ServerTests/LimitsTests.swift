import Foundation
import Glibc
import XCTest

/// Limits and connection life: every limit is configurable and enforced, and misbehaving or
/// departing clients are cleaned up without affecting others.
final class LimitsTests: XCTestCase {
    func testClientThatDoesNotReadIsPausedNotBuffered() throws {
        let s = try TestServer(["client-output-backpressure": "65536"])
        defer { s.stop() }
        let greedy = try s.client(), other = try s.client()
        _ = try greedy.command("SET", "big", String(repeating: "x", count: 100_000))
        // 2,000 GETs of 100 KB = 200 MB of replies the client never reads.
        let one = TestClient.encode(["GET", "big"])
        var batch: [UInt8] = []
        for _ in 0..<2000 { batch += one }
        let fd = greedy.fd, data = batch
        // The writes block once the server stops reading; closing the socket ends them.
        let sender = Thread {
            var off = 0
            while off < data.count {
                let n = data[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return }
                off += n
            }
        }
        sender.start()
        usleep(300_000)
        // The server keeps serving others and does not hold all 200 MB for the greedy one.
        assertReply(try other.command("PING"), "+PONG\r\n")
        let list = try other.command("CLIENT", "LIST")
        let obl = list.split(separator: " ").filter { $0.hasPrefix("obl=") }.compactMap { Int($0.dropFirst(4)) }.max() ?? 0
        XCTAssertLessThan(obl, 20_000_000, "output buffer grew to \(obl) bytes")
        greedy.close()
    }

    func testQueryBufferLimitClosesTheClient() throws {
        let s = try TestServer(["client-query-buffer-limit": "1mb", "proto-max-bulk-len": "8mb"])
        defer { s.stop() }
        let c = try s.client(), other = try s.client()
        // A bulk announced as 4 MB whose bytes keep coming: over the 1 MB query buffer limit.
        try c.send(raw: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n")
        try? c.send(raw: [UInt8](repeating: 97, count: 2_000_000))
        XCTAssertNotNil(try c.readUntilClosed(within: 5))
        assertReply(try other.command("PING"), "+PONG\r\n")
    }

    func testProtoMaxBulkLenIsEnforcedAndConfigurable() throws {
        let s = try TestServer(["proto-max-bulk-len": "1mb"])
        defer { s.stop() }
        let c = try s.client()
        try c.send(raw: "*2\r\n$4\r\nECHO\r\n$2000000\r\n")
        assertReply(try c.readReplyText(), "-ERR Protocol error: invalid bulk length\r\n")
        XCTAssertNotNil(try c.readUntilClosed(within: 5))
        let d = try s.client()
        assertReply(try d.command("CONFIG", "SET", "proto-max-bulk-len", "4mb"), "+OK\r\n")
        let e = try s.client()
        let big = String(repeating: "y", count: 2_000_000)
        XCTAssertEqual(try e.command("ECHO", big).utf8.count, 2_000_000 + 12)  // "$2000000\r\n" + data + "\r\n"
    }

    func testMaxclientsRejectsWithRedisError() throws {
        let s = try TestServer(["maxclients": "2"])
        defer { s.stop() }
        let a = try s.client(), b = try s.client()
        assertReply(try a.command("PING"), "+PONG\r\n")
        assertReply(try b.command("PING"), "+PONG\r\n")
        let c = try s.client()
        assertReply(try c.readReplyText(), "-ERR max number of clients reached\r\n")
    }

    func testIdleTimeoutClosesIdleClients() throws {
        let s = try TestServer(["timeout": "1", "hz": "50"])
        defer { s.stop() }
        let idle = try s.client()
        assertReply(try idle.command("PING"), "+PONG\r\n")
        XCTAssertNotNil(try idle.readUntilClosed(within: 4))
    }

    func testHalfClosedClientStillGetsItsReplies() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        try c.send(raw: "SET hc 1\r\nGET hc\r\n")
        shutdown(c.fd, Int32(SHUT_WR))
        let rest = try c.readUntilClosed(within: 5) ?? []
        XCTAssertEqual(TestClient.text(rest), "+OK\r\n$1\r\n1\r\n")
        let other = try s.client()
        assertReply(try other.command("GET", "hc"), "$1\r\n1\r\n")
    }

    func testActiveExpiryEmptiesKeysNobodyReads() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        var batch: [UInt8] = []
        for i in 0..<5000 { batch += TestClient.encode(["SET", "e\(i)", "v", "PX", "100"]) }
        try c.send(raw: batch)
        for _ in 0..<5000 { _ = try c.readReply() }
        let t0 = Date()
        var size = -1
        while Date().timeIntervalSince(t0) < 3 {
            size = Int(try c.command("DBSIZE").dropFirst().dropLast(1)) ?? -1  // "\r\n" is one Character
            if size == 0 { break }
            usleep(20_000)
        }
        XCTAssertEqual(size, 0)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1.5, "active expiry took too long")
    }
}
