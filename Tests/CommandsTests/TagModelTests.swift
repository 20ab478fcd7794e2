import Commands
import RESP
import Store
import XCTest

/// Model-based test of tags: thousands of seeded random commands (SET with and without TAGS and
/// KEEPTTL, TAG.ADD/REM, DEL, RENAME, COPY, MOVE, APPEND, GETSET, SADD/SREM down to an empty set,
/// EXPIRE/PERSIST, time moving past TTLs, active expiry, FLUSHDB, TAG.INVALIDATE) run through the
/// real handlers; after every step TAG.KEYS / TAG.COUNT / TAG.GET / TAG.TAGS must equal a plain
/// in-test model and every table's index must be consistent with its entries (no dead key).
final class TagModelTests: HandlerTestCase {
    /// One key of the model: its value, the number of clock steps after which it expires, its tags.
    struct Key {
        enum Value: Equatable { case string(String), set(Set<String>) }
        var value: Value
        var expiresAtEpoch: Int?
        var tags: Set<String>
    }

    /// SplitMix64: a seeded generator, so a failure replays exactly.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func testRandomCommandsKeepIndexEqualToModel() {
        // TAG_MODEL_STEPS / TAG_MODEL_SEED replay or lengthen a run.
        let env = ProcessInfo.processInfo.environment
        let steps = Int(env["TAG_MODEL_STEPS"] ?? "") ?? 5000
        let seed = UInt64(env["TAG_MODEL_SEED"] ?? "") ?? 1
        runModel(seed: seed, steps: steps)
    }

    func runModel(seed: UInt64, steps: Int) {
        let keyspace = Keyspace(shards: 4, databases: 2)
        let ctxs = [context(keyspace), context(keyspace)]
        XCTAssertEqual(run(ctxs[1], ["SELECT", "1"]), .simple("OK"))
        var rng = Seeded(state: seed)
        var model: [[String: Key]] = [[:], [:]]
        var epoch = 0
        let keyNames = (0..<12).map { "k\($0)" }
        let tagNames = (0..<6).map { "t\($0)" }
        let unit = 100_000 // one clock step: TTLs are whole steps, so wall time cannot blur them

        func someTags() -> [String] {
            (0..<Int.random(in: 1...3, using: &rng)).map { _ in tagNames.randomElement(using: &rng)! }
        }
        func purge() {
            for db in 0..<2 {
                model[db] = model[db].filter { $0.value.expiresAtEpoch.map { $0 > epoch } ?? true }
            }
        }

        for step in 0..<steps {
            let db = Int.random(in: 0..<10, using: &rng) < 8 ? 0 : 1
            let ctx = ctxs[db]
            let k = keyNames.randomElement(using: &rng)!
            let k2 = keyNames.randomElement(using: &rng)!
            var words: [String] = []
            var expected: Reply?
            let op = Int.random(in: 0..<100, using: &rng)
            switch op {
            case 0..<18:
                // SET k v [PX ttl] [TAGS ...]: the new value drops old tags and TTL.
                let v = "v\(step)"
                words = ["SET", k, v]
                var ttl: Int?
                if Bool.random(using: &rng) {
                    ttl = Int.random(in: 1...3, using: &rng)
                    words += ["PX", String(ttl! * unit)]
                }
                var tags: [String] = []
                if Int.random(in: 0..<4, using: &rng) > 0 {
                    tags = someTags()
                    words += ["TAGS"] + tags
                }
                model[db][k] = Key(value: .string(v), expiresAtEpoch: ttl.map { epoch + $0 }, tags: Set(tags))
                expected = .simple("OK")
            case 18..<24:
                // SET ... KEEPTTL keeps TTL and tags; TAGS adds to them.
                let v = "v\(step)"
                words = ["SET", k, v, "KEEPTTL"]
                let tags = Bool.random(using: &rng) ? someTags() : []
                if !tags.isEmpty { words += ["TAGS"] + tags }
                let old = model[db][k]
                model[db][k] = Key(value: .string(v), expiresAtEpoch: old?.expiresAtEpoch,
                                   tags: (old?.tags ?? []).union(tags))
                expected = .simple("OK")
            case 24..<36:
                let tags = someTags()
                words = ["TAG.ADD", k] + tags
                if var key = model[db][k] {
                    let new = Set(tags).subtracting(key.tags)
                    key.tags.formUnion(tags)
                    model[db][k] = key
                    expected = .integer(new.count)
                } else {
                    expected = .integer(0)
                }
            case 36..<44:
                let tags = someTags()
                words = ["TAG.REM", k] + tags
                if var key = model[db][k] {
                    let gone = Set(tags).intersection(key.tags)
                    key.tags.subtract(tags)
                    model[db][k] = key
                    expected = .integer(gone.count)
                } else {
                    expected = .integer(0)
                }
            case 44..<50:
                words = ["DEL", k, k2]
                var n = 0
                for name in Set([k, k2]) where model[db].removeValue(forKey: name) != nil { n += 1 }
                expected = .integer(n)
            case 50..<55:
                words = ["RENAME", k, k2]
                if let key = model[db][k] {
                    model[db][k] = nil
                    model[db][k2] = key
                    expected = .simple("OK")
                } else {
                    expected = .error("ERR no such key")
                }
            case 55..<59:
                let replace = Bool.random(using: &rng)
                words = ["COPY", k, k2] + (replace ? ["REPLACE"] : [])
                if k == k2 {
                    expected = .error("ERR source and destination objects are the same")
                } else if let key = model[db][k], replace || model[db][k2] == nil {
                    model[db][k2] = key
                    expected = .integer(1)
                } else {
                    expected = .integer(0)
                }
            case 59..<62:
                let other = 1 - db
                words = ["MOVE", k, String(other)]
                if let key = model[db][k], model[other][k] == nil {
                    model[db][k] = nil
                    model[other][k] = key
                    expected = .integer(1)
                } else {
                    expected = .integer(0)
                }
            case 62..<66:
                // APPEND changes the value in place: TTL and tags stay.
                words = ["APPEND", k, "+"]
                if var key = model[db][k] {
                    if case let .string(s) = key.value {
                        key.value = .string(s + "+")
                        model[db][k] = key
                        expected = .integer(s.utf8.count + 1)
                    } else {
                        expected = .error("WRONGTYPE Operation against a key holding the wrong kind of value")
                    }
                } else {
                    model[db][k] = Key(value: .string("+"), expiresAtEpoch: nil, tags: [])
                    expected = .integer(1)
                }
            case 66..<69:
                // GETSET replaces the value and drops TTL and tags.
                words = ["GETSET", k, "g\(step)"]
                if let key = model[db][k] {
                    if case let .string(s) = key.value {
                        model[db][k] = Key(value: .string("g\(step)"), expiresAtEpoch: nil, tags: [])
                        expected = .bulk(s)
                    } else {
                        expected = .error("WRONGTYPE Operation against a key holding the wrong kind of value")
                    }
                } else {
                    model[db][k] = Key(value: .string("g\(step)"), expiresAtEpoch: nil, tags: [])
                    expected = .bulk(nil)
                }
            case 69..<74:
                let m = ["a", "b"].randomElement(using: &rng)!
                words = ["SADD", k, m]
                if var key = model[db][k] {
                    if case var .set(members) = key.value {
                        let added = members.insert(m).inserted
                        key.value = .set(members)
                        model[db][k] = key
                        expected = .integer(added ? 1 : 0)
                    } else {
                        expected = .error("WRONGTYPE Operation against a key holding the wrong kind of value")
                    }
                } else {
                    model[db][k] = Key(value: .set([m]), expiresAtEpoch: nil, tags: [])
                    expected = .integer(1)
                }
            case 74..<78:
                // SREM down to an empty set deletes the key and its tags.
                let m = ["a", "b"].randomElement(using: &rng)!
                words = ["SREM", k, m]
                if var key = model[db][k] {
                    if case var .set(members) = key.value {
                        let removed = members.remove(m) != nil
                        if members.isEmpty {
                            model[db][k] = nil
                        } else {
                            key.value = .set(members)
                            model[db][k] = key
                        }
                        expected = .integer(removed ? 1 : 0)
                    } else {
                        expected = .error("WRONGTYPE Operation against a key holding the wrong kind of value")
                    }
                } else {
                    expected = .integer(0)
                }
            case 78..<82:
                let ttl = Int.random(in: 1...3, using: &rng)
                words = ["EXPIRE", k, String(ttl * unit / 1000)]
                if var key = model[db][k] {
                    key.expiresAtEpoch = epoch + ttl
                    model[db][k] = key
                    expected = .integer(1)
                } else {
                    expected = .integer(0)
                }
            case 82..<84:
                words = ["PERSIST", k]
                if var key = model[db][k], key.expiresAtEpoch != nil {
                    key.expiresAtEpoch = nil
                    model[db][k] = key
                    expected = .integer(1)
                } else {
                    expected = .integer(0)
                }
            case 84..<90:
                // Time passes one step: keys whose TTL ran out expire (lazily, or below actively).
                keyspace.clock.advance(Int64(unit))
                epoch += 1
                purge()
            case 90..<93:
                // A cycle is bounded (it resumes where it stopped), so run until one finds nothing.
                for _ in 0..<10 where keyspace.activeExpireCycle(budgetPerShard: 1 << 20) > 0 {}
                let now = keyspace.clock.nowMs()
                for s in keyspace.shards {
                    for d in 0..<2 {
                        if let t = s.existingTable(d) {
                            XCTAssertEqual(t.tagProblems(now: now), [], "seed \(seed) step \(step): after active expiry")
                        }
                    }
                }
            case 93..<94:
                words = ["FLUSHDB"]
                model[db] = [:]
                expected = .simple("OK")
            default:
                let tags = Array(Set(someTags().prefix(2)))
                words = ["TAG.INVALIDATE"] + tags
                let victims = model[db].filter { !$0.value.tags.isDisjoint(with: tags) }.map(\.key)
                for v in victims { model[db][v] = nil }
                expected = .integer(victims.count)
            }
            if !words.isEmpty {
                let got = run(ctx, words)
                if let e = expected, got != e {
                    XCTFail("seed \(seed) step \(step) db \(db): \(words.joined(separator: " ")) -> \(got), expected \(e)")
                    return
                }
            }
            // The database written is checked after every step, both now and then and after MOVE.
            let dbs = step % 10 == 0 || words.first == "MOVE" ? [0, 1] : [db]
            if !check(ctxs, keyspace, model, keyNames, tagNames, dbs: dbs,
                      label: "seed \(seed) step \(step) after \(words.joined(separator: " "))", scan: step % 50 == 0) {
                return
            }
        }
    }

    /// Compares the tag views of both databases with the model; false after the first mismatch.
    func check(_ ctxs: [CommandContext], _ keyspace: Keyspace, _ model: [[String: Key]], _ keyNames: [String],
               _ tagNames: [String], dbs: [Int], label: String, scan: Bool) -> Bool {
        for db in dbs {
            let ctx = ctxs[db]
            let m = model[db]
            for tag in tagNames {
                let want = m.filter { $0.value.tags.contains(tag) }.map(\.key).sorted()
                let keys = run(ctx, ["TAG.KEYS", tag]).strings.sorted()
                let count = run(ctx, ["TAG.COUNT", tag])
                if keys != want || count != .integer(want.count) {
                    XCTFail("\(label) db \(db): tag \(tag) keys \(keys) count \(count), model \(want)")
                    return false
                }
                if scan {
                    var cursor = "0"
                    var seen = Set<String>()
                    repeat {
                        let r = run(ctx, ["TAG.SCAN", tag, cursor, "COUNT", "2"])
                        guard case let .array(parts) = r, parts.count == 2, case let .bulk(c?) = parts[0] else {
                            XCTFail("\(label): TAG.SCAN reply \(r)")
                            return false
                        }
                        cursor = c
                        seen.formUnion(parts[1].strings)
                    } while cursor != "0"
                    if seen.sorted() != want {
                        XCTFail("\(label) db \(db): TAG.SCAN \(tag) gave \(seen.sorted()), model \(want)")
                        return false
                    }
                }
            }
            for key in keyNames {
                let tags = run(ctx, ["TAG.GET", key]).strings.sorted()
                let want = (m[key]?.tags ?? []).sorted()
                if tags != want {
                    XCTFail("\(label) db \(db): TAG.GET \(key) = \(tags), model \(want)")
                    return false
                }
            }
            let inUse = Set(m.values.flatMap(\.tags)).sorted()
            let listed = run(ctx, ["TAG.TAGS"]).strings.sorted()
            if listed != inUse {
                XCTFail("\(label) db \(db): TAG.TAGS = \(listed), model \(inUse)")
                return false
            }
        }
        for s in keyspace.shards {
            for d in 0..<2 {
                if let t = s.existingTable(d) {
                    let p = t.tagProblems()
                    if !p.isEmpty {
                        XCTFail("\(label): shard \(s.index) db \(d): \(p)")
                        return false
                    }
                }
            }
            // The memory meters follow every change the model makes (used_memory, maxmemory).
            let m = s.memoryProblems()
            if !m.isEmpty {
                XCTFail("\(label): \(m)")
                return false
            }
        }
        return true
    }

    // MARK: feature cases the model does not cover

    func testSetTagsSyntaxAndKeepRules() {
        let keyspace = Keyspace(shards: 4, databases: 2)
        let c = context(keyspace)
        XCTAssertEqual(run(c, ["SET", "k", "v", "TAGS"]), .error("ERR syntax error"))
        XCTAssertEqual(run(c, ["SET", "k", "v", "TAGS", "a", "b", "a"]), .simple("OK"))
        XCTAssertEqual(run(c, ["TAG.GET", "k"]).strings.sorted(), ["a", "b"])
        // Everything after TAGS is a tag, option words included.
        XCTAssertEqual(run(c, ["SET", "k", "v", "EX", "100", "TAGS", "EX", "NX"]), .simple("OK"))
        XCTAssertEqual(run(c, ["TAG.GET", "k"]).strings.sorted(), ["EX", "NX"])
        XCTAssertEqual(run(c, ["TTL", "k"]), .integer(100))
        // NX that fails writes nothing, tags included.
        XCTAssertEqual(run(c, ["SET", "k", "w", "NX", "TAGS", "z"]), .bulk(nil))
        XCTAssertEqual(run(c, ["TAG.GET", "k"]).strings.sorted(), ["EX", "NX"])
        // GET with TAGS replies the old value.
        XCTAssertEqual(run(c, ["SET", "k", "w", "GET", "TAGS", "g"]), .bulk("v"))
        XCTAssertEqual(run(c, ["TAG.GET", "k"]).strings, ["g"])
        // In-place changes keep tags: INCR, INCRBYFLOAT (a rewrite keeping the TTL), SETRANGE.
        XCTAssertEqual(run(c, ["SET", "n", "1", "EX", "100", "TAGS", "num"]), .simple("OK"))
        XCTAssertEqual(run(c, ["INCR", "n"]), .integer(2))
        XCTAssertEqual(run(c, ["INCRBYFLOAT", "n", "0.5"]), .bulk("2.5"))
        XCTAssertEqual(run(c, ["SETRANGE", "n", "0", "3"]), .integer(3))
        XCTAssertEqual(run(c, ["GETEX", "n", "PERSIST"]), .bulk("3.5"))
        XCTAssertEqual(run(c, ["TAG.GET", "n"]).strings, ["num"])
        // Replacements drop them: SETEX, MSET, SET without KEEPTTL.
        XCTAssertEqual(run(c, ["SETEX", "n", "100", "x"]), .simple("OK"))
        XCTAssertEqual(run(c, ["TAG.GET", "n"]).strings, [])
        XCTAssertEqual(run(c, ["TAG.ADD", "n", "num"]), .integer(1))
        XCTAssertEqual(run(c, ["MSET", "n", "y"]), .simple("OK"))
        XCTAssertEqual(run(c, ["TAG.COUNT", "num"]), .integer(0))
        // GETDEL and an expiry in the past remove the key and its tags.
        XCTAssertEqual(run(c, ["SET", "d", "1", "TAGS", "gone"]), .simple("OK"))
        XCTAssertEqual(run(c, ["GETDEL", "d"]), .bulk("1"))
        XCTAssertEqual(run(c, ["SET", "d", "1", "TAGS", "gone"]), .simple("OK"))
        XCTAssertEqual(run(c, ["EXPIRE", "d", "-1"]), .integer(1))
        XCTAssertEqual(run(c, ["TAG.TAGS", "gone"]).strings, [])
        // Tags on every type; an aggregate keeps them through writes.
        XCTAssertEqual(run(c, ["HSET", "h", "f", "v"]), .integer(1))
        XCTAssertEqual(run(c, ["TAG.ADD", "h", "agg"]), .integer(1))
        XCTAssertEqual(run(c, ["HSET", "h", "g", "w"]), .integer(1))
        XCTAssertEqual(run(c, ["TAG.KEYS", "agg"]).strings, ["h"])
        XCTAssertEqual(run(c, ["HDEL", "h", "f", "g"]), .integer(2))
        XCTAssertEqual(run(c, ["TAG.KEYS", "agg"]).strings, [])
        // RENAME onto a tagged key replaces the destination's tags with the source's.
        XCTAssertEqual(run(c, ["SET", "a", "1", "TAGS", "ta"]), .simple("OK"))
        XCTAssertEqual(run(c, ["SET", "b", "2", "TAGS", "tb"]), .simple("OK"))
        XCTAssertEqual(run(c, ["RENAME", "a", "b"]), .simple("OK"))
        XCTAssertEqual(run(c, ["TAG.GET", "b"]).strings, ["ta"])
        XCTAssertEqual(run(c, ["TAG.COUNT", "tb"]), .integer(0))
        // Tags are per database.
        XCTAssertEqual(run(c, ["MOVE", "b", "1"]), .integer(1))
        XCTAssertEqual(run(c, ["TAG.COUNT", "ta"]), .integer(0))
        XCTAssertEqual(run(c, ["SELECT", "1"]), .simple("OK"))
        XCTAssertEqual(run(c, ["TAG.KEYS", "ta"]).strings, ["b"])
        XCTAssertEqual(run(c, ["COPY", "b", "b2", "DB", "0"]), .integer(1))
        XCTAssertEqual(run(c, ["SELECT", "0"]), .simple("OK"))
        XCTAssertEqual(run(c, ["TAG.KEYS", "ta"]).strings, ["b2"])
        // Errors.
        XCTAssertEqual(run(c, ["TAG.ADD", "k"]), .error("ERR wrong number of arguments for 'tag.add' command"))
        XCTAssertEqual(run(c, ["TAG.SCAN", "t", "x"]), .error("ERR invalid cursor"))
        XCTAssertEqual(run(c, ["TAG.SCAN", "t", "0", "COUNT", "0"]), .error("ERR syntax error"))
        XCTAssertEqual(run(c, ["TAG.SCAN", "t", "0", "COUNT", "x"]), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(run(c, ["TAG.TAGS", "a", "b"]), .error("ERR syntax error"))
        for s in keyspace.shards {
            for d in 0..<2 { if let t = s.existingTable(d) { XCTAssertEqual(t.tagProblems(), []) } }
        }
    }

    /// TAG.INVALIDATE on more keys than one batch, across shards, with other keys left alone;
    /// the index and its memory go back to nothing.
    func testInvalidateManyKeysInBatches() {
        let keyspace = Keyspace(shards: 4, databases: 1)
        let c = context(keyspace)
        let empty = keyspace.memoryBytes()
        for i in 0..<5000 {
            let tags = i % 2 == 0 ? ["even", "all"] : ["odd", "all"]
            XCTAssertEqual(run(c, ["SET", "k\(i)", "v", "TAGS"] + tags), .simple("OK"))
        }
        XCTAssertEqual(run(c, ["SET", "plain", "v"]), .simple("OK"))
        XCTAssertGreaterThan(keyspace.memoryBytes(), empty)
        XCTAssertEqual(run(c, ["TAG.COUNT", "all"]), .integer(5000))
        XCTAssertEqual(run(c, ["TAG.INVALIDATE", "even", "nosuch"]), .integer(2500))
        XCTAssertEqual(run(c, ["TAG.COUNT", "all"]), .integer(2500))
        XCTAssertEqual(run(c, ["TAG.INVALIDATE", "odd", "all"]), .integer(2500))
        XCTAssertEqual(run(c, ["DBSIZE"]), .integer(1))
        XCTAssertEqual(run(c, ["TAG.TAGS"]).strings, [])
        for s in keyspace.shards {
            XCTAssertNil(s.existingTable(0)?.tags, "shard \(s.index) keeps an index")
            // Emptied tables are dropped, the others shrunk back.
            XCTAssertLessThanOrEqual(s.existingTable(0)?.capacity ?? 0, 16, "shard \(s.index)")
        }
        XCTAssertLessThan(keyspace.memoryBytes(), empty + 1024)
    }
}

