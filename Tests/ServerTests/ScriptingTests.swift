import Dispatch
import Foundation
import Glibc
import Synchronization
import TagCache
import XCTest

/// Lua scripting on a running server: atomicity across event loops, busy scripts (-BUSY to
/// other clients, SCRIPT KILL, SHUTDOWN NOSAVE), what INFO shows, and a server without
/// liblua5.1. The replies themselves are checked against Redis by the differential suite
/// (Cases/scripting.txt).
final class ScriptingTests: XCTestCase {
    static let setAll = "for _, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1]) end return #KEYS"

    /// A script that writes sixteen keys in sixteen shards is seen whole or not at all by
    /// readers on the other event loop, whether it runs alone or inside MULTI/EXEC.
    func testScriptIsAtomicAcrossEventLoops() throws {
        for inTransaction in [false, true] {
            let s = try TestServer(["event-loops": "2"])
            defer { s.stop() }
            let keys = TransactionAtomicityTests.keysInDistinctShards(s.server, count: 16, prefix: "lua:")
            let setup = try s.client()
            try setup.send(raw: TestClient.encode(["MSET"] + keys.flatMap { [$0, "0"] }))
            assertReply(try setup.readReplyText(), "+OK\r\n")
            let rounds = 1500
            let failures = Locked<[String]>([])
            let done = DispatchSemaphore(value: 0)
            let port = s.port
            let writerDone = Atomic<Bool>(false)
            DispatchQueue.global().async {
                defer {
                    writerDone.store(true, ordering: .releasing)
                    done.signal()
                }
                do {
                    let w = try TestClient(port: port)
                    for n in 1...rounds {
                        let eval = ["EVAL", Self.setAll, "16"] + keys + [String(n)]
                        if inTransaction {
                            try w.send(raw: TestClient.encode(["MULTI"]) + TestClient.encode(eval) + TestClient.encode(["EXEC"]))
                            let replies = [try w.readReplyText(), try w.readReplyText(), try w.readReplyText()]
                            if replies != ["+OK\r\n", "+QUEUED\r\n", "*1\r\n:16\r\n"] {
                                failures.withLock { $0.append("transaction \(n): \(replies)") }
                                return
                            }
                        } else {
                            // Pipelined in fives: one read runs several scripts (a batch keeps
                            // every shard locked from its first script to its end).
                            if n % 5 != 0 { continue }
                            var request: [UInt8] = []
                            for m in (n - 4)...n {
                                request += TestClient.encode(["EVAL", Self.setAll, "16"] + keys + [String(m)])
                                request += TestClient.encode(["GET", keys[m % 16]])
                            }
                            try w.send(raw: request)
                            for m in (n - 4)...n {
                                let r = try w.readReplyText(), g = try w.readReplyText()
                                if r != ":16\r\n" || g != "$\(String(m).utf8.count)\r\n\(m)\r\n" {
                                    failures.withLock { $0.append("EVAL \(m): \(r.debugDescription) \(g.debugDescription)") }
                                    return
                                }
                            }
                        }
                    }
                } catch {
                    failures.withLock { $0.append("writer: \(error)") }
                }
            }
            let r = try s.client()
            var reads = 0, torn = 0
            while !writerDone.load(ordering: .acquiring) {
                try r.send(raw: TestClient.encode(["MGET"] + keys))
                let values = TransactionAtomicityTests.bulkValues(try r.readReplyText()) ?? []
                reads += 1
                if Set(values).count != 1 { torn += 1 }
            }
            done.wait()
            XCTAssertEqual(failures.withLock { $0 }, [])
            XCTAssertEqual(torn, 0, "\(torn) of \(reads) MGETs saw part of a script (in MULTI: \(inTransaction))")
            XCTAssertGreaterThan(reads, 10)
        }
    }

    /// Past busy-reply-threshold other clients get -BUSY (a transaction being queued is
    /// discarded at EXEC), SCRIPT KILL stops a script that has not written, and the server
    /// serves everyone again. With one loop the busy loop itself serves the other clients.
    func testBusyScriptAnswersBusyAndScriptKillStopsIt() throws {
        for loops in ["1", "2"] {
            let s = try TestServer(["event-loops": loops, "busy-reply-threshold": "50"])
            defer { s.stop() }
            let a = try s.client(), b = try s.client()
            assertReply(try b.command("MULTI"), "+OK\r\n")
            try a.send("EVAL", "local i = 0 while true do i = i + 1 end", "0")
            // Wait until the script is busy.
            let c = try s.client()
            var busy = ""
            for _ in 0..<200 {
                busy = try c.command("GET", "k")
                if busy.hasPrefix("-BUSY") { break }
                usleep(10_000)
            }
            assertReply(busy, "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n",
                        "event loops: \(loops)")
            assertReply(try b.command("INCR", "k"), "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n")
            assertReply(try c.command("SHUTDOWN"), "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n")
            // A new connection is served too.
            assertReply(try s.client().command("PING"), "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n")
            assertReply(try c.command("SCRIPT", "KILL"), "+OK\r\n")
            let killed = try a.readReplyText()
            XCTAssertTrue(killed.hasPrefix("-ERR Script killed by user with SCRIPT KILL... script: "), killed.debugDescription)
            assertReply(try b.command("EXEC"),
                        "-EXECABORT Transaction discarded because of previous errors.\r\n")
            assertReply(try c.command("SCRIPT", "KILL"), "-NOTBUSY No scripts in execution right now.\r\n")
            assertReply(try b.command("PING"), "+PONG\r\n")
            assertReply(try a.command("EVAL", "return redis.call('INCR', KEYS[1])", "1", "k"), ":1\r\n")
        }
    }

