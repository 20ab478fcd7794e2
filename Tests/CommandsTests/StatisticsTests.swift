@testable import Commands
import RESP
import Store
import XCTest

/// The statistics kept on the request path: latency histograms, the key-prefix sketch, the
/// slow log, and how Dispatcher.call feeds them.
final class StatisticsTests: XCTestCase {
    func testHistogramBucketsHoldTheirValuesWithinASixteenth() {
        var values: [UInt64] = Array(0...200)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 { values.append(UInt64.random(in: 0...(1 << 47), using: &rng) >> UInt64.random(in: 0...40, using: &rng)) }
        for v in values {
            let b = LatencyHistograms.bucket(v)
            XCTAssertTrue(b >= 0 && b < LatencyHistograms.bucketCount)
            let high = LatencyHistograms.highestValue(b)
            XCTAssertGreaterThanOrEqual(high, v)
            XCTAssertEqual(LatencyHistograms.bucket(high), b)
            if b > 0 { XCTAssertLessThan(LatencyHistograms.highestValue(b - 1), v, "value \(v) bucket \(b)") }
            XCTAssertLessThanOrEqual(Double(high - v), Double(v) / 16 + 1, "value \(v)")
        }
        XCTAssertEqual(LatencyHistograms.bucket(UInt64.max), LatencyHistograms.bucketCount - 1)
    }

    func testPercentilesAsHdrHistogramComputesThem() {
        let h = LatencyHistograms(commandSlots: 2)
        for v in 1...100 { h.record(1, ticks: UInt64(v)) }
        var merged = [UInt64](repeating: 0, count: LatencyHistograms.bucketCount)
        XCTAssertFalse(h.add(0, into: &merged))
        XCTAssertTrue(h.add(1, into: &merged))
        XCTAssertEqual(LatencyHistograms.valueAtPercentile(merged, 0), LatencyHistograms.highestValue(LatencyHistograms.bucket(1)))
        let p50 = LatencyHistograms.valueAtPercentile(merged, 50)
        XCTAssertTrue((50...53).contains(p50), "p50 \(p50)")
        let p99 = LatencyHistograms.valueAtPercentile(merged, 99)
        XCTAssertTrue((99...103).contains(p99), "p99 \(p99)")
        XCTAssertEqual(LatencyHistograms.valueAtPercentile(merged, 100), LatencyHistograms.highestValue(LatencyHistograms.bucket(100)))
        h.reset()
        merged = [UInt64](repeating: 0, count: LatencyHistograms.bucketCount)
        XCTAssertFalse(h.add(1, into: &merged))
        XCTAssertEqual(LatencyHistograms.valueAtPercentile(merged, 50), 0)
    }

