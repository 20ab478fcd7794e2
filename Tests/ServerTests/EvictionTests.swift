import XCTest

/// maxmemory and the eviction policies, against a running server: the memory bound, what each
/// policy may evict, tags leaving with evicted keys, the OOM error, and the access clock.
final class EvictionTests: XCTestCase {
    /// Reads an INFO field as an integer.
    func info(_ c: TestClient, _ section: String, _ field: String) throws -> Int {
        let text = try c.command("INFO", section)
        for line in text.split(separator: "\r\n") where line.hasPrefix(field + ":") {
            return Int(line.dropFirst(field.count + 1)) ?? -1
        }
        XCTFail("no \(field) in INFO \(section)")
        return -1
    }

    /// The value of an integer reply (":123\r\n").
    func integer(_ reply: String) -> Int {
        Int(String(reply.dropFirst().prefix { $0.isNumber || $0 == "-" })) ?? Int.min
    }

    /// Sends n SETs of `size`-byte values in one pipeline; returns the replies.
    func pipelinedSets(_ c: TestClient, prefix: String, range: Range<Int>, size: Int, extra: [String] = []) throws -> [String] {
        let value = String(repeating: "x", count: size)
        var raw: [UInt8] = []
        for i in range { raw += TestClient.encode(["SET", "\(prefix)\(i)", value] + extra) }
        try c.send(raw: raw)
        return try range.map { _ in try c.readReplyText() }
    }

    /// The documented overshoot bound: shards x meter slack (maxmemory / 256) plus one
    /// command's data; INFO used_memory also counts client buffers, which maxmemory does not
    /// (mem_not_counted_for_evict), so they are taken out.
    func bound(_ maxmemory: Int) -> Int { maxmemory / 256 + 1024 }

    func evictionUsed(_ c: TestClient) throws -> Int {
        try info(c, "memory", "used_memory") - info(c, "memory", "mem_not_counted_for_evict")
    }

