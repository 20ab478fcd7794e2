import Foundation
import Glibc
@testable import Server
import XCTest

/// protected-mode as Redis 7.0 enforces it: on (the default) and without a password, only
/// clients connecting from 127.0.0.1 or ::1 are served; others get the DENIED text and are closed.
final class ProtectedModeTests: XCTestCase {
    /// What Redis 7.0.15 sends (captured from redis-server 7.0.15 for a client from 127.0.0.2).
    static let deniedPrefix = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface."

    /// Connects from `source` to `host`:`port`, sends PING and returns everything read until
    /// the server closes (or 5 s pass).
    func exchange(from source: String, to host: String, port: Int) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError.connect("socket") }
        defer { Glibc.close(fd) }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        func address(_ ip: String, _ port: Int) -> sockaddr_in {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, ip, &a.sin_addr)
            return a
        }
        var local = address(source, 0), remote = address(host, port)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw TestClientError.connect("bind \(source): \(String(cString: strerror(errno)))") }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestClientError.connect("connect \(host): \(String(cString: strerror(errno)))") }
        _ = "PING\r\n".withCString { send(fd, $0, 6, Int32(MSG_NOSIGNAL)) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buf[0..<n]
            // A served client is not closed: its PONG (or NOAUTH) is all there is to read.
            if out.last == 10 && !out.starts(with: Array("-DENIED".utf8)) { break }
        }
        return String(decoding: out, as: UTF8.self)
    }

    func rejectedConnections(_ c: TestClient) throws -> Int {
        let info = try c.command("INFO", "stats")
        let line = info.split(separator: "\r\n").first { $0.hasPrefix("rejected_connections:") } ?? ""
        return Int(line.split(separator: ":").last ?? "") ?? -1
    }

    func testDecisionFollowsRedis70() {
        XCTAssertFalse(ProtectedMode.refuses(enabled: true, passwordSet: false, peer: "127.0.0.1"))
        XCTAssertFalse(ProtectedMode.refuses(enabled: true, passwordSet: false, peer: "::1"))
        // Redis 7.0 compares the address text: the rest of 127/8 is not local to it.
        XCTAssertTrue(ProtectedMode.refuses(enabled: true, passwordSet: false, peer: "127.0.0.2"))
        XCTAssertTrue(ProtectedMode.refuses(enabled: true, passwordSet: false, peer: "10.200.0.1"))
        XCTAssertTrue(ProtectedMode.refuses(enabled: true, passwordSet: false, peer: "fd00::2"))
        XCTAssertFalse(ProtectedMode.refuses(enabled: true, passwordSet: true, peer: "10.200.0.1"))
        XCTAssertFalse(ProtectedMode.refuses(enabled: false, passwordSet: false, peer: "10.200.0.1"))
        XCTAssertTrue(ProtectedMode.denied.hasPrefix(ProtectedModeTests.deniedPrefix))
        XCTAssertEqual(ProtectedMode.denied.utf8.count, 1067, "Redis 7.0.15's reply is 1067 bytes")
        XCTAssertTrue(ProtectedMode.denied.hasSuffix("4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"))
    }

    /// 127.0.0.2 is on the loopback interface of every Linux machine, yet not a local client
    /// to Redis 7.0: it needs no setup.
    func testClientFromAnotherLoopbackAddressIsDenied() throws {
        let s = try TestServer()
        defer { s.stop() }
        let local = try s.client()
        let before = try rejectedConnections(local)
        XCTAssertEqual(try exchange(from: "127.0.0.2", to: "127.0.0.1", port: s.port), ProtectedMode.denied)
        XCTAssertEqual(try rejectedConnections(local), before + 1)
        assertReply(try local.command("CONFIG", "SET", "protected-mode", "no"), "+OK\r\n")
        XCTAssertEqual(try exchange(from: "127.0.0.2", to: "127.0.0.1", port: s.port), "+PONG\r\n")
        assertReply(try local.command("CONFIG", "SET", "protected-mode", "yes", "requirepass", "pw"), "+OK\r\n")
        XCTAssertEqual(try exchange(from: "127.0.0.2", to: "127.0.0.1", port: s.port), "-NOAUTH Authentication required.\r\n")
        XCTAssertEqual(try exchange(from: "127.0.0.1", to: "127.0.0.1", port: s.port), "-NOAUTH Authentication required.\r\n")
    }

    /// A client from a non-loopback address, on a server bound as Redis 7 binds by default
    /// (`* -::*`): the address is added to lo for the test, which needs root and iproute2.
    func testClientFromANonLoopbackAddressIsDenied() throws {
        let ip = "10.200.\(getpid() % 250 + 1).\(Int.random(in: 1...250))"
        let why: String?
        if getuid() != 0 {
            why = "needs root to add \(ip)/32 to lo"
        } else if !FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") && !FileManager.default.isExecutableFile(atPath: "/sbin/ip") {
            why = "needs iproute2's ip to add \(ip)/32 to lo"
        } else if run(["addr", "add", "\(ip)/32", "dev", "lo"]) != 0 {
            why = "could not add \(ip)/32 to lo"
        } else {
            why = nil
        }
        if let why {
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail(why) }
            throw XCTSkip(why)
        }
        defer { _ = run(["addr", "del", "\(ip)/32", "dev", "lo"]) }
        let s = try TestServer(["bind": "* -::*"])
        defer { s.stop() }
        XCTAssertEqual(try exchange(from: ip, to: ip, port: s.port), ProtectedMode.denied)
        XCTAssertEqual(try exchange(from: "127.0.0.1", to: "127.0.0.1", port: s.port), "+PONG\r\n")
    }

    /// Runs `ip` with the arguments; its exit status.
    func run(_ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") ? "/usr/sbin/ip" : "/sbin/ip")
        p.arguments = arguments
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
