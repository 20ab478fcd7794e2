@testable import Store
import XCTest

final class TableTests: XCTestCase {
    func key(_ i: Int) -> [UInt8] { Array("key:\(i)".utf8) }

    func insert(_ t: Table, _ k: [UInt8], deadline: Int64 = 0) {
        k.withUnsafeBufferPointer { kb in
            let h = UInt32(truncatingIfNeeded: KeyHash.hash(kb.baseAddress, kb.count))
            let v: [UInt8] = Array("v".utf8)
            v.withUnsafeBufferPointer { vb in
                t.insert(Entry.makeString(key: kb, hash: h, value: vb, deadline: deadline))
            }
        }
    }

    func find(_ t: Table, _ k: [UInt8]) -> Int {
        k.withUnsafeBufferPointer { kb in
            t.find(kb, hash: UInt32(truncatingIfNeeded: KeyHash.hash(kb.baseAddress, kb.count)))
        }
    }

    func testInsertFindRemoveAcrossResizes() {
        let t = Table()
        for i in 0..<10000 { insert(t, key(i)) }
        XCTAssertEqual(t.count, 10000)
        for i in 0..<10000 { XCTAssertGreaterThanOrEqual(find(t, key(i)), 0, "key \(i)") }
        XCTAssertLessThan(find(t, key(10001)), 0)
        for i in stride(from: 0, to: 10000, by: 2) { t.remove(at: find(t, key(i))) }
        XCTAssertEqual(t.count, 5000)
        for i in 0..<10000 {
            XCTAssertEqual(find(t, key(i)) >= 0, i % 2 == 1, "key \(i)")
        }
        for i in stride(from: 1, to: 10000, by: 2) { t.remove(at: find(t, key(i))) }
        t.shrinkIfSparse()
        XCTAssertEqual(t.count, 0)
        XCTAssertLessThanOrEqual(t.capacity, 16)
    }

    func testVolatileCountAndMemoryFollowEntries() {
        let t = Table()
        let empty = t.memoryBytes
        insert(t, key(1), deadline: 5)
        insert(t, key(2))
        XCTAssertEqual(t.volatileCount, 1)
        XCTAssertGreaterThan(t.memoryBytes, empty)
        t.remove(at: find(t, key(1)))
        XCTAssertEqual(t.volatileCount, 0)
        t.remove(at: find(t, key(2)))
        XCTAssertEqual(t.memoryBytes, empty)
    }

    /// SCAN's guarantee: every key present for the whole walk is returned at least once, even
    /// when the table grows and shrinks between calls.
    func testScanReturnsEveryStableKeyAcrossResizes() {
        let t = Table()
        for i in 0..<500 { insert(t, key(i)) }
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var step = 0
        repeat {
            cursor = t.scan(cursor) { seen.insert(Array($0.key)) }
            step += 1
            // Churn: grow with new keys, then delete them again to force a shrink.
            if step == 50 { for i in 1000..<5000 { insert(t, key(i)) } }
            if step == 400 {
                for i in 1000..<5000 { t.remove(at: find(t, key(i))) }
                t.shrinkIfSparse()
            }
        } while cursor != 0
        for i in 0..<500 { XCTAssertTrue(seen.contains(key(i)), "missed key \(i)") }
    }
}