    func testEachPolicyKeepsMemoryUnderMaxmemory() throws {
        let policies = ["allkeys-lru", "allkeys-lfu", "allkeys-random", "allkeys-s3fifo",
                        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"]
        for policy in policies {
            let s = try TestServer(["maxmemory-policy": policy])
            defer { s.stop() }
            let c = try s.client()
            let limit = try info(c, "memory", "used_memory") + 2 * 1024 * 1024
            assertReply(try c.command("CONFIG", "SET", "maxmemory", String(limit)), "+OK\r\n")
            // 8 MB of values: four times what fits. Volatile policies need keys with a TTL.
            let extra = policy.hasPrefix("volatile") ? ["EX", "3600"] : []
            for batch in 0..<40 {
                let replies = try pipelinedSets(c, prefix: "k", range: batch * 500..<(batch + 1) * 500, size: 400, extra: extra)
                XCTAssertEqual(Set(replies), ["+OK\r\n"], policy)
                let used = try evictionUsed(c)
                XCTAssertLessThanOrEqual(used, limit + bound(limit), "\(policy) batch \(batch)")
            }
            // Both figures in one EXEC (it holds every shard, so the cron cannot evict between them).
            assertReply(try c.command("MULTI"), "+OK\r\n")
            assertReply(try c.command("DBSIZE"), "+QUEUED\r\n")
            assertReply(try c.command("INFO", "stats"), "+QUEUED\r\n")
            let both = try c.command("EXEC")
            let keys = Int(both.components(separatedBy: "\r\n")[1].dropFirst()) ?? -1
            let evicted = Int(both.components(separatedBy: "evicted_keys:")[1].prefix { $0.isNumber }) ?? -1
            XCTAssertGreaterThan(evicted, 10_000, policy)
            XCTAssertEqual(keys + evicted, 20_000, policy)
            // Eviction stops near the limit: most of the 2 MB still holds keys (~470-490 B each).
            XCTAssertGreaterThan(keys, 3_000, policy)
        }
    }

    func testNoevictionRefusesWritesWithRedisError() throws {
        let s = try TestServer()
        defer { s.stop() }
        let c = try s.client()
        assertReply(try c.command("SET", "before", "v"), "+OK\r\n")
        assertReply(try c.command("CONFIG", "SET", "maxmemory", "1"), "+OK\r\n")
        let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        assertReply(try c.command("SET", "k", "v"), oom)
        assertReply(try c.command("RPUSH", "l", "a"), oom)
        assertReply(try c.command("GET", "before"), "$1\r\nv\r\n")
        assertReply(try c.command("DEL", "before"), ":1\r\n")
        // Inside MULTI every command but EXEC/DISCARD is refused, and EXEC then aborts.
        assertReply(try c.command("MULTI"), "+OK\r\n")
        assertReply(try c.command("GET", "x"), oom)
        assertReply(try c.command("EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n")
        XCTAssertTrue(try c.command("INFO", "errorstats").contains("errorstat_OOM:count=3"))
        assertReply(try c.command("CONFIG", "SET", "maxmemory", "0"), "+OK\r\n")
        assertReply(try c.command("SET", "k", "v"), "+OK\r\n")
        // A transaction queued under the limit and executed over it is refused as a whole.
        assertReply(try c.command("MULTI"), "+OK\r\n")
        assertReply(try c.command("SET", "k", "w"), "+QUEUED\r\n")
        let other = try s.client()
        assertReply(try other.command("CONFIG", "SET", "maxmemory", "1"), "+OK\r\n")
        assertReply(try c.command("EXEC"), "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n")
        assertReply(try c.command("GET", "k"), "$1\r\nv\r\n")
    }

    func testVolatilePoliciesEvictOnlyKeysWithTTL() throws {
        let s = try TestServer(["maxmemory-policy": "volatile-lru"])
        defer { s.stop() }
        let c = try s.client()
        let limit = try info(c, "memory", "used_memory") + 1024 * 1024
        assertReply(try c.command("CONFIG", "SET", "maxmemory", String(limit)), "+OK\r\n")
        _ = try pipelinedSets(c, prefix: "keep", range: 0..<1000, size: 400)
        _ = try pipelinedSets(c, prefix: "ttl", range: 0..<4000, size: 400, extra: ["EX", "3600"])
        for i in 0..<1000 { assertReply(try c.command("EXISTS", "keep\(i)"), ":1\r\n") }
        XCTAssertGreaterThan(try info(c, "stats", "evicted_keys"), 0)
        // Once no key with a TTL is left, writes get the OOM error.
        let replies = try pipelinedSets(c, prefix: "more", range: 0..<4000, size: 400)
        XCTAssertTrue(replies.contains("-OOM command not allowed when used memory > 'maxmemory'.\r\n"))
        for i in 0..<1000 { assertReply(try c.command("EXISTS", "keep\(i)"), ":1\r\n") }
    }

    func testEvictedKeysLeaveTheirTags() throws {
        let s = try TestServer(["maxmemory-policy": "allkeys-random", "hz": "100"])
        defer { s.stop() }
        let c = try s.client()
        let limit = try info(c, "memory", "used_memory") + 1024 * 1024
        assertReply(try c.command("CONFIG", "SET", "maxmemory", String(limit)), "+OK\r\n")
        _ = try pipelinedSets(c, prefix: "t", range: 0..<6000, size: 300, extra: ["TAGS", "all", "group"])
        // The last SET may leave memory up to one value over maxmemory, and the cron (hz 100 here,
        // so it runs often) evicts that key whenever it next runs: read the three figures in one
        // EXEC (it holds every shard), or an eviction landing between two separate commands
        // makes them disagree by one.
        assertReply(try c.command("MULTI"), "+OK\r\n")
        assertReply(try c.command("DBSIZE"), "+QUEUED\r\n")
        assertReply(try c.command("TAG.COUNT", "all"), "+QUEUED\r\n")
        assertReply(try c.command("TAG.KEYS", "group"), "+QUEUED\r\n")
        let replies = try c.command("EXEC").components(separatedBy: "\r\n")
        let live = integer(replies[1])
        XCTAssertLessThan(live, 6000)
        XCTAssertGreaterThan(live, 1000)
        XCTAssertEqual(replies[2], ":\(live)")
        XCTAssertEqual(replies[3], "*\(live)")
    }

    func testLRUKeepsKeysReadSinceTheyWereWritten() throws {
        for policy in ["allkeys-lru", "allkeys-s3fifo", "allkeys-lfu"] {
            let s = try TestServer(["maxmemory-policy": policy, "enable-debug-command": "yes"])
            defer { s.stop() }
            let c = try s.client()
            let limit = try info(c, "memory", "used_memory") + 2 * 1024 * 1024
            assertReply(try c.command("CONFIG", "SET", "maxmemory", String(limit)), "+OK\r\n")
            _ = try pipelinedSets(c, prefix: "hot", range: 0..<1000, size: 400)
            // Read the hot keys a few times while the clock moves, then write cold keys once.
            for _ in 0..<3 {
                assertReply(try c.command("DEBUG", "JUMP", "2000"), "+OK\r\n")
                var raw: [UInt8] = []
                for i in 0..<1000 { raw += TestClient.encode(["GET", "hot\(i)"]) }
                try c.send(raw: raw)
                for _ in 0..<1000 { _ = try c.readReply() }
            }
            // Then write cold keys once each, still reading the hot ones now and then.
            for batch in 0..<20 {
                assertReply(try c.command("DEBUG", "JUMP", "2000"), "+OK\r\n")
                var raw: [UInt8] = []
                for i in 0..<1000 { raw += TestClient.encode(["GET", "hot\(i)"]) }
                try c.send(raw: raw)
                for _ in 0..<1000 { _ = try c.readReply() }
                _ = try pipelinedSets(c, prefix: "cold", range: batch * 500..<(batch + 1) * 500, size: 400)
            }
            var hot = 0
            for i in 0..<1000 where try c.command("EXISTS", "hot\(i)") == ":1\r\n" { hot += 1 }
            var cold = 0
            for i in 0..<10_000 where try c.command("EXISTS", "cold\(i)") == ":1\r\n" { cold += 1 }
            // Hot keys are 1/11 of what was written; a policy that ignored reads keeps about that share.
            XCTAssertGreaterThan(hot, 900, "\(policy): \(hot) hot keys, \(cold) cold keys left")
        }
    }

    func testObjectIdletimeAndFreqFollowAccessesAndTheTestClock() throws {
        let s = try TestServer(["enable-debug-command": "yes"])
        defer { s.stop() }
        let c = try s.client()
        assertReply(try c.command("SET", "k", "v"), "+OK\r\n")
        assertReply(try c.command("OBJECT", "IDLETIME", "k"), ":0\r\n")
        assertReply(try c.command("DEBUG", "JUMP", "100000"), "+OK\r\n")
        let idle = integer(try c.command("OBJECT", "IDLETIME", "k"))
        XCTAssertTrue((99...101).contains(idle), "\(idle)")
        // OBJECT itself does not count as an access; GET does.
        assertReply(try c.command("GET", "k"), "$1\r\nv\r\n")
        assertReply(try c.command("OBJECT", "IDLETIME", "k"), ":0\r\n")
        assertReply(try c.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"), "+OK\r\n")
        assertReply(try c.command("OBJECT", "FREQ", "k"), ":5\r\n")
        for _ in 0..<200 { _ = try c.command("GET", "k") }
        let freq = integer(try c.command("OBJECT", "FREQ", "k"))
        XCTAssertGreaterThan(freq, 5)
        // The counter decays by one per lfu-decay-time minute without accesses.
        assertReply(try c.command("DEBUG", "JUMP", String(3 * 60_000)), "+OK\r\n")
        assertReply(try c.command("OBJECT", "FREQ", "k"), ":\(freq - 3)\r\n")
    }

    /// Redis looks keys up with LOOKUP_NOTOUCH for EXISTS, TYPE and the TTL family; TOUCH is an
    /// access (Redis's introspection-2 test "TTL, TYPE and EXISTS do not alter the last access time").
    func testExistsTypeAndTTLDoNotCountAsAccesses() throws {
        let s = try TestServer(["enable-debug-command": "yes"])
        defer { s.stop() }
        let c = try s.client()
        assertReply(try c.command("SET", "k", "v"), "+OK\r\n")
        assertReply(try c.command("DEBUG", "JUMP", "100000"), "+OK\r\n")
        for command in [["TTL", "k"], ["PTTL", "k"], ["EXPIRETIME", "k"], ["PEXPIRETIME", "k"], ["TYPE", "k"],
                        ["EXISTS", "k"], ["EXISTS", "k", "k"]] {
            _ = try c.commandBytes(command.map { Array($0.utf8) })
            let idle = integer(try c.command("OBJECT", "IDLETIME", "k"))
            XCTAssertTrue((99...101).contains(idle), "OBJECT IDLETIME after \(command.joined(separator: " ")): \(idle)")
        }
        assertReply(try c.command("TOUCH", "k"), ":1\r\n")
        assertReply(try c.command("OBJECT", "IDLETIME", "k"), ":0\r\n")
    }
}