    /// A busy function: -BUSY names FUNCTION KILL, SCRIPT KILL refuses it, FUNCTION STATS shows
    /// it, FUNCTION KILL stops it.
    func testBusyFunctionAndFunctionKill() throws {
        let s = try TestServer(["event-loops": "1", "busy-reply-threshold": "50"])
        defer { s.stop() }
        let a = try s.client(), c = try s.client()
        assertReply(try c.command("FUNCTION", "LOAD", "#!lua name=spin\nredis.register_function('spin', function() while true do end end)"),
                    "$4\r\nspin\r\n")
        try a.send("FCALL", "spin", "0")
        let busy = "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
        var reply = ""
        for _ in 0..<200 {
            reply = try c.command("GET", "k")
            if reply.hasPrefix("-BUSY") { break }
            usleep(10_000)
        }
        assertReply(reply, busy)
        assertReply(try c.command("SCRIPT", "KILL"), busy)
        let stats = try c.command("FUNCTION", "STATS")
        XCTAssertTrue(stats.contains("$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:"),
                      stats.debugDescription)
        assertReply(try c.command("FUNCTION", "KILL"), "+OK\r\n")
        let killed = try a.readReplyText()
        XCTAssertTrue(killed.hasPrefix("-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2."), killed.debugDescription)
        assertReply(try c.command("FUNCTION", "STATS"),
                    "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n")
    }

    /// A script that wrote cannot be killed; SHUTDOWN NOSAVE stops it and the server exits.
    func testUnkillableScriptAndShutdownNosave() throws {
        let p = try ServerProcess(["--busy-reply-threshold", "50"])
        let a = try p.client(), c = try p.client()
        try a.send("EVAL", "redis.call('SET', 'w', '1') while true do end", "0")
        var reply = ""
        for _ in 0..<200 {
            reply = try c.command("SCRIPT", "KILL")
            if !reply.hasPrefix("-NOTBUSY") && !reply.hasPrefix("+") { break }
            usleep(10_000)
        }
        XCTAssertTrue(reply.hasPrefix("-UNKILLABLE Sorry the script already executed write commands"), reply.debugDescription)
        XCTAssertTrue(p.log.contains("Slow script detected: still in execution after"), p.log)
        try c.send("SHUTDOWN", "NOSAVE")
        let deadline = Date().addingTimeInterval(10)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(p.isRunning, "SHUTDOWN NOSAVE ends a server whose script cannot be killed")
    }

    /// script-heap-max stops a script that allocates without bound; the server and the next
    /// scripts go on.
    func testLuaHeapMaxStopsAGreedyScript() throws {
        let s = try TestServer(["script-heap-max": "8mb"])
        defer { s.stop() }
        let c = try s.client()
        let greedy = try c.command("EVAL", "local t = {} for i = 1, 1000000 do t[i] = string.rep('x', 100) .. i end return #t", "0")
        XCTAssertTrue(greedy.hasPrefix("-ERR Error running script ") && greedy.hasSuffix(", not enough memory\r\n"), greedy.debugDescription)
        assertReply(try c.command("EVAL", "return #KEYS[1]", "1", String(repeating: "k", count: 100_000)), ":100000\r\n",
                    "arguments are not counted against the limit")
        assertReply(try c.command("CONFIG", "SET", "script-heap-max", "0"), "+OK\r\n")
        assertReply(try c.command("EVAL", "return #string.rep('x', 10000000)", "0"), ":10000000\r\n")
    }

