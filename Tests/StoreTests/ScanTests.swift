@testable import Store
import XCTest

/// The SCAN family's walk below the commands: the budget of one call (Redis's
/// scanGenericCommand) and the cursor over shards.
final class ScanTests: XCTestCase {
    /// A walk over a table that never ends and has `perBucket` elements in each bucket: the
    /// number of buckets one call visits.
    func bucketsVisited(count: Int, pairs: Bool = false, perBucket: Int) -> Int {
        var budget = ScanBudget(count: count, pairs: pairs)
        var visited = 0
        let next = budget.walk(from: 1) { c, seen in
            visited += 1
            seen += perBucket
            return c + 1
        }
        XCTAssertNotEqual(next, 0)
        XCTAssertEqual(next, UInt64(1 + visited), "the cursor to resume from is the next bucket's")
        return visited
    }

    /// Redis visits at most count x 10 buckets past the first (its maxiterations), twice that for
    /// field-value pairs, and stops once count elements were looked at.
    func testBudgetIsRedisMaxIterations() {
        XCTAssertEqual(bucketsVisited(count: 1, perBucket: 0), 11)
        XCTAssertEqual(bucketsVisited(count: 3, perBucket: 0), 31)
        XCTAssertEqual(bucketsVisited(count: 3, pairs: true, perBucket: 0), 61)
        XCTAssertEqual(bucketsVisited(count: 3, perBucket: 1), 3)
        XCTAssertEqual(bucketsVisited(count: 3, perBucket: 2), 2)
        XCTAssertEqual(bucketsVisited(count: 3, perBucket: 5), 1)
    }

    /// COUNT up to Int.max cannot overflow the allowance; the walk ends with the table.
    func testHugeCountWalksTheWholeTable() {
        for count in [Int.max, Int.max / 10 + 1, 1 << 62] {
            for pairs in [false, true] {
                var budget = ScanBudget(count: count, pairs: pairs)
                var visited = 0
                let next = budget.walk(from: 0) { c, _ in
                    visited += 1
                    return c == 999 ? 0 : c + 1
                }
                XCTAssertEqual(next, 0)
                XCTAssertEqual(visited, 1000, "COUNT \(count)")
            }
        }
    }

    func put(_ ks: Keyspace, _ k: String, db: Int = 0) {
        Array(k.utf8).withUnsafeBufferPointer { kb in
            let h = ks.hash(kb)
            let s = ks.shards[ks.shardIndex(h)]
            s.lock()
            let v: [UInt8] = [1]
            v.withUnsafeBufferPointer { vb in
                s.table(db).insert(Entry.makeString(key: kb, hash: UInt32(truncatingIfNeeded: h), value: vb, deadline: 0))
            }
            s.unlock()
        }
    }

    /// A whole iteration of scanKeys visits shard after shard: every cursor names the shard in
    /// its low bits, never goes back to an earlier shard, and every key comes back.
    func testScanKeysWalksShardAfterShard() {
        let ks = Keyspace(shards: 8)
        for i in 0..<2000 { put(ks, "k\(i)") }
        put(ks, "elsewhere", db: 1)
        var options = ScanOptions()
        options.count = 7
        var seen = Set<String>()
        var cursor: UInt64 = 0
        var lastShard = 0
        var calls = 0
        repeat {
            cursor = ks.scanKeys(db: 0, from: cursor, options, now: ks.clock.nowMs(), locked: false) {
                seen.insert(String(decoding: $0, as: UTF8.self))
            }
            let shard = Int(cursor & 7)
            if cursor != 0 {
                XCTAssertGreaterThanOrEqual(shard, lastShard)
                lastShard = shard
            }
            calls += 1
        } while cursor != 0 && calls < 100_000
        XCTAssertEqual(seen, Set((0..<2000).map { "k\($0)" }))
        XCTAssertGreaterThan(calls, 2000 / 7 / 2, "COUNT 7 bounds each call")
    }
}
