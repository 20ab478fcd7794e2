import Foundation
import XCTest

/// BLPOP and friends: a blocked client holds no thread, wakes in arrival order, times out on
/// time, and is released by a disconnect or CLIENT KILL.
final class BlockingTests: XCTestCase {
    var server: TestServer!

    override func setUpWithError() throws { server = try TestServer() }
    override func tearDown() { _ = server.stop() }

    func blockedClients(_ c: TestClient) throws -> Int {
        let info = try c.command("INFO", "clients")
        let line = info.split(separator: "\r\n").first { $0.hasPrefix("blocked_clients:") } ?? ""
        return Int(line.split(separator: ":").last ?? "") ?? -1
    }

    /// Waits (bounded) until the server reports n blocked clients.
    func waitForBlocked(_ c: TestClient, _ n: Int) throws {
        for _ in 0..<500 {
            if try blockedClients(c) == n { return }
            usleep(2000)
        }
        XCTFail("blocked_clients never reached \(n)")
    }

    func testWaitersWakeInArrivalOrder() throws {
        let first = try server.client(), second = try server.client(), pusher = try server.client()
        try first.send("BLPOP", "q", "0")
        try waitForBlocked(pusher, 1)
        try second.send("BLPOP", "q", "0")
        try waitForBlocked(pusher, 2)
        assertReply(try pusher.command("RPUSH", "q", "a", "b"), ":2\r\n")
        assertReply(try first.readReplyText(), "*2\r\n$1\r\nq\r\n$1\r\na\r\n")
        assertReply(try second.readReplyText(), "*2\r\n$1\r\nq\r\n$1\r\nb\r\n")
        assertReply(try pusher.command("EXISTS", "q"), ":0\r\n")
        XCTAssertEqual(try blockedClients(pusher), 0)
    }

    func testTimeoutAnswersNullAfterTheWait() throws {
        let c = try server.client()
        let t0 = Date()
        assertReply(try c.command("BLPOP", "none", "0.2"), "*-1\r\n")
        let waited = Date().timeIntervalSince(t0)
        XCTAssertGreaterThanOrEqual(waited, 0.19)
        XCTAssertLessThan(waited, 2.0)
        assertReply(try c.command("HELLO", "3").isEmpty ? "" : "ok", "ok")
        assertReply(try c.command("BRPOP", "none", "0.05"), "_\r\n")
    }

    func testRequestsQueuedBehindABlockedOneRunAfterIt() throws {
        let c = try server.client(), pusher = try server.client()
        try c.send(raw: TestClient.encode(["BLPOP", "q", "0"]) + TestClient.encode(["PING"]))
        try waitForBlocked(pusher, 1)
        XCTAssertTrue(try c.isQuiet(for: 0.05))
        _ = try pusher.command("LPUSH", "q", "x")
        assertReply(try c.readReplyText(), "*2\r\n$1\r\nq\r\n$1\r\nx\r\n")
        assertReply(try c.readReplyText(), "+PONG\r\n")
    }

    func testDisconnectAndClientKillReleaseTheWait() throws {
        let a = try server.client(), b = try server.client(), admin = try server.client()
        try a.send("BLPOP", "q", "0")
        try b.send("BLPOP", "q", "0")
        try waitForBlocked(admin, 2)
        a.close()
        try waitForBlocked(admin, 1)
        // Drop the bulk header ("\r\n" is one Character in Swift, so split it off first).
        let list = String(try admin.command("CLIENT", "LIST").split(separator: "\r\n", maxSplits: 1).last ?? "")
        let bid = list.split(separator: "\n").first { $0.contains("cmd=blpop") }.flatMap {
            $0.split(separator: " ").first { $0.hasPrefix("id=") }?.dropFirst(3)
        }
        XCTAssertNotNil(bid)
        assertReply(try admin.command("CLIENT", "KILL", "ID", String(bid ?? "")), ":1\r\n")
        try waitForBlocked(admin, 0)
        // Nobody is left to take the element.
        _ = try admin.command("RPUSH", "q", "z")
        assertReply(try admin.command("LRANGE", "q", "0", "-1"), "*1\r\n$1\r\nz\r\n")
    }

    func testPushInsideMultiServesWaiterAfterExec() throws {
        let waiter = try server.client(), tx = try server.client()
        try waiter.send("BLPOP", "q", "0")
        try waitForBlocked(tx, 1)
        _ = try tx.command("MULTI")
        _ = try tx.command("RPUSH", "q", "v")
        _ = try tx.command("LLEN", "q")
        assertReply(try tx.command("EXEC"), "*2\r\n:1\r\n:1\r\n")
        assertReply(try waiter.readReplyText(), "*2\r\n$1\r\nq\r\n$1\r\nv\r\n")
    }

    func testBlockingPopInsideMultiDoesNotBlock() throws {
        let c = try server.client()
        _ = try c.command("MULTI")
        _ = try c.command("BLPOP", "q", "0")
        _ = try c.command("BLMOVE", "q", "d", "LEFT", "LEFT", "0")
        assertReply(try c.command("EXEC"), "*2\r\n*-1\r\n$-1\r\n")
    }

    func testBlmoveWakesAndMovesAcrossShards() throws {
        let waiter = try server.client(), pusher = try server.client()
        try waiter.send("BLMOVE", "src", "dst", "RIGHT", "LEFT", "5")
        try waitForBlocked(pusher, 1)
        _ = try pusher.command("RPUSH", "src", "1", "2")
        assertReply(try waiter.readReplyText(), "$1\r\n2\r\n")
        assertReply(try pusher.command("LRANGE", "dst", "0", "-1"), "*1\r\n$1\r\n2\r\n")
        assertReply(try pusher.command("LRANGE", "src", "0", "-1"), "*1\r\n$1\r\n1\r\n")
    }
}
