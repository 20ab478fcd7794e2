import Foundation
import Glibc
@testable import Server
import XCTest

/// maxclients against RLIMIT_NOFILE, as Redis: the limit is raised where the OS allows, else
/// maxclients is lowered and logged; clients beyond it get Redis's error; and running out of
/// descriptors never makes the listener spin.
final class FileLimitTests: XCTestCase {
    func requirePrlimit() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit") else {
            throw XCTSkip("prlimit (util-linux) is not installed")
        }
    }

    /// CPU ticks (utime + stime) the process has used.
    func cpuTicks(_ pid: Int32) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return -1 }
        // Fields after "pid (comm)": state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let u = Int(fields[11]), let s = Int(fields[12]) else { return -1 }
        return u + s
    }

    /// Fails unless the process stays (nearly) idle for a second.
    func assertIdle(_ server: ServerProcess, file: StaticString = #filePath, line: UInt = #line) {
        let pid = server.process.processIdentifier
        let before = cpuTicks(pid)
        sleep(1)
        let used = cpuTicks(pid) - before
        // The cron runs 10 times a second and costs well under a tick; spinning costs ~100.
        XCTAssertLessThan(used, 10, "CPU ticks used in an idle second", file: file, line: line)
    }

    func testMaxclientsIsLoweredToTheFileLimit() throws {
        try requirePrlimit()
        let server = try ServerProcess(["--maxclients", "10000", "--event-loops", "2"],
                                       wrapper: ["prlimit", "--nofile=64:64"])
        let log = server.log
        XCTAssertTrue(log.contains("# You requested maxclients of 10000 requiring at least 10032 max file descriptors.\n"), log)
        XCTAssertTrue(log.contains("# Server can't set maximum open files to 10032 because of OS error: Operation not permitted.\n"), log)
        XCTAssertTrue(log.contains("# Current maximum open files is 64. maxclients has been reduced to 32 to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.\n"), log)
        let admin = try server.client()
        assertReply(try admin.command("CONFIG", "GET", "maxclients"), "*2\r\n$10\r\nmaxclients\r\n$2\r\n32\r\n")
        assertReply(try admin.command("CONFIG", "SET", "maxclients", "100"),
                    "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with 32\r\n")
        assertReply(try admin.command("CONFIG", "GET", "maxclients"), "*2\r\n$10\r\nmaxclients\r\n$2\r\n32\r\n")
        assertReply(try admin.command("CONFIG", "SET", "maxclients", "30"), "+OK\r\n")
        assertReply(try admin.command("CONFIG", "SET", "maxclients", "32"), "+OK\r\n")

        // The admin is one of the 32: 31 more get in, the rest get Redis's error.
        var clients: [TestClient] = []
        for _ in 0..<40 { clients.append(try server.client(timeout: 5)) }
        var served = 0, refused = 0
        for c in clients {
            try c.send("PING")
            switch try c.readReplyText() {
            case "+PONG\r\n": served += 1
            case "-ERR max number of clients reached\r\n": refused += 1
            case let other: XCTFail("unexpected reply \(other.debugDescription)")
            }
        }
        XCTAssertEqual(served, 31)
        XCTAssertEqual(refused, 9)
        assertReply(try admin.command("PING"), "+PONG\r\n")
        assertIdle(server)
    }

    func testRunningOutOfDescriptorsRefusesClientsWithoutSpinning() throws {
        try requirePrlimit()
        let server = try ServerProcess(["--maxclients", "1000"], wrapper: ["prlimit", "--nofile=1100:1100"])
        let admin = try server.client()
        assertReply(try admin.command("PING"), "+PONG\r\n")
        // Lower the limit under the running server, far below maxclients: room for three more
        // clients above the descriptors the server keeps for itself (libdispatch traps when it
        // cannot open one, so the process must never reach its limit).
        let pid = server.process.processIdentifier
        let open = (try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")).count
        let lower = Process()
        lower.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        lower.arguments = ["--pid", String(pid), "--nofile=\(open + 16 + 3):\(open + 16 + 3)"]
        try lower.run()
        lower.waitUntilExit()
        XCTAssertEqual(lower.terminationStatus, 0)

        var clients: [TestClient] = []
        for _ in 0..<12 { clients.append(try server.client(timeout: 5)) }
        var served = 0, refused = 0
        for c in clients {
            try c.send("PING")
            switch try c.readReplyText() {
            case "+PONG\r\n": served += 1
            case "-ERR max number of clients reached\r\n": refused += 1
            case let other: XCTFail("unexpected reply \(other.debugDescription)")
            }
        }
        XCTAssertEqual(served + refused, 12)
        XCTAssertGreaterThan(refused, 0, "some clients found no descriptor")
        XCTAssertGreaterThan(served, 0, "the room left was used")
        XCTAssertTrue(server.log.contains("# Accepting client connection: descriptor "), server.log)
        assertReply(try admin.command("PING"), "+PONG\r\n")
        assertIdle(server)
        // Descriptors given back make room again.
        for c in clients { c.close() }
        usleep(200_000)
        let late = try server.client()
        assertReply(try late.command("PING"), "+PONG\r\n")
    }

    func testDecisionFollowsRedis() {
        // Enough already: nothing changes.
        XCTAssertEqual(FileLimits.adjust(maxClients: 100, reserved: 32, current: (1024, 1024)) { _, _ in 0 },
                       FileLimits.Outcome(maxClients: 100))
        // Raised where the hard limit allows it.
        var asked: [(UInt64, UInt64)] = []
        let raised = FileLimits.adjust(maxClients: 10000, reserved: 32, current: (1024, 1_048_576)) { soft, hard in
            asked.append((soft, hard))
            return 0
        }
        XCTAssertEqual(raised.maxClients, 10000)
        XCTAssertEqual(raised.notice, "Increased maximum number of open files to 10032 (it was originally set to 1024).")
        XCTAssertEqual(asked.map { $0.0 }, [10032])
        XCTAssertEqual(asked.map { $0.1 }, [1_048_576], "a higher hard limit is kept")
        // Only up to the hard limit: Redis steps down 16 at a time from what it wanted.
        let capped = FileLimits.adjust(maxClients: 10000, reserved: 32, current: (256, 4000)) { soft, _ in
            soft <= 4000 ? 0 : EPERM
        }
        // 10032 - 377 x 16 = 4000, the first the OS accepts.
        XCTAssertEqual(capped.maxClients, 3968)
        XCTAssertEqual(capped.warnings, [
            "You requested maxclients of 10000 requiring at least 10032 max file descriptors.",
            "Server can't set maximum open files to 10032 because of OS error: Operation not permitted.",
            "Current maximum open files is 4000. maxclients has been reduced to 3968 to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
        ])
        // Too low to run at all.
        XCTAssertNotNil(FileLimits.adjust(maxClients: 10, reserved: 32, current: (20, 20)) { _, _ in EPERM }.fatal)
        // The largest maxclients: Redis's result (the first of 4294967327, 4294967311, ... that
        // the OS accepts) in a few dozen system calls, not 268 million (CONFIG SET used to hang).
        for ceiling: UInt64 in [1_048_576, 1_048_575, 1025, 4_294_967_327, 4_294_967_326] {
            var calls = 0
            let huge = FileLimits.adjust(maxClients: 4_294_967_295, reserved: 32, current: (1024, 1024)) { soft, _ in
                calls += 1
                return soft <= ceiling ? 0 : EPERM
            }
            let wanted: UInt64 = 4_294_967_327
            var redis = wanted // what Redis's linear search settles on
            while redis > 1024 && redis > ceiling { redis -= 16 }
            let fits = redis > 1024 ? Int(redis) - 32 : 1024 - 32
            XCTAssertEqual(huge.maxClients, ceiling >= wanted ? 4_294_967_295 : fits, "ceiling \(ceiling)")
            XCTAssertLessThan(calls, 40, "ceiling \(ceiling)")
        }
        // Nothing can be raised: the old limit stays.
        XCTAssertEqual(FileLimits.adjust(maxClients: 5000, reserved: 32, current: (1024, 1024)) { _, _ in EPERM }.maxClients, 992)
        // Reserve: Redis's 32 up to 8 event loops; more loops and the metrics clients add theirs.
        XCTAssertEqual(FileLimits.reserved(eventLoops: 8, metrics: false), 32)
        XCTAssertEqual(FileLimits.reserved(eventLoops: 64, metrics: false), 32 + 112)
        XCTAssertEqual(FileLimits.reserved(eventLoops: 1, metrics: true), 32 + 66)
    }
}
