import Foundation
import Glibc
import XCTest

/// Settings and client state shared between event loops: CONFIG SET on one loop while others
/// serve, CLIENT KILL and CLIENT LIST across loops, blocked clients woken and killed from other
/// loops. These also run under ThreadSanitizer (Tests/run.sh's tsan suite).
final class ConcurrencyTests: XCTestCase {
    /// Runs each body on its own thread and waits for all of them.
    func runThreads(_ bodies: [@Sendable () -> Void]) {
        let group = DispatchGroup()
        for body in bodies {
            group.enter()
            Thread {
                body()
                group.leave()
            }.start()
        }
        group.wait()
    }

    func testConfigSetWhileClientsOnOtherLoopsRunCommands() throws {
        let s = try TestServer(["event-loops": "4"])
        defer { s.stop() }
        let port = s.port
        let failures = FailureList()
        let stop = Stop()
        var bodies: [@Sendable () -> Void] = []
        for w in 0..<4 {
            bodies.append {
                do {
                    let c = try TestClient(port: port)
                    var n = 0
                    while !stop.isSet {
                        n += 1
                        let key = "w\(w):\(n % 64)", value = "v\(n)"
                        try expect(c.command("SET", key, value), "+OK\r\n", failures, "SET")
                        try expect(c.command("GET", key), "$\(value.utf8.count)\r\n\(value)\r\n", failures, "GET")
                        try expect(c.command("CLIENT", "SETNAME", "worker\(w)-\(n % 7)"), "+OK\r\n", failures, "SETNAME")
                        let pushed = try c.command("RPUSH", "list\(w)", "a", "b")
                        if !pushed.hasPrefix(":") { failures.add("RPUSH: \(pushed.debugDescription)") }
                        try expect(c.command("LPOP", "list\(w)"), "$1\r\na\r\n", failures, "LPOP")
                        try expect(c.command("LPOP", "list\(w)"), "$1\r\nb\r\n", failures, "LPOP")
                        if n % 8 == 0 {
                            let list = try c.command("CLIENT", "LIST")
                            if !list.contains("name=worker") { failures.add("CLIENT LIST: \(list.prefix(200))") }
                            let info = try c.command("INFO", "clients")
                            if !info.contains("connected_clients:") { failures.add("INFO: \(info.prefix(200))") }
                        }
                    }
                } catch {
                    failures.add("worker \(w): \(error)")
                }
            }
        }
        bodies.append {
            defer { stop.set() }
            do {
                let admin = try TestClient(port: port)
                // The workers connect on their own threads: start once all five clients are in.
                for _ in 0..<500 where try admin.command("CLIENT", "LIST").split(separator: "\n").count < 6 {
                    usleep(10_000)
                }
                for round in 0..<150 {
                    let settings: [[String]] = [
                        ["requirepass", round % 2 == 0 ? "secret\(round)" : ""],
                        ["maxclients", String(1000 + round % 50)],
                        ["timeout", round % 3 == 0 ? "0" : String(3600 + round)],
                        ["slowlog-log-slower-than", ["-1", "0", "100000"][round % 3]],
                        ["proto-max-bulk-len", ["1mb", "512mb", "64mb"][round % 3]],
                        ["loglevel", round % 2 == 0 ? "warning" : "nothing"],
                    ]
                    for pair in settings {
                        try expect(admin.commandBytes((["CONFIG", "SET"] + pair).map { Array($0.utf8) }),
                                   "+OK\r\n", failures, "CONFIG SET \(pair)")
                    }
                    if round % 10 == 0 {
                        try expect(admin.command("CONFIG", "SET", "maxclients", "900", "timeout", "0", "requirepass", ""),
                                   "+OK\r\n", failures, "CONFIG SET several")
                        let list = try admin.command("CLIENT", "LIST")
                        if list.split(separator: "\n").count < 5 { failures.add("CLIENT LIST lines: \(list)") }
                        _ = try admin.command("SLOWLOG", "GET", "1")
                    }
                }
                try expect(admin.command("CONFIG", "SET", "requirepass", "final", "maxclients", "777", "timeout", "0"),
                           "+OK\r\n", failures, "final CONFIG SET")
            } catch {
                failures.add("admin: \(error)")
            }
        }
        runThreads(bodies)
        XCTAssertEqual(failures.all, [])
        // The last write is what every loop sees: a new client needs the final password.
        let late = try s.client()
        assertReply(try late.command("PING"), "-NOAUTH Authentication required.\r\n")
        assertReply(try late.command("AUTH", "final"), "+OK\r\n")
        assertReply(try late.command("CONFIG", "GET", "maxclients"), "*2\r\n$10\r\nmaxclients\r\n$3\r\n777\r\n")
        XCTAssertTrue(try late.command("INFO", "clients").contains("maxclients:777\r\n"))
    }

