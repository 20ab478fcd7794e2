import Foundation
import Glibc
import XCTest

/// Requests that once killed or hung the server, each sent to a real server process: the
/// process must answer the request (Redis's reply where Redis has one) and still answer PING.
final class HostileInputTests: XCTestCase {
    /// A debug-enabled server; capped at 2 GB of address space so a regression that grows a
    /// reply without bound ends the process instead of exhausting the machine.
    func startServer(_ arguments: [String] = []) throws -> ServerProcess {
        try ServerProcess(["--enable-debug-command", "yes"] + arguments, wrapper: ["prlimit", "--as=2000000000"])
    }

    func testBlockingTimeoutsBelowInt64AreNegative() throws {
        let s = try startServer()
        let c = try s.client()
        for t in ["-1e16", "-inf", "-9223372036854775808", "-1e400", "-9223372036854775809"] {
            for cmd in [["BLPOP", "k", t], ["BRPOP", "k", t], ["BLMOVE", "a", "b", "LEFT", "RIGHT", t],
                        ["BRPOPLPUSH", "a", "b", t]] {
                try c.send(args: cmd.map { Array($0.utf8) })
                XCTAssertEqual(try c.readReplyText(), "-ERR timeout is negative\r\n", cmd.joined(separator: " "))
            }
        }
        // The exact bytes of the report.
        try c.send(raw: "*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$5\r\n-1e16\r\n")
        XCTAssertEqual(try c.readReplyText(), "-ERR timeout is negative\r\n")
        s.assertAlive("BLPOP k -1e16")
    }

    func testCommandGetKeysWithAHugeKeyCount() throws {
        let s = try startServer()
        let c = try s.client()
        for n in ["9223372036854775807", "4611686018427387904", "2147483648"] {
            XCTAssertEqual(try c.command("COMMAND", "GETKEYS", "SINTERCARD", n, "a"),
                           "-ERR Invalid arguments specified for command\r\n", n)
            XCTAssertEqual(try c.command("COMMAND", "GETKEYSANDFLAGS", "SINTERCARD", n, "a"),
                           "-ERR Invalid arguments specified for command\r\n", n)
        }
        s.assertAlive("COMMAND GETKEYS SINTERCARD 9223372036854775807 a")
    }

    func testHugeSlowlogThreshold() throws {
        let s = try startServer()
        let c = try s.client()
        for v in ["10000000000000000", "9223372036854775807"] {
            XCTAssertEqual(try c.command("CONFIG", "SET", "slowlog-log-slower-than", v), "+OK\r\n", v)
            XCTAssertEqual(try c.command("CONFIG", "GET", "slowlog-log-slower-than"),
                           "*2\r\n$23\r\nslowlog-log-slower-than\r\n$\(v.utf8.count)\r\n\(v)\r\n")
        }
        // A threshold no command reaches: a slow command is not logged.
        XCTAssertEqual(try c.command("DEBUG", "SLEEP", "0.05"), "+OK\r\n")
        XCTAssertEqual(try c.command("SLOWLOG", "LEN"), ":0\r\n")
        s.assertAlive("CONFIG SET slowlog-log-slower-than 10000000000000000")
    }

    func testDebugJumpCannotOverflowTheClock() throws {
        let s = try startServer()
        let c = try s.client()
        for ms in ["9223372036854775807", "10000000000000000", "253402300800000"] {
            XCTAssertTrue(try c.command("DEBUG", "JUMP", ms).hasPrefix("-ERR DEBUG JUMP would move the clock past"), ms)
            s.assertAlive("DEBUG JUMP \(ms)")
            XCTAssertTrue(try c.command("TIME").hasPrefix("*2\r\n"))
            XCTAssertTrue(try c.command("INFO", "server").contains("uptime_in_seconds"))
        }
        // Jumps that fit add up until the next one would not.
        XCTAssertEqual(try c.command("DEBUG", "JUMP", "100000000000000"), "+OK\r\n")
        XCTAssertEqual(try c.command("DEBUG", "JUMP", "100000000000000"), "+OK\r\n")
        XCTAssertTrue(try c.command("DEBUG", "JUMP", "100000000000000").hasPrefix("-ERR DEBUG JUMP would move"))
        XCTAssertEqual(try c.command("SET", "k", "v", "EX", "100"), "+OK\r\n")
        XCTAssertEqual(try c.command("TTL", "k"), ":100\r\n")
        let time = try c.command("TIME")
        let seconds = time.split(separator: "\r\n").dropFirst(2).first.flatMap { Int($0) } ?? 0
        XCTAssertGreaterThan(seconds, 200_000_000_000, "the clock moved 2e14 ms ahead: \(time.debugDescription)")
        s.assertAlive("DEBUG JUMP up to the limit")
    }

    /// A transaction queues a copy of every request; EXEC runs it from that copy, whose
    /// argument views must not cost stack per argument.
    func testExecOfAQueuedCommandWithAMillionArguments() throws {
        let s = try startServer()
        let c = try s.client(timeout: 60)
        XCTAssertEqual(try c.command("SET", "k7", "v"), "+OK\r\n")
        XCTAssertEqual(try c.command("MULTI"), "+OK\r\n")
        var args: [[UInt8]] = [Array("EXISTS".utf8)]
        args.reserveCapacity(1_000_001)
        for i in 0..<1_000_000 { args.append(Array("k\(i)".utf8)) }
        try c.send(args: args)
        XCTAssertEqual(try c.readReplyText(), "+QUEUED\r\n")
        XCTAssertEqual(try c.command("EXEC"), "*1\r\n:1\r\n")
        s.assertAlive("EXEC of EXISTS with 1,000,000 keys")
    }

