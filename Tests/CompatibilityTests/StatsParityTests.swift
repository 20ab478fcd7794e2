import Commands
import Foundation
import TagCache
import XCTest

/// INFO statistics against a real redis-server: the same command script runs on both, and
/// after every command the counters' deltas must agree: keyspace_hits, keyspace_misses,
/// total_commands_processed, total_error_replies, commandstats calls / rejected_calls /
/// failed_calls per command, errorstats per error code; expired_keys over the whole script
/// (Redis's active expiry may remove a key at another moment than TagCache's). Then CONFIG
/// RESETSTAT must reset what Redis resets, and latencystats must list the commands Redis lists.
///
/// Script lines whose command this build does not have are skipped (and printed), so the test
/// follows the command table as it grows.
final class StatsParityTests: XCTestCase {
    /// One command per line, words split at spaces; `@sleep N` waits N ms on both servers.
    static let script = """
    SET s:1 hello
    GET s:1
    GET s:missing
    MGET s:1 s:missing s:2
    SET s:2 world GET
    SET s:3 x NX
    SET s:1 y XX GET
    SET s:9 y XX GET
    GETEX s:1 EX 100
    GETEX s:none
    GETDEL s:2
    GETDEL s:2
    GETRANGE s:1 0 1
    STRLEN s:1
    STRLEN s:none
    APPEND s:1 more
    APPEND s:new more
    INCR n:1
    INCRBY n:1 5
    DECR n:none
    INCRBYFLOAT n:f 1.5
    SETNX s:1 z
    GETSET s:1 w
    MSET m:1 a m:2 b
    MSETNX m:1 a m:3 c
    SETRANGE s:1 2 zz
    SETEX e:1 100 v
    PSETEX e:2 100000 v
    LCS s:1 s:3
    SUBSTR s:1 0 2
    EXISTS s:1 s:missing s:3
    TYPE s:1
    TYPE s:missing
    TTL e:1
    TTL s:none
    PTTL e:2
    EXPIRETIME e:1
    PEXPIRETIME e:none
    EXPIRE s:1 100
    PEXPIRE s:none 100
    PERSIST s:1
    TOUCH s:1 s:none
    RENAME m:1 m:10
    RENAMENX m:2 m:10
    COPY m:10 m:11
    MOVE m:11 1
    DEL m:11 m:none
    UNLINK m:10
    OBJECT ENCODING s:1
    OBJECT ENCODING s:none
    OBJECT REFCOUNT s:1
    DUMP s:1
    DBSIZE
    KEYS m:*
    SCAN 0 COUNT 1000
    HSET h:1 f1 v1 f2 v2
    HGET h:1 f1
    HGET h:1 nofield
    HGET h:none f1
    HMGET h:1 f1 nofield
    HMGET h:none f1
    HGETALL h:1
    HGETALL h:none
    HEXISTS h:1 f1
    HEXISTS h:none f1
    HLEN h:1
    HSTRLEN h:1 f1
    HKEYS h:1
    HVALS h:1
    HINCRBY h:1 n 2
    HINCRBYFLOAT h:1 x 1.5
    HSETNX h:1 f1 z
    HDEL h:1 f2
    HSCAN h:1 0
    HSCAN h:none 0
    HMSET h:2 a 1
    SADD set:1 a b c
    SADD set:2 b c d
    SISMEMBER set:1 a
    SISMEMBER set:none a
    SMISMEMBER set:1 a z
    SMEMBERS set:1
    SMEMBERS set:none
    SCARD set:1
    SCARD set:none
    SINTER set:1 set:2 set:none
    SINTER set:1 set:2
    SUNION set:1 set:2 set:none
    SDIFF set:1 set:2
    SINTERCARD 2 set:1 set:2
    SINTERSTORE set:3 set:1 set:2
    SUNIONSTORE set:4 set:1 set:none
    SDIFFSTORE set:5 set:1 set:2
    SMOVE set:1 set:2 a
    SREM set:2 d
    SRANDMEMBER set:none
    SSCAN set:1 0
    RPUSH l:1 a b c d
    LPUSH l:1 z
    LRANGE l:1 0 -1
    LRANGE l:none 0 -1
    LINDEX l:1 1
    LINDEX l:none 1
    LLEN l:1
    LLEN l:none
    LPOS l:1 c
    LSET l:1 0 y
    LINSERT l:1 BEFORE b q
    LREM l:1 1 q
    LTRIM l:1 0 10
    LPOP l:1
    LPOP l:none
    RPOP l:1 2
    LMOVE l:1 l:2 LEFT RIGHT
    RPOPLPUSH l:1 l:2
    LPUSHX l:none a
    RPUSHX l:2 e
    BLPOP l:2 1
    BRPOP l:none 0.05
    LMPOP 1 l:2 LEFT
    EVAL return(redis.call('GET','s:1')) 0
    EVAL return(redis.call('GET','s:missing')) 0
    EVAL return(redis.call('INCR','s:1')) 0
    EVAL return(redis.pcall('INCR','s:1')) 0
    EVAL return(redis.call('nosuch')) 0
    EVAL return(redis.call('GET')) 0
    EVAL return(redis.call('MULTI')) 0
    EVAL error('x') 0
    EVAL return(redis.error_reply('MINE')) 0
    EVAL return(1) x
    EVALSHA 0000000000000000000000000000000000000000 0
    SCRIPT LOAD return(redis.call('SET',KEYS[1],'v'))
    EVALSHA_RO 3e2feda524ce47490a94e4a49a2a6ef846627ef6 1 s:1
    EVAL_RO return(redis.call('SET','s:1','b')) 0
    SCRIPT EXISTS abc
    FCALL nosuch 0
    FUNCTION DELETE nosuch
    FUNCTION STATS
    GET h:1
    HGET s:1 f
    LLEN s:1
    SADD s:1 x
    INCR s:1
    FOOBAR x
    GET
    SET k
    SET k v EX abc
    SET k v NX XX
    EXPIRE k abc
    OBJECT FOO k
    CONFIG FOO
    MULTI
    SET tx:1 a
    GET tx:1
    GET tx:none
    INCR s:1
    EXEC
    MULTI
    GET
    EXEC
    MULTI
    DISCARD
    EXEC
    WATCH s:1
    UNWATCH
    SELECT 1
    GET s:1
    SELECT 0
    PING
    ECHO hi
    SET x:1 a PX 1
    SET x:2 b PX 1
    SET x:3 c PX 1
    SET x:4 d PX 1
    @sleep 30
    GET x:1
    EXISTS x:2
    TTL x:3
    SET x:4 e XX
    @sleep 300
    DBSIZE
    """