    /// EVAL keeps at most 500 scripts (the least recently run goes first, as in Redis 7.4);
    /// SCRIPT LOAD's stay.
    func testEvalScriptCacheIsBounded() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        let loaded = try c.command("SCRIPT", "LOAD", "return 'loaded'")
        var request: [UInt8] = []
        for i in 0..<600 { request += TestClient.encode(["EVAL", "return \(i)", "0"]) }
        try c.send(raw: request)
        for i in 0..<600 { assertReply(try c.readReplyText(), ":\(i)\r\n") }
        XCTAssertTrue(try c.command("INFO", "memory").contains("number_of_cached_scripts:501\r\n"))
        // The first 100 EVAL scripts are gone; the last ones and the loaded one are there.
        let first = sha1Hex("return 0"), last = sha1Hex("return 599")
        assertReply(try c.command("EVALSHA", first, "0"), "-NOSCRIPT No matching script. Please use EVAL.\r\n")
        assertReply(try c.command("EVALSHA", last, "0"), ":599\r\n")
        let sha = String(loaded.split(separator: "\r\n")[1])
        assertReply(try c.command("EVALSHA", sha, "0"), "$6\r\nloaded\r\n")
    }

    /// SHA-1 hex of a script, as the server names it.
    func sha1Hex(_ text: String) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sha1sum"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try? p.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try? input.fileHandleForWriting.close()
        p.waitUntilExit()
        return String(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(40))
    }

    /// INFO shows the engine, the script cache and the Lua heap; SCRIPT FLUSH empties the cache.
    func testInfoShowsScriptsAndLuaMemory() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        XCTAssertTrue(try c.command("INFO", "server").contains("scripting:lua-5.1\r\n"))
        _ = try c.command("SCRIPT", "LOAD", "return 1")
        _ = try c.command("EVAL", "return 2", "0")
        let memory = try c.command("INFO", "memory")
        XCTAssertTrue(memory.contains("number_of_cached_scripts:2\r\n"), memory)
        let lua = Int(field("used_memory_lua", memory) ?? "") ?? 0
        XCTAssertGreaterThan(lua, 10_000, "the Lua heap of a state with its libraries")
        XCTAssertGreaterThan(Int(field("used_memory_scripts", memory) ?? "") ?? 0, 0)
        assertReply(try c.command("SCRIPT", "FLUSH"), "+OK\r\n")
        let after = try c.command("INFO", "memory")
        XCTAssertTrue(after.contains("number_of_cached_scripts:0\r\n"), after)
        XCTAssertTrue(after.contains("used_memory_scripts:0\r\n"), after)
    }

    /// Commands run by scripts count in commandstats; an error a command inside the script
    /// answered counts once in errorstats, while EVAL counts as failed.
    func testScriptCommandsCountInCommandstats() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        _ = try c.command("SET", "str", "abc")
        _ = try c.command("CONFIG", "RESETSTAT")
        _ = try c.command("EVAL", "redis.call('GET', 'str') return redis.call('INCR', 'str')", "0")
        let stats = try c.command("INFO", "commandstats")
        XCTAssertTrue(field("cmdstat_get", stats)?.hasPrefix("calls=1,") == true, stats)
        XCTAssertTrue(field("cmdstat_get", stats)?.hasSuffix("rejected_calls=0,failed_calls=0") == true, stats)
        XCTAssertTrue(field("cmdstat_incr", stats)?.hasPrefix("calls=1,") == true, stats)
        XCTAssertTrue(field("cmdstat_incr", stats)?.hasSuffix("rejected_calls=0,failed_calls=1") == true, stats)
        XCTAssertTrue(field("cmdstat_eval", stats)?.hasPrefix("calls=1,") == true, stats)
        XCTAssertTrue(field("cmdstat_eval", stats)?.hasSuffix("rejected_calls=0,failed_calls=1") == true, stats)
        let errors = try c.command("INFO", "errorstats")
        XCTAssertTrue(errors.contains("errorstat_ERR:count=1\r\n"), errors)
    }

    /// Without liblua5.1 the server starts, says so once in its log and in INFO, serves
    /// everything else, and scripting commands answer what is missing.
    func testServerWithoutLuaLibrary() throws {
        let p = try ServerProcess([], wrapper: ["TAGCACHE_LUA_LIBRARY=/nonexistent/liblua5.1.so.0"])
        defer { p.stop() }
        let c = try p.client()
        let missing = "-ERR scripting is unavailable: /nonexistent/liblua5.1.so.0 not found (apt-get install liblua5.1-0)\r\n"
        assertReply(try c.command("EVAL", "return 1", "0"), missing)
        assertReply(try c.command("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"), missing)
        assertReply(try c.command("SCRIPT", "LOAD", "return 1"), missing)
        assertReply(try c.command("SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"), "*1\r\n:0\r\n")
        assertReply(try c.command("SET", "k", "v"), "+OK\r\n")
        assertReply(try c.command("GET", "k"), "$1\r\nv\r\n")
        XCTAssertTrue(try c.command("INFO", "server").contains("scripting:unavailable (/nonexistent/liblua5.1.so.0 not found"))
        XCTAssertEqual(p.log.components(separatedBy: "Scripting (EVAL, SCRIPT) is unavailable").count, 2, p.log)
        p.assertAlive("scripting commands without liblua5.1")
    }

    func field(_ name: String, _ info: String) -> String? {
        for line in info.split(separator: "\r\n") where line.hasPrefix(name + ":") { return String(line.dropFirst(name.count + 1)) }
        return nil
    }
}
