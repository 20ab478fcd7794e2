import XCTest

/// DEBUG JUMP moves the server clock: TTLs, expiry and blocked timeouts behave as if the time
/// had passed, so tests need not sleep.
final class TestClockTests: XCTestCase {
    func testJumpExpiresKeysWithoutSleeping() throws {
        let s = try TestServer(["enable-debug-command": "yes"])
        defer { s.stop() }
        let c = try s.client()
        assertReply(try c.command("SET", "session", "v", "EX", "3600"), "+OK\r\n")
        assertReply(try c.command("SET", "forever", "v"), "+OK\r\n")
        assertReply(try c.command("DEBUG", "JUMP", "1800000"), "+OK\r\n")
        assertReply(try c.command("TTL", "session"), ":1800\r\n")
        assertReply(try c.command("DEBUG", "JUMP", "1800001"), "+OK\r\n")
        assertReply(try c.command("GET", "session"), "$-1\r\n")
        assertReply(try c.command("TTL", "session"), ":-2\r\n")
        assertReply(try c.command("GET", "forever"), "$1\r\nv\r\n")
        assertReply(try c.command("DEBUG", "JUMP", "-1"), "-ERR milliseconds must be a non-negative integer\r\n")
    }

    func testJumpLetsActiveExpiryRemoveUnreadKeys() throws {
        let s = try TestServer(["enable-debug-command": "yes", "hz": "100"])
        defer { s.stop() }
        let c = try s.client()
        for i in 0..<1000 { _ = try c.command("SET", "k\(i)", "v", "EX", "60") }
        assertReply(try c.command("DEBUG", "JUMP", "61000"), "+OK\r\n")
        var size = ""
        for _ in 0..<200 {
            size = try c.command("DBSIZE")
            if size == ":0\r\n" { break }
            usleep(10_000)
        }
        assertReply(size, ":0\r\n")
        assertReply(try c.command("INFO", "stats").contains("expired_keys:1000") ? "yes" : "no", "yes")
    }

    func testRefusedWhenDisabled() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        let r = try c.command("DEBUG", "JUMP", "10")
        XCTAssertTrue(r.hasPrefix("-ERR DEBUG command not allowed."), r)
    }
}
