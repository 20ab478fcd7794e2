import Foundation
import Glibc
import XCTest

/// SCAN's guarantee under load: a full iteration returns every key that existed for the whole
/// iteration, while other clients insert and delete enough keys to grow and shrink the tables.
final class ScanGuaranteeTests: XCTestCase {
    func testFullIterationSeesEveryStableKeyWhileTablesResize() throws {
        let s = try TestServer()
        defer { s.stop() }
        let setup = try s.client()
        var batch: [UInt8] = []
        for i in 0..<5000 { batch += TestClient.encode(["SET", "stable:\(i)", "v"]) }
        try setup.send(raw: batch)
        for _ in 0..<5000 { _ = try setup.readReply() }

        // Two writers churn 20,000 keys in and out (pipelined, bounded in time).
        let stop = Stop()
        var writers: [Thread] = []
        for w in 0..<2 {
            let box = Unchecked(try s.client())
            let t = Thread {
                let c = box.value
                var round = 0
                while !stop.isSet && round < 400 {
                    var b: [UInt8] = []
                    let base = (round % 4) * 5000
                    for i in 0..<500 {
                        let k = "churn:\(w):\(base + (round * 500 + i) % 5000)"
                        b += TestClient.encode(round % 8 < 4 ? ["SET", k, "x"] : ["DEL", k])
                    }
                    guard (try? c.send(raw: b)) != nil else { return }
                    for _ in 0..<500 { if (try? c.readReply()) == nil { return } }
                    round += 1
                }
            }
            writers.append(t)
            t.start()
        }

        let scanner = try s.client()
        for pass in 0..<3 {
            var seen = Set<String>()
            var cursor = "0"
            var calls = 0
            repeat {
                let r = try scanner.commandBytes([Array("SCAN".utf8), Array(cursor.utf8), Array("COUNT".utf8), Array("50".utf8)])
                let (next, keys) = try parseScan(r)
                cursor = next
                for k in keys where k.hasPrefix("stable:") { seen.insert(k) }
                calls += 1
            } while cursor != "0" && calls < 100_000
            XCTAssertEqual(cursor, "0", "pass \(pass): iteration did not finish")
            let missing = (0..<5000).filter { !seen.contains("stable:\($0)") }
            XCTAssertTrue(missing.isEmpty, "pass \(pass): SCAN missed \(missing.count) stable keys, e.g. \(missing.prefix(5))")
        }
        stop.set()
        for t in writers { while t.isExecuting { usleep(1000) } }
    }

    // MARK: HSCAN, SSCAN and TAG.SCAN
    //
    // The interleaved tests let a second connection write between every two calls of the
    // scanner, so each run replays the same interleaving: iterations while whole cycles of churn
    // grow the value and shrink it back, one iteration while the churn grows (the table doubles
    // under the cursor) and one while it shrinks (the table halves and folds buckets the cursor
    // has not reached onto buckets it has passed). The concurrent tests run the same churn on a
    // writer thread as fast as it goes.

    /// HSCAN of a hashtable-encoded hash of 600 fields while 12,000 more come and go: the table
    /// grows from 1,024 to 32,768 slots and shrinks to 8,192 (a table shrinks below a sixteenth
    /// full, so the stable part must stay small for that to happen).
    func testHscanSeesEveryStableFieldWhileTheTableGrowsAndShrinks() throws {
        let s = try TestServer()
        defer { s.stop() }
        let w = Self.hashWorkload(key: "h", stable: 600, perBatch: 400, batches: 30, count: 50)
        try fill(s, w.setup)
        try assertEncoding(s, "h", "hashtable")
        let out = try runInterleaved(s, w, cyclingRounds: 100)
        XCTAssertGreaterThanOrEqual(out.longestPass, 2 * w.batches, "no iteration lived through a whole cycle")
    }