    func record(_ s: PrefixSketch, _ prefix: String, hit: Bool = true) {
        var p = prefix
        p.withUTF8 { b in
            let raw = UnsafeRawPointer(b.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            s.record(raw, b.count, hash: PrefixSketch.hash(raw, b.count), hit: hit)
        }
    }

    func testSketchKeepsTheHeavyHittersAmongMillionsOfPrefixes() {
        let s = PrefixSketch(maxCapacity: 256)
        s.configure(capacity: 64)
        var truth: [String: Int] = [:]
        let heavy = ["user", "session", "cart", "feed", "img"]
        var rng = SystemRandomNumberGenerator()
        for i in 0..<300_000 {
            let p: String
            if i % 2 == 0 {
                p = heavy[Int.random(in: 0..<heavy.count, using: &rng)]
            } else {
                p = "rnd\(UInt64.random(in: 0...UInt64.max, using: &rng))"
            }
            truth[p, default: 0] += 1
            record(s, p, hit: i % 3 != 0)
        }
        let snap = s.snapshot()
        XCTAssertEqual(snap.count, 64)
        XCTAssertEqual(Set(snap.map { String(decoding: $0.prefix, as: UTF8.self) }).count, 64, "a prefix twice")
        for h in heavy {
            guard let e = snap.first(where: { $0.prefix == Array(h.utf8) }) else {
                XCTFail("\(h) lost")
                continue
            }
            XCTAssertGreaterThanOrEqual(e.count, truth[h]!)
            XCTAssertLessThanOrEqual(e.count - e.error, truth[h]!)
            XCTAssertLessThanOrEqual(e.hits + e.misses, e.count)
        }
        // Every slot is still found through the table: one more read adds exactly one.
        for e in snap {
            record(s, String(decoding: e.prefix, as: UTF8.self))
            let after = s.snapshot().first { $0.prefix == e.prefix }
            XCTAssertEqual(after?.count, e.count + 1, String(decoding: e.prefix, as: UTF8.self))
        }
    }

    func testSketchResetAndCapacityApplyAtTheOwnersNextRecord() {
        let s = PrefixSketch(maxCapacity: 16)
        XCTAssertTrue(s.snapshot().isEmpty)
        record(s, "a")
        XCTAssertTrue(s.snapshot().isEmpty, "capacity 0 keeps nothing")
        s.configure(capacity: 4)
        for p in ["a", "b", "c", "d", "e", "a"] { record(s, p) }
        XCTAssertEqual(s.snapshot().count, 4)
        s.reset()
        XCTAssertTrue(s.snapshot().isEmpty, "a pending reset hides the old figures")
        record(s, "z", hit: false)
        let snap = s.snapshot()
        XCTAssertEqual(snap.count, 1)
        XCTAssertEqual(snap.first?.prefix, Array("z".utf8))
        XCTAssertEqual(snap.first?.misses, 1)
        s.configure(capacity: 1000)
        record(s, "y")
        XCTAssertEqual(s.snapshot().count, 1, "a new capacity starts empty")
    }

    // MARK: through the dispatcher

    let table = CommandTable.standard()
    let keyspace = Keyspace(shards: 4)
    var owners: [AnyObject] = []

    func context() -> CommandContext {
        let reply = ReplyWriter(), client = ClientState(id: 1, authenticated: true, now: 0, address: "127.0.0.1:5555")
        let counters = LoopCounters(commandSlots: table.allSpecs.count), server = StubServer()
        owners += [reply, client, counters, server]
        return CommandContext(keyspace: keyspace, reply: reply, client: client, table: table, server: server,
                              counters: counters)
    }

    func run(_ ctx: CommandContext, _ words: String...) -> String {
        let owned = OwnedArguments(values: words.map { Array($0.utf8) })
        ctx.now = keyspace.clock.nowMs()
        let before = ctx.reply.out.readableCount
        owned.withArguments { Dispatcher.execute(ctx, $0) }
        return String(decoding: ctx.reply.out.readableArray()[before...], as: UTF8.self)
    }

    func testReadsAreCountedPerPrefixAfterTheCommand() {
        let ctx = context()
        ctx.counters.configure(latencyTracking: true, slowlogMicroseconds: -1, prefixSeparator: UInt8(ascii: ":"), prefixes: 8)
        _ = run(ctx, "SET", "user:1", "v")
        _ = run(ctx, "GET", "user:1")
        _ = run(ctx, "MGET", "user:1", "user:2", "nosep", "img:9", "a:b:c", "user:3", "user:4", "user:5", "user:6", "x:1")
        XCTAssertEqual(ctx.counters.pendingReads, 0)
        let snap = Dictionary(uniqueKeysWithValues: ctx.counters.prefixes.snapshot().map { (String(decoding: $0.prefix, as: UTF8.self), $0) })
        XCTAssertEqual(snap["user"]?.hits, 2)
        XCTAssertEqual(snap["user"]?.misses, 5)
        XCTAssertEqual(snap["nosep"]?.misses, 1)
        XCTAssertEqual(snap["a"]?.misses, 1)
        XCTAssertEqual(snap["x"]?.misses, 1)
        XCTAssertNil(snap["user:1"])
        // Writes are not reads.
        _ = run(ctx, "SET", "w:1", "v")
        XCTAssertNil(ctx.counters.prefixes.snapshot().first { $0.prefix == Array("w".utf8) })
        var merged = [UInt64](repeating: 0, count: LatencyHistograms.bucketCount)
        XCTAssertTrue(ctx.counters.latencies.add(table.lookup(name: "mget")!.id, into: &merged))
    }

    func testSlowCommandsAreLoggedWithTheirClient() {
        let ctx = context()
        ctx.client.name = Array("me".utf8)
        ctx.counters.configure(latencyTracking: false, slowlogMicroseconds: 0, prefixSeparator: UInt8(ascii: ":"), prefixes: 0)
        _ = run(ctx, "SET", "k", "v")
        _ = run(ctx, "MULTI")
        _ = run(ctx, "GET", "k")
        _ = run(ctx, "EXEC")
        let entries = ctx.counters.slowlog.newest(nil)
        XCTAssertEqual(entries.map { $0.arguments.map { String(decoding: $0, as: UTF8.self) } },
                       [["GET", "k"], ["MULTI"], ["SET", "k", "v"]])
        XCTAssertEqual(entries.first?.peer, "127.0.0.1:5555")
        XCTAssertEqual(entries.first?.clientName, Array("me".utf8))
        XCTAssertEqual(entries.map(\.id), [2, 1, 0])
        XCTAssertEqual(run(ctx, "SLOWLOG", "LEN"), ":3\r\n")
        var merged = [UInt64](repeating: 0, count: LatencyHistograms.bucketCount)
        XCTAssertFalse(ctx.counters.latencies.add(table.lookup(name: "set")!.id, into: &merged), "latency-tracking no")
        ctx.counters.configure(latencyTracking: false, slowlogMicroseconds: -1, prefixSeparator: UInt8(ascii: ":"), prefixes: 0)
        XCTAssertEqual(run(ctx, "SLOWLOG", "RESET"), "+OK\r\n")
        _ = run(ctx, "PING")
        XCTAssertEqual(run(ctx, "SLOWLOG", "LEN"), ":0\r\n")
    }
}
