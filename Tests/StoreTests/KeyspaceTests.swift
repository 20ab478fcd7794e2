@testable import Store
import XCTest

final class KeyspaceTests: XCTestCase {
    func put(_ ks: Keyspace, _ k: String, ttlMs: Int64?) {
        let key = Array(k.utf8)
        key.withUnsafeBufferPointer { kb in
            let h = ks.hash(kb)
            let s = ks.shards[ks.shardIndex(h)]
            s.lock()
            let v: [UInt8] = [1]
            v.withUnsafeBufferPointer { vb in
                let d = ttlMs.map { ks.clock.nowMs() + $0 } ?? 0
                s.table(0).insert(Entry.makeString(key: kb, hash: UInt32(truncatingIfNeeded: h), value: vb, deadline: d))
            }
            s.unlock()
        }
    }

    func live(_ ks: Keyspace, _ k: String) -> Bool {
        let key = Array(k.utf8)
        return key.withUnsafeBufferPointer { kb in
            let h = ks.hash(kb)
            let s = ks.shards[ks.shardIndex(h)]
            s.lock()
            defer { s.unlock() }
            return s.liveSlot(s.table(0), kb, hash: UInt32(truncatingIfNeeded: h), now: ks.clock.nowMs(), db: 0) >= 0
        }
    }

    func testDatabaseSummaryCountsEveryShardAndAveragesTheTTL() {
        let ks = Keyspace(shards: 4, databases: 2)
        for i in 0..<40 { put(ks, "k\(i)", ttlMs: i < 10 ? 100_000 : nil) }
        let withTTL = ks.databaseSummary(averageTTL: true)
        XCTAssertEqual(withTTL.count, 2)
        XCTAssertEqual(withTTL[0].keys, 40)
        XCTAssertEqual(withTTL[0].expires, 10)
        XCTAssertEqual(withTTL[0].slots, ks.shards.reduce(0) { $0 + ($1.existingTable(0)?.capacity ?? 0) })
        XCTAssertTrue((99_000...100_000).contains(withTTL[0].averageTTLms), "\(withTTL[0].averageTTLms)")
        XCTAssertEqual(withTTL[1].keys, 0)
        let without = ks.databaseSummary(averageTTL: false)
        XCTAssertEqual(without[0].keys, 40)
        XCTAssertEqual(without[0].averageTTLms, 0)
    }

    func testShardCountRoundsUpToPowerOfTwo() {
        XCTAssertEqual(Keyspace(shards: 5).shardCount, 8)
        XCTAssertEqual(Keyspace(shards: 1).shardCount, 1)
    }

    func testExpiredKeyIsNeverReadAndIsCounted() {
        let ks = Keyspace(shards: 4)
        put(ks, "a", ttlMs: 100)
        put(ks, "b", ttlMs: nil)
        XCTAssertTrue(live(ks, "a"))
        ks.clock.advance(101)
        XCTAssertFalse(live(ks, "a"))
        XCTAssertTrue(live(ks, "b"))
        XCTAssertEqual(ks.stats().expiredKeys, 1)
        XCTAssertEqual(ks.keyCount(db: 0), 1)
    }

    func testActiveExpiryRemovesKeysNobodyReads() {
        let ks = Keyspace(shards: 8)
        for i in 0..<20000 { put(ks, "k\(i)", ttlMs: 50) }
        for i in 0..<100 { put(ks, "keep\(i)", ttlMs: nil) }
        ks.clock.advance(60)
        var rounds = 0
        while ks.keyCount(db: 0) > 100 && rounds < 100 {
            ks.activeExpireCycle()
            rounds += 1
        }
        XCTAssertEqual(ks.keyCount(db: 0), 100)
        XCTAssertEqual(ks.stats().expiredKeys, 20000)
    }

    func testWatchVersionChangesOnWriteAndExpiry() {
        let ks = Keyspace(shards: 2)
        let key = Array("w".utf8)
        let s = key.withUnsafeBufferPointer { ks.shards[ks.shardIndex(ks.hash($0))] }
        s.lock()
        let v0 = s.watch(db: 0, key: key)
        key.withUnsafeBufferPointer { s.keyModified(db: 0, key: $0) }
        let v1 = s.watchVersion(db: 0, key: key)
        XCTAssertNotEqual(v0, v1)
        let other = Array("other".utf8)
        other.withUnsafeBufferPointer { s.keyModified(db: 0, key: $0) }
        XCTAssertEqual(s.watchVersion(db: 0, key: key), v1)
        s.unwatch(db: 0, key: key)
        s.unlock()
    }

    func testHashIsSeededAndSpreadsOverShards() {
        let ks = Keyspace(shards: 16)
        var counts = [Int](repeating: 0, count: 16)
        for i in 0..<16000 {
            let k = Array("user:\(i)".utf8)
            counts[k.withUnsafeBufferPointer { ks.shardIndex(ks.hash($0)) }] += 1
        }
        XCTAssertLessThan(counts.max()! - counts.min()!, 400)
    }
}
