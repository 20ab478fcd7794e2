import Foundation
import XCTest

/// `timeout` as Redis's clientsCronHandleTimeout: idle clients are closed, inside MULTI too,
/// but a client blocked in BLPOP and friends never is, however long it waits.
final class IdleTimeoutTests: XCTestCase {
    func testBlockedClientsStayAndClientsIdleInMultiAreClosed() throws {
        let s = try TestServer(["timeout": "1", "event-loops": "2"])
        defer { s.stop() }
        let inMulti = try s.client(), blocked = try s.client(), idle = try s.client(), active = try s.client()
        assertReply(try inMulti.command("MULTI"), "+OK\r\n")
        assertReply(try inMulti.command("SET", "a", "b"), "+QUEUED\r\n")
        try blocked.send("BLPOP", "q", "0")
        assertReply(try idle.command("PING"), "+PONG\r\n")
        // Idle for more than one whole second (Redis compares seconds): closed within ~3 s.
        let deadline = Date().addingTimeInterval(3.5)
        while Date() < deadline {
            assertReply(try active.command("PING"), "+PONG\r\n")
            usleep(250_000)
        }
        XCTAssertNotNil(try inMulti.readUntilClosed(within: 1), "idle inside MULTI: closed")
        XCTAssertNotNil(try idle.readUntilClosed(within: 1), "idle: closed")
        XCTAssertTrue(try active.command("INFO", "clients").contains("blocked_clients:1\r\n"), "the blocked client is still there")
        assertReply(try active.command("RPUSH", "q", "x"), ":1\r\n")
        assertReply(try blocked.readReplyText(), "*2\r\n$1\r\nq\r\n$1\r\nx\r\n")
        // Being served counts as an interaction: the client is not closed right after.
        assertReply(try blocked.command("PING"), "+PONG\r\n")
        XCTAssertEqual(try active.command("EXISTS", "a"), ":0\r\n", "the idle transaction never ran")
    }
}