    /// HSCAN of a hash that starts as a listpack of 200 fields and grows past 512 (the
    /// conversion to a hash table) and on to 4,200 fields, while iterations run: the first ones
    /// get the listpack whole, later ones start on a young table that doubles under them.
    func testHscanWhileTheHashConvertsFromListpackToHashtable() throws {
        let s = try TestServer()
        defer { s.stop() }
        let w = Self.hashWorkload(key: "small", stable: 200, perBatch: 40, batches: 100, count: 5)
        try fill(s, w.setup)
        try assertEncoding(s, "small", "listpack")
        let out = try runInterleaved(s, w, cyclingRounds: 100)
        try assertEncoding(s, "small", "hashtable")
        XCTAssertGreaterThanOrEqual(out.passes, 5)
    }

    /// HSCAN with a writer thread adding and deleting fields as fast as it can.
    func testHscanUnderAConcurrentWriter() throws {
        let s = try TestServer()
        defer { s.stop() }
        let w = Self.hashWorkload(key: "h", stable: 600, perBatch: 400, batches: 30, count: 20)
        try fill(s, w.setup)
        try runConcurrently(s, w, passes: 3, maxRounds: 1000)
    }

    /// SSCAN of a set of 600 strings (a hash table) while 12,000 more come and go: the table grows
    /// from 1,024 to 32,768 slots and shrinks to 8,192.
    func testSscanSeesEveryStableMemberWhileTheTableGrowsAndShrinks() throws {
        let s = try TestServer()
        defer { s.stop() }
        let w = Self.setWorkload(key: "s", stable: (0..<600).map { "m:\($0)" }, churn: { "c:\($0)" },
                                 perBatch: 400, batches: 30, count: 50)
        try fill(s, w.setup)
        try assertEncoding(s, "s", "hashtable")
        let out = try runInterleaved(s, w, cyclingRounds: 100)
        XCTAssertGreaterThanOrEqual(out.longestPass, 2 * w.batches, "no iteration lived through a whole cycle")
    }

    /// SSCAN of an intset of 300 integers that grows past 512 members (conversion to a hash
    /// table), and of a small set of strings (the packed form) that grows past 128 members.
    func testSscanWhileTheSetConvertsToHashtable() throws {
        let s = try TestServer()
        defer { s.stop() }
        let ints = Self.setWorkload(key: "ints", stable: (0..<300).map { String($0) }, churn: { String(100_000 + $0) },
                                    perBatch: 40, batches: 100, count: 5)
        try fill(s, ints.setup)
        try assertEncoding(s, "ints", "intset")
        let a = try runInterleaved(s, ints, cyclingRounds: 100)
        try assertEncoding(s, "ints", "hashtable")
        XCTAssertGreaterThanOrEqual(a.passes, 5)

        let strings = Self.setWorkload(key: "strs", stable: (0..<60).map { "m:\($0)" }, churn: { "c:\($0)" },
                                       perBatch: 20, batches: 100, count: 5)
        try fill(s, strings.setup)
        let b = try runInterleaved(s, strings, cyclingRounds: 100)
        XCTAssertGreaterThanOrEqual(b.passes, 5)
    }

    /// SSCAN with a writer thread.
    func testSscanUnderAConcurrentWriter() throws {
        let s = try TestServer()
        defer { s.stop() }
        let w = Self.setWorkload(key: "s", stable: (0..<600).map { "m:\($0)" }, churn: { "c:\($0)" },
                                 perBatch: 400, batches: 30, count: 20)
        try fill(s, w.setup)
        try runConcurrently(s, w, passes: 3, maxRounds: 1000)
    }

    /// TAG.SCAN of 1,000 keys carrying "blue" while 6,000 more keys get the tag and lose it again
    /// (DEL, or TAG.INVALIDATE of a second tag they carry), keys with the tag expire, and stable
    /// keys gain and lose other tags. Four shards, so that each shard's set of the tag is big
    /// enough to grow from 512 to 4,096 slots and shrink to 1,024 while the scanner is in it.
    func testTagScanSeesEveryStableKeyWhileTheTagGrowsAndShrinks() throws {
        let s = try TestServer(["shards": "4"])
        defer { s.stop() }
        let w = Self.tagWorkload(stable: 1000, perBatch: 500, batches: 12, count: 50)
        try fill(s, w.setup)
        let out = try runInterleaved(s, w, cyclingRounds: 40)
        XCTAssertGreaterThanOrEqual(out.longestPass, 2 * w.batches, "no iteration lived through a whole cycle")
    }

