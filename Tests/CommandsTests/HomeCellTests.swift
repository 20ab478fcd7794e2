import Commands
import CTagCacheSys
@testable import Store
import XCTest

/// Every shard publishes, per database, where its table's slot array is (the prefetch hint
/// Store/HomeCells.swift reads without the lock): right after tables grow, shrink, appear and
/// go away.
final class HomeCellTests: HandlerTestCase {
    func expectCellsMatchTables(_ ks: Keyspace, _ when: String) {
        for s in ks.shards {
            s.lock()
            for db in 0..<ks.databases {
                let cell = s.homeCells[db]
                if let t = s.existingTable(db) {
                    let want = UInt(bitPattern: t.slots.words) | UInt(t.slots.mask.nonzeroBitCount) << 48
                    XCTAssertEqual(cell, want, "\(when): shard \(s.index) db \(db)")
                } else {
                    XCTAssertEqual(cell, 0, "\(when): shard \(s.index) db \(db) has no table")
                }
            }
            s.unlock()
        }
    }

    func testCellsFollowTheTables() {
        let ks = Keyspace(shards: 4, databases: 3)
        let ctx = context(ks)
        expectCellsMatchTables(ks, "empty")
        for i in 0..<2000 { _ = run(ctx, ["SET", "k\(i)", "v"]) }
        _ = run(ctx, ["SELECT", "2"])
        for i in 0..<100 { _ = run(ctx, ["SET", "other\(i)", "v"]) }
        expectCellsMatchTables(ks, "after growing")
        for i in 0..<1990 { _ = run(ctx, ["DEL", "other\(i % 100)", "k\(i)"]) }
        for s in ks.shards {
            s.lock()
            for db in 0..<ks.databases { s.existingTable(db)?.shrinkIfSparse() }
            s.unlock()
        }
        expectCellsMatchTables(ks, "after shrinking")
        XCTAssertEqual(run(ctx, ["FLUSHALL"]), .simple("OK"))
        expectCellsMatchTables(ks, "after FLUSHALL")
        // Prefetching through any cell, empty or not, is harmless.
        Array("k1".utf8).withUnsafeBufferPointer { key in
            for db in 0..<ks.databases { ks.prefetch(key, db: db) }
        }
    }
}