    /// Redis reads proto-max-bulk-len at every request, so a client connected before CONFIG SET
    /// (here on another event loop) gets the new limit too, for requests and for APPEND.
    func testClientsAlreadyConnectedGetTheNewProtoMaxBulkLen() throws {
        let s = try TestServer(["event-loops": "2"])
        defer { s.stop() }
        let admin = try s.client(), first = try s.client(), second = try s.client(timeout: 3)
        for c in [admin, first, second] { assertReply(try c.command("PING"), "+PONG\r\n") }
        let chunk = String(repeating: "x", count: 700_000)
        assertReply(try first.command("SET", "k", chunk), "+OK\r\n")
        assertReply(try admin.command("CONFIG", "SET", "proto-max-bulk-len", "1mb"), "+OK\r\n")
        assertReply(try first.command("APPEND", "k", chunk),
                    "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n")
        try second.send(raw: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
        assertReply(try second.readReplyText(), "-ERR Protocol error: invalid bulk length\r\n")
        XCTAssertNotNil(try second.readUntilClosed(), "closed after the protocol error")
    }

    func testClientKillAndBlockingPopsAcrossLoops() throws {
        let s = try TestServer(["event-loops": "4"])
        defer { s.stop() }
        let port = s.port
        let control = try s.client()
        let failures = FailureList()
        for round in 0..<50 {
            var blockers: [TestClient] = []
            var ids: [String] = []
            for i in 0..<6 {
                let c = try s.client()
                let id = try c.command("CLIENT", "ID")
                ids.append(String(id.dropFirst().prefix { $0.isNumber }))
                try c.send("BLPOP", "q\(round):\(i % 3)", "0")
                blockers.append(c)
            }
            try waitForBlocked(control, 6)
            let killed = Set([0, 3, 4])
            let victims = killed.map { ids[$0] }
            runThreads([
                {
                    do {
                        let pusher = try TestClient(port: port)
                        for k in 0..<3 {
                            let r = try pusher.command("RPUSH", "q\(round):\(k)", "a", "b")
                            if !r.hasPrefix(":") { failures.add("RPUSH: \(r.debugDescription)") }
                        }
                    } catch { failures.add("pusher: \(error)") }
                },
                {
                    do {
                        let killer = try TestClient(port: port)
                        for id in victims {
                            let r = try killer.command("CLIENT", "KILL", "ID", id)
                            if r != ":1\r\n" { failures.add("CLIENT KILL ID \(id): \(r.debugDescription)") }
                        }
                    } catch { failures.add("killer: \(error)") }
                },
                {
                    do {
                        let lister = try TestClient(port: port)
                        for _ in 0..<5 { _ = try lister.command("CLIENT", "LIST") }
                    } catch { failures.add("lister: \(error)") }
                },
            ])
            for (i, c) in blockers.enumerated() {
                if killed.contains(i) {
                    // Served before the kill landed or not, a killed client ends closed.
                    if try c.readUntilClosed() == nil { failures.add("round \(round): killed blocker \(i) still open") }
                } else {
                    do {
                        let r = try c.readReplyText()
                        if !r.hasPrefix("*2\r\n") { failures.add("round \(round): blocker \(i) got \(r.debugDescription)") }
                    } catch {
                        failures.add("round \(round): blocker \(i) (id \(ids[i])): \(error)")
                    }
                }
                c.close()
            }
        }
        XCTAssertEqual(failures.all, [])
        try waitForBlocked(control, 0)
        assertReply(try control.command("PING"), "+PONG\r\n")
    }

    func waitForBlocked(_ c: TestClient, _ n: Int) throws {
        for _ in 0..<1000 {
            let info = try c.command("INFO", "clients")
            if info.contains("blocked_clients:\(n)\r\n") { return }
            usleep(2000)
        }
        XCTFail("blocked_clients never reached \(n)")
    }
}

/// Records a failure unless the reply is the expected one.
func expect(_ reply: @autoclosure () throws -> String, _ wanted: String, _ failures: FailureList, _ what: String) throws {
    let r = try reply()
    if r != wanted { failures.add("\(what): \(r.debugDescription), wanted \(wanted.debugDescription)") }
}

/// Records a failure unless the reply is the expected one.
func expect(_ reply: @autoclosure () throws -> [UInt8], _ wanted: String, _ failures: FailureList, _ what: String) throws {
    try expect(TestClient.text(reply()), wanted, failures, what)
}