    /// TAG.SCAN with a writer thread.
    func testTagScanUnderAConcurrentWriter() throws {
        let s = try TestServer()
        defer { s.stop() }
        let w = Self.tagWorkload(stable: 2000, perBatch: 100, batches: 25, count: 10)
        try fill(s, w.setup)
        try runConcurrently(s, w, passes: 5, maxRounds: 1000)
    }

    /// Every cursor the four commands hand out is an unsigned decimal, and each of them takes
    /// any unsigned 64-bit cursor (a negative one wraps, as strtoul does in Redis) and refuses
    /// anything else with Redis's error, whatever the key holds.
    func testCursorsAreUnsigned64BitDecimals() throws {
        let s = try TestServer()
        defer { s.stop() }
        try fill(s, Self.hashWorkload(key: "h", stable: 1000, perBatch: 1, batches: 1, count: 10).setup
            + Self.setWorkload(key: "s", stable: (0..<1000).map { "m:\($0)" }, churn: { "\($0)" }, perBatch: 1, batches: 1, count: 10).setup
            + Self.tagWorkload(stable: 1000, perBatch: 1, batches: 1, count: 10).setup)
        let c = try s.client()
        let heads: [[String]] = [["SCAN"], ["HSCAN", "h"], ["SSCAN", "s"], ["TAG.SCAN", "blue"],
                                 ["HSCAN", "nokey"], ["SSCAN", "nokey"], ["TAG.SCAN", "nosuch"]]
        for head in heads {
            for cursor in ["18446744073709551615", "-1", "-18446744073709551615", "+7", "", "0000000000000000000000042"] {
                let (next, items) = try parseScan(try c.commandBytes((head + [cursor, "MATCH", "nothing*"]).map { Array($0.utf8) }))
                XCTAssertTrue(Self.isCursor(next), "\(head) \(cursor): next cursor \(next.debugDescription)")
                XCTAssertEqual(items, [], "\(head) \(cursor)")
            }
            for cursor in ["18446744073709551616", "-18446744073709551616", "99999999999999999999", "abc", " 1", "1 ",
                           "1x", "0x10", "1.0", "-", "+"] {
                assertReply(TestClient.text(try c.commandBytes((head + [cursor]).map { Array($0.utf8) })), "-ERR invalid cursor\r\n",
                            "\(head) \(cursor.debugDescription)")
            }
            // Every cursor of a whole iteration is canonical and resumes where it left off.
            var cursor = "0"
            var calls = 0
            repeat {
                let (next, _) = try parseScan(try c.commandBytes((head + [cursor, "COUNT", "3"]).map { Array($0.utf8) }))
                XCTAssertTrue(Self.isCursor(next), "\(head): cursor \(next.debugDescription)")
                cursor = next
                calls += 1
            } while cursor != "0" && calls < 100_000
            XCTAssertEqual(cursor, "0", "\(head): iteration did not finish")
        }
    }

    // MARK: workloads

    /// A SCAN-family command under churn: how to call it, what must come back, and the batches
    /// of elements a writer adds and removes while the scanner iterates.
    struct ScanWorkload: Sendable {
        let name: String
        /// Commands creating what the scanner must see (pipelined).
        let setup: [[String]]
        /// The command for a cursor.
        let call: @Sendable (String) -> [String]
        /// HSCAN: the reply alternates field and value.
        let pairs: Bool
        /// Elements present for the whole run -> their value (HSCAN) or "".
        let stable: [String: String]
        /// Whether an element may have been added by the writer.
        let isChurn: @Sendable (String) -> Bool
        /// Churn batches: add(b) and remove(b) for b in 0..<batches (pipelined).
        let batches: Int
        let add: @Sendable (Int) -> [[String]]
        let remove: @Sendable (Int) -> [[String]]