    struct Snapshot {
        var fields: [String: Int] = [:]
        var commands: [String: (calls: Int, rejected: Int, failed: Int)] = [:]
        var errors: [String: Int] = [:]
        var latency: Set<String> = []
    }

    func testCountersMatchRedisCommandByCommand() throws {
        guard let pair = try ServerPair.start("stats parity") else { return }
        defer { pair.stop() }
        let redis = pair.redis, port = pair.tagcachePort
        let r = try RawConnection(port: redis.port)
        let t = try RawConnection(port: port)
        // INFO goes over its own connections: inside MULTI the script's connection only queues.
        let ri = try RawConnection(port: redis.port)
        let ti = try RawConnection(port: port)
        let table = CommandTable.standard()
        for c in [r, t] {
            _ = try c.call(words("FLUSHALL"))
            _ = try c.call(words("CONFIG RESETSTAT"))
        }
        var before = (try snapshot(ri), try snapshot(ti))
        let firstExpired = (before.0.fields["expired_keys"] ?? 0, before.1.fields["expired_keys"] ?? 0)
        var skipped: [String] = [], differences: [String] = []
        var steps = 0
        for (n, raw) in StatsParityTests.script.split(separator: "\n").enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("@sleep ") {
                usleep(UInt32(Int(line.dropFirst(7)) ?? 0) * 1000)
                continue
            }
            let args = words(line)
            let name = String(decoding: args[0], as: UTF8.self).lowercased()
            if name != "foobar" && table.lookup(name: name) == nil {
                skipped.append(line)
                continue
            }
            _ = try r.call(args)
            _ = try t.call(args)
            let after = (try snapshot(ri), try snapshot(ti))
            steps += 1
            for d in compare(before, after) { differences.append("line \(n + 1) `\(line)`: \(d)") }
            before = after
        }
        let expired = (before.0.fields["expired_keys"]! - firstExpired.0, before.1.fields["expired_keys"]! - firstExpired.1)
        if expired.0 != expired.1 { differences.append("expired_keys over the script: redis \(expired.0), tagcache \(expired.1)") }
        // Redis 7.0 records no latency sample for a blocking command that timed out; 7.2 does
        // (updateStatsOnUnblock), as TagCache does.
        let version = try String(decoding: ri.call(words("INFO server")), as: UTF8.self)
        if version.contains("redis_version:7.0.") || version.contains("redis_version:7.1.") {
            for c in ["brpop", "blpop", "blmove", "brpoplpush", "blmpop"] where !before.0.latency.contains(c) {
                before.1.latency.remove(c)
            }
        }
        if before.0.latency != before.1.latency {
            differences.append("latencystats commands: only redis \(before.0.latency.subtracting(before.1.latency).sorted()), only tagcache \(before.1.latency.subtracting(before.0.latency).sorted())")
        }
        // Guard against a vacuous pass (an INFO the parser could not read).
        XCTAssertGreaterThan(before.1.fields["keyspace_hits"] ?? 0, 20)
        XCTAssertGreaterThan(before.1.fields["keyspace_misses"] ?? 0, 20)
        XCTAssertGreaterThan(before.1.commands.count, 50)
        XCTAssertGreaterThan(before.1.errors["ERR"] ?? 0, 3)
        XCTAssertGreaterThanOrEqual(expired.1, 4)
        print("Stats parity: \(steps) commands compared, \(differences.count) differences; skipped (not in this build): \(skipped)")
        for d in differences { XCTFail(d) }
    }

    /// After CONFIG RESETSTAT, the counters Redis zeroes must read the same on both.
    func testConfigResetStatResetsWhatRedisResets() throws {
        guard let pair = try ServerPair.start("stats parity") else { return }
        defer { pair.stop() }
        let redis = pair.redis, port = pair.tagcachePort
        let r = try RawConnection(port: redis.port)
        let t = try RawConnection(port: port)
        for c in [r, t] {
            for l in ["SET a 1", "GET a", "GET b", "FOOBAR", "GET", "SET x y PX 1", "INCR a", "INCR x"] { _ = try c.call(words(l)) }
        }
        usleep(20_000)
        for c in [r, t] { _ = try c.call(words("GET x")) }
        let r2 = try RawConnection(port: redis.port)
        let t2 = try RawConnection(port: port)
        for c in [r2, t2] { _ = try c.call(words("CONFIG RESETSTAT")) }
        let a = try snapshot(r2), b = try snapshot(t2)
        for f in ["keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys", "total_commands_processed",
                  "total_connections_received", "rejected_connections", "total_error_replies", "total_net_input_bytes"] {
            XCTAssertEqual(a.fields[f], b.fields[f], "\(f) after CONFIG RESETSTAT")
        }
        XCTAssertEqual(a.commands.mapValues { "\($0.calls)/\($0.rejected)/\($0.failed)" },
                       b.commands.mapValues { "\($0.calls)/\($0.rejected)/\($0.failed)" }, "commandstats after CONFIG RESETSTAT")
        XCTAssertEqual(a.errors, b.errors, "errorstats after CONFIG RESETSTAT")
        XCTAssertEqual(a.latency, b.latency, "latencystats after CONFIG RESETSTAT")
        XCTAssertEqual(b.fields["keyspace_hit_rate"], 0, "keyspace_hit_rate after CONFIG RESETSTAT")
    }

    /// Redis 7 fields TagCache leaves out because it has no true value for them (a field is
    /// never filled with a made-up constant).
    static let absentOnPurpose: [String: String] = {
        var m: [String: String] = [:]
        for f in ["allocator_allocated", "allocator_active", "allocator_resident", "allocator_frag_ratio",
                  "allocator_frag_bytes", "allocator_rss_ratio", "allocator_rss_bytes", "rss_overhead_ratio",
                  "rss_overhead_bytes"] { m[f] = "glibc malloc does not report jemalloc's figures" }
        for f in ["used_memory_lua", "used_memory_lua_human", "used_memory_vm_eval", "used_memory_scripts_eval",
                  "used_memory_vm_functions", "used_memory_vm_total", "used_memory_vm_total_human",
                  "used_memory_functions", "evicted_scripts"] { m[f] = "no scripting engine" }
        m["rdb_changes_since_last_save"] = "no snapshot, so no count of changes since one"
        for f in ["total_reads_processed", "total_writes_processed", "reply_buffer_shrinks", "reply_buffer_expands",
                  "clients_in_timeout_table", "client_query_buffer_limit_disconnections", "watching_clients",
                  "total_watched_keys", "total_blocking_keys", "total_blocking_keys_on_nokey", "eventloop_cycles",
                  "eventloop_duration_sum", "eventloop_duration_cmd_sum", "instantaneous_eventloop_cycles_per_sec",
                  "instantaneous_eventloop_duration_usec", "acl_access_denied_auth", "acl_access_denied_cmd",
                  "acl_access_denied_key", "acl_access_denied_channel"] {
            m[f] = "not counted by the connection layer yet"
        }
        m["used_cpu_sys_main_thread"] = "no main thread: commands run on several event loops"
        m["used_cpu_user_main_thread"] = "no main thread: commands run on several event loops"
        return m
    }()

    /// Every field and section Redis 7's INFO shows is in TagCache's, unless it is absent on
    /// purpose; `INFO`, `INFO default`, `INFO all`, `INFO everything` and several sections at once
    /// list the same sections as Redis (TagCache adds its tags and keyprefixes).
    func testInfoHasRedisFieldsAndSections() throws {
        guard let pair = try ServerPair.start("stats parity") else { return }
        defer { pair.stop() }
        let redis = pair.redis, port = pair.tagcachePort
        let r = try RawConnection(port: redis.port)
        let t = try RawConnection(port: port)
        for c in [r, t] { for l in ["SET a:1 1", "GET a:1", "GET b", "NOSUCH"] { _ = try c.call(words(l)) } }
        func lines(_ c: RawConnection, _ args: String) throws -> [String] {
            let reply = try c.call(words("INFO " + args))
            let nl = reply.firstIndex(of: 10) ?? 0
            return String(decoding: reply[(nl + 1)...], as: UTF8.self).split(separator: "\r\n").map(String.init)
        }
        let own: Set<String> = ["# Tags", "# Keyprefixes"]
        for args in ["", "default", "all", "everything", "server clients", "stats CPU keyspace", "commandstats latencystats", "nosuch"] {
            let a = try lines(r, args).filter { $0.hasPrefix("# ") }
            let b = try lines(t, args).filter { $0.hasPrefix("# ") && !own.contains($0) }
            XCTAssertEqual(a, b, "sections of INFO \(args)")
        }
        XCTAssertTrue(try lines(t, "all").contains("# Keyprefixes"))
        XCTAssertFalse(try lines(t, "").contains("# Keyprefixes"))
        let fieldsR = try lines(r, "everything").filter { !$0.hasPrefix("#") }.map { String($0.prefix { $0 != ":" }) }
        let fieldsT = Set(try lines(t, "everything").filter { !$0.hasPrefix("#") }.map { String($0.prefix { $0 != ":" }) })
        for f in fieldsR where !fieldsT.contains(f) && StatsParityTests.absentOnPurpose[f] == nil
            && !f.hasPrefix("cmdstat_") && !f.hasPrefix("errorstat_") && !f.hasPrefix("latency_percentiles_usec_")
            && !f.hasPrefix("db") && f != "redis_build_id" {
            XCTFail("INFO field \(f) is missing (add it with a true value, or to absentOnPurpose with the reason)")
        }
        XCTAssertTrue(fieldsT.contains("latency_percentiles_usec_get"))
        XCTAssertTrue(fieldsT.contains("keyspace_hit_rate"))
    }

    /// SLOWLOG GET's arguments and client names exactly as Redis logs them: cut at 32
    /// arguments and 128 bytes, passwords redacted, EXEC left out, the name set by CLIENT SETNAME.
    func testSlowlogEntriesMatchRedis() throws {
        guard let pair = try ServerPair.start("stats parity") else { return }
        defer { pair.stop() }
        let redis = pair.redis, port = pair.tagcachePort
        let long = String(repeating: "x", count: 300)
        let script: [[String]] = [
            ["CONFIG", "SET", "slowlog-log-slower-than", "0"], ["SLOWLOG", "RESET"],
            ["SADD", "s"] + (1...40).map(String.init), ["SET", "k", long], ["SET", long, "v"],
            ["SADD", "t"] + (1...31).map(String.init), ["SADD", "u"] + (1...30).map(String.init),
            ["SET", "k", String(repeating: "y", count: 128)], ["SET", "k", String(repeating: "z", count: 129)],
            ["AUTH", "secret"], ["AUTH", "user", "secret"], ["HELLO", "2", "AUTH", "default", "secret"],
            ["CONFIG", "SET", "requirepass", "p"], ["CONFIG", "SET", "requirepass", ""],
            ["CONFIG", "SET", "MASTERUSER", "u", "masterauth", "p", "repl-timeout", "60"],
            ["CONFIG", "SET", "masteruser", "", "masterauth", ""],
            ["CLIENT", "SETNAME", "named"], ["MULTI"], ["SET", "a", "1"], ["GET", "a"], ["EXEC"],
            ["GET"], ["NOSUCH"], ["CONFIG", "SET", "slowlog-log-slower-than", "10000"],
        ]
        var logs: [[[String]]] = []
        for p in [redis.port, port] {
            let c = try RawConnection(port: p)
            for cmd in script { _ = try c.call(cmd.map { Array($0.utf8) }) }
            let reply = try c.call([Array("SLOWLOG".utf8), Array("GET".utf8), Array("-1".utf8)])
            var i = 0
            guard case let .array(entries) = parseReply(reply, &i) else { XCTFail("SLOWLOG GET is not an array"); return }
            logs.append(entries.map { e -> [String] in
                guard case let .array(f) = e, f.count == 6, case let .array(a) = f[3],
                      case let .bulk(name) = f[5], case let .bulk(peer) = f[4] else { return ["malformed"] }
                let args = a.map { if case let .bulk(b) = $0 { return b } else { return "?" } }
                return args + ["| name=" + name, "| peer has port=\(peer.contains(":"))"]
            })
            _ = try c.call([Array("SLOWLOG".utf8), Array("RESET".utf8)])
        }
        XCTAssertGreaterThan(logs[1].count, 15)
        XCTAssertTrue(logs[1].contains { $0.contains("... (11 more arguments)") }, "argument cut")
        XCTAssertTrue(logs[1].contains { $0.contains("(redacted)") }, "redaction")
        XCTAssertEqual(logs[0].count, logs[1].count, "entries: redis \(logs[0].count), tagcache \(logs[1].count)")
        for (a, b) in zip(logs[0], logs[1]) where a != b {
            XCTFail("slowlog entry differs\n  redis:    \(a.prefix(40))\n  tagcache: \(b.prefix(40))")
        }
    }

    indirect enum Reply {
        case bulk(String), array([Reply]), other
    }

    func parseReply(_ b: [UInt8], _ i: inout Int) -> Reply {
        var j = i
        while j + 1 < b.count && !(b[j] == 13 && b[j + 1] == 10) { j += 1 }
        let line = Array(b[i..<j])
        i = j + 2
        let n = Int(String(decoding: line.dropFirst(), as: UTF8.self)) ?? 0
        switch line.first {
        case UInt8(ascii: "$"):
            if n < 0 { return .other }
            let s = String(decoding: b[i..<(i + n)], as: UTF8.self)
            i += n + 2
            return .bulk(s)
        case UInt8(ascii: "*"):
            return .array((0..<max(n, 0)).map { _ in parseReply(b, &i) })
        default:
            return .other
        }
    }

    // MARK: helpers

    func words(_ line: String) -> [[UInt8]] {
        line.split(separator: " ").map { Array($0.utf8) }
    }

    func compare(_ before: (Snapshot, Snapshot), _ after: (Snapshot, Snapshot)) -> [String] {
        var out: [String] = []
        for f in ["keyspace_hits", "keyspace_misses", "total_commands_processed", "total_error_replies"] {
            let dr = (after.0.fields[f] ?? 0) - (before.0.fields[f] ?? 0)
            let dt = (after.1.fields[f] ?? 0) - (before.1.fields[f] ?? 0)
            if dr != dt { out.append("\(f) redis +\(dr), tagcache +\(dt)") }
        }
        let names = Set(after.0.commands.keys).union(after.1.commands.keys)
        for c in names.sorted() {
            let z = (calls: 0, rejected: 0, failed: 0)
            let (r0, r1) = (before.0.commands[c] ?? z, after.0.commands[c] ?? z)
            let (t0, t1) = (before.1.commands[c] ?? z, after.1.commands[c] ?? z)
            let dr = (r1.calls - r0.calls, r1.rejected - r0.rejected, r1.failed - r0.failed)
            let dt = (t1.calls - t0.calls, t1.rejected - t0.rejected, t1.failed - t0.failed)
            if dr != dt { out.append("cmdstat_\(c) calls/rejected/failed redis +\(dr), tagcache +\(dt)") }
        }
        for e in Set(after.0.errors.keys).union(after.1.errors.keys).sorted() {
            let dr = (after.0.errors[e] ?? 0) - (before.0.errors[e] ?? 0)
            let dt = (after.1.errors[e] ?? 0) - (before.1.errors[e] ?? 0)
            if dr != dt { out.append("errorstat_\(e) redis +\(dr), tagcache +\(dt)") }
        }
        return out
    }

    func snapshot(_ c: RawConnection) throws -> Snapshot {
        let reply = try c.call(words("INFO stats commandstats errorstats latencystats"))
        // A bulk string: skip the $N header line.
        guard let nl = reply.firstIndex(of: 10) else { return Snapshot() }
        let text = String(decoding: reply[(nl + 1)...], as: UTF8.self)
        var s = Snapshot()
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            let line = String(raw)
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("#") else { continue }
            let k = String(line[..<colon]), v = String(line[line.index(after: colon)...])
            if k.hasPrefix("cmdstat_") {
                var kv: [String: Int] = [:]
                for part in v.split(separator: ",") {
                    let p = part.split(separator: "=")
                    if p.count == 2, let n = Int(p[1]) { kv[String(p[0])] = n }
                }
                s.commands[String(k.dropFirst(8))] = (kv["calls"] ?? 0, kv["rejected_calls"] ?? 0, kv["failed_calls"] ?? 0)
            } else if k.hasPrefix("errorstat_") {
                s.errors[String(k.dropFirst(10))] = Int(v.split(separator: "=").last ?? "") ?? 0
            } else if k.hasPrefix("latency_percentiles_usec_") {
                s.latency.insert(String(k.dropFirst(25)))
            } else if let n = Int(v) {
                s.fields[k] = n
            } else if let d = Double(v) {
                s.fields[k] = Int(d)
            }
        }
        return s
    }
}