    /// SRANDMEMBER and HRANDFIELD with a negative count: the count, not the data, sets the
    /// reply's size. Redis 7.0 builds it however large; TagCache refuses past
    /// count-reply-max-bytes and keeps serving the loop's other clients.
    func testCountDrivenRepliesAreBoundedWhileTheLoopServesOthers() throws {
        let s = try startServer(["--event-loops", "1"])
        let a = try s.client(), b = try s.client()
        XCTAssertEqual(try a.command("SADD", "s", "m1", "m2", "m3"), ":3\r\n")
        XCTAssertEqual(try a.command("HSET", "h", "f", "v", "g", "w"), ":2\r\n")
        let refused = "-ERR the reply would exceed count-reply-max-bytes (67108864 bytes)\r\n"
        for cmd in [["SRANDMEMBER", "s", "-9223372036854775807"], ["HRANDFIELD", "h", "-4611686018427387903", "WITHVALUES"],
                    ["HRANDFIELD", "h", "-9223372036854775807"], ["SRANDMEMBER", "s", "-20000000"]] {
            try a.send(args: cmd.map { Array($0.utf8) })
            // The other client shares the loop and is answered meanwhile (a timeout throws).
            let pong = try b.command("PING")
            XCTAssertEqual(pong, "+PONG\r\n", cmd.joined(separator: " "))
            XCTAssertEqual(try a.readReplyText(), refused, cmd.joined(separator: " "))
        }
        // A count that fits gets the whole reply.
        let fits = try a.command("SRANDMEMBER", "s", "-100000")
        XCTAssertTrue(fits.hasPrefix("*100000\r\n$2\r\nm"))
        XCTAssertEqual(fits.utf8.count, 9 + 100_000 * 8)
        XCTAssertEqual(try a.command("HELLO", "3").prefix(1), "%")
        XCTAssertTrue(try a.command("HRANDFIELD", "h", "-3", "WITHVALUES").hasPrefix("*3\r\n*2\r\n$1\r\n"))
        XCTAssertEqual(try a.command("HELLO", "2").prefix(1), "*")

        // Configurable. Long members: the reply outgrows the budget while it is written and is
        // taken back whole; the connection goes on with clean replies.
        XCTAssertEqual(try a.command("CONFIG", "SET", "count-reply-max-bytes", "1mb"), "+OK\r\n")
        XCTAssertEqual(try a.command("SADD", "big", String(repeating: "x", count: 100_000)), ":1\r\n")
        XCTAssertEqual(try a.command("SRANDMEMBER", "big", "-20"),
                       "-ERR the reply would exceed count-reply-max-bytes (1048576 bytes)\r\n")
        XCTAssertEqual(try a.command("PING"), "+PONG\r\n")
        XCTAssertEqual(try a.command("SRANDMEMBER", "big", "-5").utf8.count, 4 + 5 * (100_000 + 11))
        XCTAssertEqual(try a.command("CONFIG", "SET", "count-reply-max-bytes", "1kb"), "+OK\r\n")
        XCTAssertTrue(try a.command("SRANDMEMBER", "s", "-200").hasPrefix("-ERR the reply would exceed"))
        XCTAssertEqual(try a.command("CONFIG", "SET", "count-reply-max-bytes", "0"), "+OK\r\n")
        XCTAssertTrue(try a.command("SRANDMEMBER", "s", "-200").hasPrefix("*200\r\n"))
        s.assertAlive("SRANDMEMBER s -9223372036854775807")
    }

    /// COMMAND DOCS / COMMAND INFO repeat a command's description as often as it is named:
    /// a million "client" names (12 MB) once asked for 8 GB of docs.
    func testRepeatedCommandNamesAreBounded() throws {
        let s = try startServer()
        let c = try s.client(timeout: 60)
        // A small budget keeps the test quick (describing a command is not).
        XCTAssertEqual(try c.command("CONFIG", "SET", "count-reply-max-bytes", "4mb"), "+OK\r\n")
        for sub in ["DOCS", "INFO"] {
            var args: [[UInt8]] = [Array("COMMAND".utf8), Array(sub.utf8)]
            args += Array(repeating: Array("client".utf8), count: 100_000)
            try c.send(args: args)
            XCTAssertEqual(try c.readReplyText(), "-ERR the reply would exceed count-reply-max-bytes (4194304 bytes)\r\n", sub)
        }
        // A few names are answered as before.
        XCTAssertTrue(try c.command("COMMAND", "DOCS", "get", "get").hasPrefix("*4\r\n$3\r\nget\r\n"))
        XCTAssertTrue(try c.command("COMMAND", "INFO", "get", "nosuch", "get").hasPrefix("*3\r\n*10\r\n"))
        s.assertAlive("COMMAND DOCS with 100,000 names")
    }
}