        /// A round of the grow/shrink cycle: every batch added, then every batch removed.
        func churn(_ round: Int) -> [[String]] {
            let step = round % (2 * batches)
            return step < batches ? add(step) : remove(step - batches)
        }
    }

    /// A hash of `stable` fields s:i = vi, churned by batches of `perBatch` fields c:j.
    static func hashWorkload(key: String, stable: Int, perBatch: Int, batches: Int, count: Int) -> ScanWorkload {
        var setup: [[String]] = []
        var values: [String: String] = [:]
        for chunk in stride(from: 0, to: stable, by: 500) {
            var cmd = ["HSET", key]
            for i in chunk..<min(chunk + 500, stable) {
                cmd += ["s:\(i)", "v\(i)"]
                values["s:\(i)"] = "v\(i)"
            }
            setup.append(cmd)
        }
        let fields: @Sendable (Int) -> [String] = { b in (b * perBatch..<(b + 1) * perBatch).map { "c:\($0)" } }
        return ScanWorkload(
            name: "HSCAN \(key)", setup: setup,
            call: { ["HSCAN", key, $0, "COUNT", String(count)] }, pairs: true, stable: values,
            isChurn: { $0.hasPrefix("c:") }, batches: batches,
            add: { [["HSET", key] + fields($0).flatMap { [$0, "x"] }] },
            remove: { [["HDEL", key] + fields($0)] })
    }

    /// A set of the `stable` members, churned by batches of `perBatch` members named by `churn`.
    static func setWorkload(key: String, stable: [String], churn name: @escaping @Sendable (Int) -> String,
                            perBatch: Int, batches: Int, count: Int) -> ScanWorkload {
        var setup: [[String]] = []
        for chunk in stride(from: 0, to: stable.count, by: 500) {
            setup.append(["SADD", key] + stable[chunk..<min(chunk + 500, stable.count)])
        }
        let churned = Set((0..<(batches * perBatch)).map(name))
        let members: @Sendable (Int) -> [String] = { b in (b * perBatch..<(b + 1) * perBatch).map(name) }
        return ScanWorkload(
            name: "SSCAN \(key)", setup: setup,
            call: { ["SSCAN", key, $0, "COUNT", String(count)] }, pairs: false,
            stable: Dictionary(uniqueKeysWithValues: stable.map { ($0, "") }),
            isChurn: { churned.contains($0) }, batches: batches,
            add: { [["SADD", key] + members($0)] },
            remove: { [["SREM", key] + members($0)] })
    }

    /// `stable` keys st:i carrying the tag "blue". Batch b adds `perBatch` keys ch:j tagged "blue"
    /// and "g:b", five keys tagged "blue" that expire at once, and two more tags on 100 stable
    /// keys (their records move to a tag array); removing it deletes the ch: keys (DEL for even
    /// batches, TAG.INVALIDATE g:b for odd ones) and takes the extra tags off again.
    static func tagWorkload(stable: Int, perBatch: Int, batches: Int, count: Int) -> ScanWorkload {
        var setup: [[String]] = []
        var keys: [String: String] = [:]
        for i in 0..<stable {
            setup.append(["SET", "st:\(i)", "v", "TAGS", "blue"])
            keys["st:\(i)"] = ""
        }
        let names: @Sendable (Int) -> [String] = { b in (b * perBatch..<(b + 1) * perBatch).map { "ch:\($0)" } }
        let extra: @Sendable (Int) -> [String] = { b in (b * 100..<(b + 1) * 100).map { "st:\($0 % stable)" } }
        return ScanWorkload(
            name: "TAG.SCAN blue", setup: setup,
            call: { ["TAG.SCAN", "blue", $0, "COUNT", String(count)] }, pairs: false, stable: keys,
            isChurn: { $0.hasPrefix("ch:") || $0.hasPrefix("ex:") }, batches: batches,
            add: { b in
                names(b).map { ["SET", $0, "x", "TAGS", "blue", "g:\(b)"] }
                    + (0..<5).map { ["SET", "ex:\(b):\($0)", "x", "PX", "1", "TAGS", "blue"] }
                    + extra(b).map { ["TAG.ADD", $0, "red", "green"] }
            },
            remove: { b in
                (b % 2 == 0 ? [["DEL"] + names(b)] : [["TAG.INVALIDATE", "g:\(b)"]])
                    + extra(b).map { ["TAG.REM", $0, "red", "green"] }
            })
    }