/// A parsed RESP2 reply.
enum Reply: Equatable, CustomStringConvertible {
    case simple(String), error(String), integer(Int), bulk(String?), array([Reply])

    static func parse(_ b: [UInt8], _ i: inout Int) -> Reply {
        func line() -> String {
            var j = i
            while j + 1 < b.count && !(b[j] == 13 && b[j + 1] == 10) { j += 1 }
            let s = String(decoding: b[(i + 1)..<j], as: UTF8.self)
            i = j + 2
            return s
        }
        guard i < b.count else { return .error("(no reply)") }
        switch b[i] {
        case 43: return .simple(line())
        case 45: return .error(line())
        case 58: return .integer(Int(line()) ?? Int.min)
        case 36:
            let n = Int(line()) ?? -1
            if n < 0 { return .bulk(nil) }
            let s = String(decoding: b[i..<(i + n)], as: UTF8.self)
            i += n + 2
            return .bulk(s)
        case 42, 126:
            let n = Int(line()) ?? -1
            return .array((0..<max(n, 0)).map { _ in parse(b, &i) })
        default:
            return .error("(unparsed \(b[i]))")
        }
    }

    /// The bulk strings of an array reply.
    var strings: [String] {
        guard case let .array(items) = self else { return [] }
        return items.compactMap { if case let .bulk(s?) = $0 { return s } else { return nil } }
    }

    var description: String {
        switch self {
        case let .simple(s): return "+\(s)"
        case let .error(s): return "-\(s)"
        case let .integer(n): return ":\(n)"
        case let .bulk(s): return s.map { "\"\($0)\"" } ?? "nil"
        case let .array(a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
