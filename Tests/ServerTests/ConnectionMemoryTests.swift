import Foundation
import Glibc
import XCTest

/// What a connection may make the server hold: no memory for bytes a client only announced.
final class ConnectionMemoryTests: XCTestCase {
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