    // MARK: running a workload

    struct ScanOutcome {
        var passes = 0
        var calls = 0
        var rounds = 0
        /// The most writer rounds within one iteration.
        var longestPass = 0
    }

    /// Iterations with a write after every call: while grow/shrink cycles run (until the writer
    /// has done `cyclingRounds` rounds), then one while the churn grows batch by batch, then one
    /// while it shrinks batch by batch from all batches added.
    @discardableResult
    func runInterleaved(_ s: TestServer, _ w: ScanWorkload, cyclingRounds: Int) throws -> ScanOutcome {
        let scanner = try s.client()
        let writer = try s.client()
        var out = ScanOutcome()
        func pass(_ between: (Int) throws -> Void) throws {
            let (seen, calls) = try iterate(scanner, w, between: between)
            out.passes += 1
            out.calls += calls
            check(w, seen, pass: out.passes)
        }
        func write(_ commands: [[String]]) throws { try Self.pipeline(writer, commands, w.name) }

        var round = 0
        while round < cyclingRounds {
            let before = round
            try pass { _ in
                try write(w.churn(round))
                round += 1
            }
            out.longestPass = max(out.longestPass, round - before)
        }
        out.rounds = round
        for b in 0..<w.batches { try write(w.remove(b)) }
        try pass { call in if call < w.batches { try write(w.add(call)) } }
        for b in 0..<w.batches { try write(w.remove(b)) }
        for b in 0..<w.batches { try write(w.add(b)) }
        try pass { call in if call < w.batches { try write(w.remove(call)) } }
        return out
    }

    /// `passes` full iterations while a thread runs the writer's rounds (at most `maxRounds`).
    @discardableResult
    func runConcurrently(_ s: TestServer, _ w: ScanWorkload, passes: Int, maxRounds: Int) throws -> ScanOutcome {
        let writer = ChurnWriter(try s.client(), w, maxRounds: maxRounds)
        defer { writer.finish() }
        let scanner = try s.client()
        var out = ScanOutcome()
        for _ in 0..<passes {
            let (seen, calls) = try iterate(scanner, w) { _ in }
            out.passes += 1
            out.calls += calls
            check(w, seen, pass: out.passes)
        }
        out.rounds = writer.finish()
        XCTAssertNil(writer.failure, "\(w.name): the writer failed")
        return out
    }

    /// One full iteration from cursor 0; `between` runs after every call with the call's index.
    func iterate(_ c: TestClient, _ w: ScanWorkload, between: (Int) throws -> Void) throws -> (seen: [String: String], calls: Int) {
        var seen: [String: String] = [:]
        var cursor = "0"
        var calls = 0
        repeat {
            let (next, items) = try parseScan(try c.commandBytes(w.call(cursor).map { Array($0.utf8) }))
            XCTAssertTrue(Self.isCursor(next), "\(w.name): cursor \(next.debugDescription) is not an unsigned 64-bit decimal")
            if w.pairs {
                XCTAssertEqual(items.count % 2, 0, "\(w.name): odd number of elements")
                for i in stride(from: 0, to: items.count - 1, by: 2) { seen[items[i]] = items[i + 1] }
            } else {
                for k in items { seen[k] = "" }
            }
            cursor = next
            try between(calls)
            calls += 1
        } while cursor != "0" && calls < 200_000
        XCTAssertEqual(cursor, "0", "\(w.name): iteration did not finish")
        return (seen, calls)
    }

