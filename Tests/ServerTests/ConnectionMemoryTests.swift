import Foundation
import Glibc
import XCTest

/// What a connection may make the server hold: nothing large before AUTH, no memory for bytes a
/// client only announced, and nothing at all while it is idle.
final class ConnectionMemoryTests: XCTestCase {
    // MARK: before AUTH (Redis 7.0's processMultibulkBuffer limits)

    func testUnauthenticatedClientCannotSendLargeRequests() throws {
        let server = try ServerProcess(["--requirepass", "secret"])
        let many = try server.client()
        try many.send(raw: "*11\r\n")
        assertReply(try many.readReplyText(), "-ERR Protocol error: unauthenticated multibulk length\r\n")
        XCTAssertNotNil(try many.readUntilClosed(within: 5), "closed after the error")

        let before = server.residentBytes
        let big = try server.client()
        try big.send(raw: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$300000000\r\n")
        // Keep streaming the announced bulk, as the client that grew RSS by 200 MB did; the
        // server has closed by then, so the sends fail part way.
        let chunk = [UInt8](repeating: 120, count: 1 << 20)
        for _ in 0..<64 {
            do { try big.send(raw: chunk) } catch { break }
        }
        assertReply(try big.readReplyText(), "-ERR Protocol error: unauthenticated bulk length\r\n")
        XCTAssertNotNil(try big.readUntilClosed(within: 5), "closed after the error")
        let grown = server.residentBytes - before
        XCTAssertLessThan(grown, 8 << 20, "RSS grew by \(grown) bytes for an unauthenticated client")

        // At the limits nothing is refused (NOAUTH comes from the command, as in Redis).
        let edge = try server.client()
        try edge.send(raw: TestClient.encode(["DEL"] + (0..<9).map { "k\($0)" }))
        assertReply(try edge.readReplyText(), "-NOAUTH Authentication required.\r\n")
        try edge.send(args: [Array("ECHO".utf8), [UInt8](repeating: 121, count: 16384)])
        assertReply(try edge.readReplyText(), "-NOAUTH Authentication required.\r\n")

        // Once authenticated (also within the same write), the limits are gone.
        let authed = try server.client()
        try authed.send(raw: TestClient.encode(["AUTH", "secret"]) + TestClient.encode(["DEL"] + (0..<10).map { "k\($0)" }))
        assertReply(try authed.readReplyText(), "+OK\r\n")
        assertReply(try authed.readReplyText(), ":0\r\n")
        let value = String(repeating: "v", count: 100_000)
        assertReply(try authed.command("SET", "k", value), "+OK\r\n")
        XCTAssertEqual(try authed.command("STRLEN", "k"), ":100000\r\n")
        XCTAssertTrue(server.isRunning)
    }

    func testLimitsFollowTheRequirepassSetting() throws {
        let s = try TestServer()
        defer { s.stop() }
        let eleven = TestClient.encode(["DEL"] + (0..<10).map { "k\($0)" })
        let early = try s.client()
        try early.send(raw: eleven)
        assertReply(try early.readReplyText(), ":0\r\n", "no password: no limit")
        assertReply(try early.command("CONFIG", "SET", "requirepass", "pw"), "+OK\r\n")
        // A client that connected without a password needed counts as authenticated, as in Redis.
        try early.send(raw: eleven)
        assertReply(try early.readReplyText(), ":0\r\n")
        let late = try s.client()
        try late.send(raw: eleven)
        assertReply(try late.readReplyText(), "-ERR Protocol error: unauthenticated multibulk length\r\n")
        XCTAssertNotNil(try late.readUntilClosed(within: 5))
        // A client still unauthenticated when the password goes away is no longer limited.
        let pending = try s.client()
        assertReply(try pending.command("PING"), "-NOAUTH Authentication required.\r\n")
        assertReply(try early.command("CONFIG", "SET", "requirepass", ""), "+OK\r\n")
        try pending.send(raw: eleven)
        assertReply(try pending.readReplyText(), ":0\r\n")
    }

    // MARK: announced lengths

    func testBulkLengthNearIntMaxWaitsForItsBytes() throws {
        let server = try ServerProcess()
        let admin = try server.client()
        assertReply(try admin.command("CONFIG", "SET", "proto-max-bulk-len", "9223372036854775807"), "+OK\r\n")
        for header in ["*1\r\n$9223372036854775807\r\n", "*1\r\n$9223372036854775806\r\n",
                       "*2\r\n$3\r\nGET\r\n$9223372036854775807\r\n", "*1\r\n$9223372036854775805\r\n"] {
            let c = try server.client()
            try c.send(raw: header)
            try c.send(raw: "some of the bulk")
            // Redis 7.0.15 aborts on this (it allocates the announced length); TagCache waits.
            XCTAssertTrue(try c.isQuiet(for: 0.3), header.debugDescription)
            server.assertAlive(header.debugDescription)
            c.close()
        }
        assertReply(try admin.command("PING"), "+PONG\r\n")
    }

    func testAnnouncedBulkIsNotAllocatedBeforeItArrives() throws {
        let s = try TestServer()
        defer { s.stop() }
        let sender = try s.client(), observer = try s.client()
        assertReply(try sender.command("CLIENT", "SETNAME", "sender"), "+OK\r\n")
        try sender.send(raw: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$300000000\r\n")
        try sender.send(raw: [UInt8](repeating: 120, count: 1 << 20))
        var line: [String: Int] = [:]
        let deadline = Date().addingTimeInterval(10)
        repeat {
            line = try clientFields(observer, name: "sender")
            if (line["qbuf"] ?? 0) >= 1 << 20 { break }
            usleep(20_000)
        } while Date() < deadline
        let qbuf = line["qbuf"] ?? 0, free = line["qbuf-free"] ?? 0
        XCTAssertGreaterThanOrEqual(qbuf, 1 << 20, "the megabyte sent arrived")
        // The buffer follows what arrived (at most doubling per read), not the 300 MB announced.
        XCTAssertLessThanOrEqual(qbuf + free, 4 << 20, "query buffer of \(qbuf + free) bytes for \(qbuf) received")
    }

    // MARK: idle connections

    func testIdleConnectionGivesItsBuffersBack() throws {
        let s = try TestServer()
        defer { s.stop() }
        let idle = try s.client(), observer = try s.client()
        assertReply(try idle.command("CLIENT", "SETNAME", "idle"), "+OK\r\n")
        let value = String(repeating: "v", count: 100_000)
        assertReply(try idle.command("SET", "big", value), "+OK\r\n")
        XCTAssertEqual(try idle.command("GET", "big").utf8.count, 100_000 + 11)
        let busy = try clientFields(observer, name: "idle")
        XCTAssertGreaterThan((busy["qbuf-free"] ?? 0) + (busy["rbs"] ?? 0), 0, "buffers in use right after traffic")
        // Redis frees an idle client's query buffer and shrinks its reply buffer in clientsCron;
        // TagCache's loops sweep once a second and free both once a client was quiet for a sweep.
        var fields: [String: Int] = [:]
        let deadline = Date().addingTimeInterval(10)
        repeat {
            usleep(200_000)
            fields = try clientFields(observer, name: "idle")
        } while fields["tot-mem"] != 0 && Date() < deadline
        for (field, expected) in [("qbuf", 0), ("qbuf-free", 0), ("obl", 0), ("oll", 0), ("omem", 0),
                                  ("rbs", 0), ("tot-mem", 0)] {
            XCTAssertEqual(fields[field], expected, "\(field) of an idle client: \(fields)")
        }
        // The connection works as before: buffers come back with the next request.
        XCTAssertEqual(try idle.command("GET", "big").utf8.count, 100_000 + 11)
        assertReply(try idle.command("PING"), "+PONG\r\n")
    }

    /// The numeric fields of the CLIENT LIST line of the client with this name.
    private func clientFields(_ c: TestClient, name: String) throws -> [String: Int] {
        let list = try c.command("CLIENT", "LIST")
        guard let line = list.split(whereSeparator: \.isNewline).first(where: { $0.contains(" name=\(name) ") }) else {
            XCTFail("no client named \(name) in \(list)")
            return [:]
        }
        var fields: [String: Int] = [:]
        for pair in line.split(separator: " ") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2, let v = Int(kv[1]) { fields[String(kv[0])] = v }
        }
        return fields
    }
}