    /// Every stable element was returned (with its value), and nothing the run never wrote.
    func check(_ w: ScanWorkload, _ seen: [String: String], pass: Int) {
        let missing = w.stable.keys.filter { seen[$0] == nil }.sorted()
        XCTAssertTrue(missing.isEmpty, "\(w.name) pass \(pass): missed \(missing.count) of \(w.stable.count) stable elements, e.g. \(missing.prefix(5))")
        let wrong = w.stable.filter { seen[$0.key] != nil && seen[$0.key] != $0.value }.keys.sorted()
        XCTAssertTrue(wrong.isEmpty, "\(w.name) pass \(pass): wrong values for \(wrong.prefix(5))")
        let unknown = seen.keys.filter { w.stable[$0] == nil && !w.isChurn($0) }.sorted()
        XCTAssertTrue(unknown.isEmpty, "\(w.name) pass \(pass): returned elements nobody wrote: \(unknown.prefix(5))")
    }

    /// A cursor as SCAN hands it out: decimal digits, no sign, no leading zero, at most 2^64-1.
    static func isCursor(_ s: String) -> Bool {
        guard let v = UInt64(s) else { return false }
        return String(v) == s
    }

    /// Sends commands in one write and reads every reply; an error reply throws.
    static func pipeline(_ c: TestClient, _ commands: [[String]], _ what: String) throws {
        if commands.isEmpty { return }
        var b: [UInt8] = []
        for cmd in commands { b += TestClient.encode(cmd) }
        try c.send(raw: b)
        for cmd in commands {
            let r = try c.readReply()
            if r.first == UInt8(ascii: "-") {
                throw TestClientError.malformed("\(what): \(cmd.prefix(3)) got \(TestClient.text(r))")
            }
        }
    }

    func fill(_ s: TestServer, _ commands: [[String]]) throws {
        let c = try s.client()
        for chunk in stride(from: 0, to: commands.count, by: 1000) {
            try Self.pipeline(c, Array(commands[chunk..<min(chunk + 1000, commands.count)]), "setup")
        }
    }

    func assertEncoding(_ s: TestServer, _ key: String, _ encoding: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = try s.client()
        assertReply(try c.command("OBJECT", "ENCODING", key), "$\(encoding.utf8.count)\r\n\(encoding)\r\n", key, file: file, line: line)
    }

    /// Reads `*2 $cursor *N $key...` into (cursor, keys).
    func parseScan(_ r: [UInt8]) throws -> (String, [String]) {
        let text = String(decoding: r, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n")
        guard parts.count >= 4, parts[0] == "*2" else { throw TestClientError.malformed(text) }
        let cursor = parts[2]
        var keys: [String] = []
        var i = 4
        while i + 1 < parts.count {
            keys.append(parts[i + 1])
            i += 2
        }
        return (cursor, keys)
    }
}

/// A flag other threads can read.
final class Stop: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

/// Hands a value to another thread in a test (the test owns the synchronization).
final class Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}

/// A connection running a workload's churn rounds on its own thread until `finish()`.
final class ChurnWriter: @unchecked Sendable {
    private let lock = NSLock()
    private var stopping = false
    private var done = 0
    private var error: String?
    private let finished = DispatchSemaphore(value: 0)
    private var joined = false

    init(_ client: TestClient, _ w: ScanGuaranteeTests.ScanWorkload, maxRounds: Int) {
        let box = Unchecked(client)
        let t = Thread { [self] in
            var round = 0
            while round < maxRounds && !self.isStopping {
                do {
                    try ScanGuaranteeTests.pipeline(box.value, w.churn(round), w.name)
                } catch {
                    self.fail("\(error)")
                    break
                }
                round += 1
                self.lock.lock(); self.done = round; self.lock.unlock()
            }
            self.finished.signal()
        }
        t.start()
    }

    private var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return stopping }

    private func fail(_ m: String) { lock.lock(); error = m; lock.unlock() }

    /// What went wrong in the writer, if anything.
    var failure: String? { lock.lock(); defer { lock.unlock() }; return error }

    /// Stops the writer and waits for its thread; returns the rounds it completed.
    @discardableResult
    func finish() -> Int {
        lock.lock()
        stopping = true
        let wait = !joined
        joined = true
        lock.unlock()
        if wait { finished.wait() }
        lock.lock(); defer { lock.unlock() }
        return done
    }
}
