@testable import Store
import Glibc
import XCTest

/// A record whose hash the test chooses, so runs, collisions and wrap-around at the end of the
/// slot array can be forced: hash at 0, key length at 4, key bytes at 8.
struct TestRecord: LengthPrefixedRecord {
    let raw: UnsafeMutableRawPointer
    init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }
    static let keyOffset = 8

    static func make(_ key: String, hash: UInt32) -> TestRecord {
        TestRecord(Array(key.utf8).withUnsafeBufferPointer { allocate(key: $0, hash: hash) })
    }

    var name: String { String(decoding: key, as: UTF8.self) }
}

/// The generic table behind Table, MemberTable and the tag index: placement, backward-shift
/// removal, growth and shrinking, and the reverse-binary cursor walk across resizes.
final class SlotTableTests: XCTestCase {
    var table = SlotTable<TestRecord>()
    /// Records the test made, by key, to free at the end.
    var made: [String: TestRecord] = [:]

    override func tearDown() {
        table.deallocate()
        for r in made.values { free(r.raw) }
        made = [:]
        super.tearDown()
    }

    @discardableResult
    func insert(_ key: String, hash: UInt32) -> TestRecord {
        let r = TestRecord.make(key, hash: hash)
        made[key] = r
        table.insert(r)
        return r
    }

    func find(_ key: String, hash: UInt32) -> Int {
        Array(key.utf8).withUnsafeBufferPointer { table.find($0, hash: hash) }
    }

    func remove(_ key: String, hash: UInt32) {
        let s = find(key, hash: hash)
        XCTAssertGreaterThanOrEqual(s, 0, key)
        if s >= 0 { table.remove(at: s) }
    }

    /// Every record sits in the unbroken run of occupied slots from its home slot, and the
    /// count is the number of occupied slots (no tombstone, no lost word).
    func assertPlacement(file: StaticString = #filePath, line: UInt = #line) {
        var occupied = 0
        for i in 0..<table.capacity {
            guard let r = table.record(at: i) else { continue }
            occupied += 1
            var j = Int(r.hash) & table.mask
            while j != i {
                if !table.isOccupied(j) {
                    XCTFail("\(r.name) at \(i): empty slot \(j) between it and its home", file: file, line: line)
                    return
                }
                j = (j + 1) & table.mask
            }
        }
        XCTAssertEqual(occupied, table.count, "occupied slots", file: file, line: line)
    }

    func testInsertFindRemoveAgainstAModelWithForcedCollisions() {
        var rng = SeededGenerator(state: 7)
        var model: [String: UInt32] = [:]
        for step in 0..<6000 {
            // Few distinct homes: long runs, many equal 16-bit tags, runs wrapping past the end.
            let k = "k\(rng.next() % 1500)"
            let h = UInt32(truncatingIfNeeded: rng.next() % 24) &* 0x9E37_79B1 | (step % 3 == 0 ? 0xFFFF_0000 : 0)
            if let old = model[k] {
                remove(k, hash: old)
                free(made.removeValue(forKey: k)!.raw)
                model[k] = nil
                table.shrinkIfSparse()
            } else {
                insert(k, hash: h)
                model[k] = h
            }
            if step % 97 == 0 { assertPlacement() }
        }
        assertPlacement()
        XCTAssertEqual(table.count, model.count)
        for (k, h) in model {
            let s = find(k, hash: h)
            XCTAssertGreaterThanOrEqual(s, 0, k)
            if s >= 0 { XCTAssertEqual(table.occupied(s).name, k) }
            // The same key under another hash is another key.
            XCTAssertEqual(find(k, hash: h ^ 1), -1)
        }
        XCTAssertEqual(find("absent", hash: 0), -1)
    }

    func testGrowsPastThreeQuartersAndShrinksToAQuarterOrMore() {
        XCTAssertEqual(table.capacity, SlotTable<TestRecord>.minimumCapacity)
        for i in 0..<3 { insert("a\(i)", hash: UInt32(i)) }
        XCTAssertEqual(table.capacity, 4, "3 of 4 is not past 3/4")
        insert("a3", hash: 3)
        XCTAssertEqual(table.capacity, 8)
        for i in 4..<1000 { insert("a\(i)", hash: UInt32(i) &* 2_654_435_761) }
        XCTAssertEqual(table.capacity, 2048, "1000 records, at most 3/4 full")
        XCTAssertEqual(SlotTable<TestRecord>.capacity(toHold: 1000), 2048)
        XCTAssertEqual(SlotTable<TestRecord>.capacity(toHold: 3), 4)
        // Removing down to 256 of 2048 (exactly 1/8) keeps the size; one fewer shrinks it.
        for i in 256..<1000 { remove("a\(i)", hash: UInt32(i) &* 2_654_435_761) }
        table.shrinkIfSparse()
        XCTAssertEqual(table.capacity, 2048)
        remove("a255", hash: 255 &* 2_654_435_761)
        table.shrinkIfSparse()
        XCTAssertEqual(table.capacity, 512, "255 records: 1/4 to 1/2 full")
        assertPlacement()
        for i in 4..<255 { XCTAssertGreaterThanOrEqual(find("a\(i)", hash: UInt32(i) &* 2_654_435_761), 0) }
        for i in 0..<4 { remove("a\(i)", hash: UInt32(i)) }
        for i in 4..<255 { remove("a\(i)", hash: UInt32(i) &* 2_654_435_761) }
        table.shrinkIfSparse()
        XCTAssertEqual(table.count, 0)
        XCTAssertEqual(table.capacity, SlotTable<TestRecord>.minimumCapacity)
    }

    /// Removal leaves no marker behind: a run wrapping past the last slot is pulled back, and
    /// once every record is gone every slot word is 0.
    func testRemovalShiftsBackAcrossTheEndAndLeavesNoTombstones() {
        table.resize(16)
        // Eight records homed at 14 and 15: the run is 14, 15, 0, 1, ... 5.
        for i in 0..<8 { insert("w\(i)", hash: UInt32(14 + i % 2)) }
        XCTAssertEqual((0..<16).filter { table.isOccupied($0) }, [0, 1, 2, 3, 4, 5, 14, 15])
        remove("w0", hash: 14)
        assertPlacement()
        remove("w3", hash: 15)
        assertPlacement()
        XCTAssertEqual((0..<16).filter { table.isOccupied($0) }, [0, 1, 2, 3, 14, 15])
        for i in [1, 2, 4, 5, 6, 7] { XCTAssertGreaterThanOrEqual(find("w\(i)", hash: UInt32(14 + i % 2)), 0) }
        for i in [1, 2, 4, 5, 6, 7] { remove("w\(i)", hash: UInt32(14 + i % 2)) }
        XCTAssertEqual((0..<16).filter { table.words[$0] != 0 }, [])
    }

    func testSlotOfARecordComparesAddressAndHash() {
        let a = insert("a", hash: 5)
        let b = insert("b", hash: 5)
        XCTAssertEqual(table.occupied(table.slot(of: a)).name, "a")
        XCTAssertEqual(table.occupied(table.slot(of: b)).name, "b")
        XCTAssertEqual(table.slot(ofPointer: UInt(bitPattern: a.raw), hash: 5 | 0x1_0000), -1, "another tag")
        let c = TestRecord.make("c", hash: 5)
        made["c"] = c
        XCTAssertEqual(table.slot(of: c), -1)
    }

    func testRandomSlotFindsEveryRecordAndOnlyRecords() {
        XCTAssertEqual(table.randomSlot(), -1)
        for i in 0..<5 { insert("r\(i)", hash: UInt32(i) &* 40_503) }
        table.resize(64)
        var seen = Set<String>()
        for _ in 0..<2000 {
            let s = table.randomSlot()
            XCTAssertTrue(table.isOccupied(s))
            seen.insert(table.occupied(s).name)
        }
        XCTAssertEqual(seen.count, 5)
    }

    func testForEachAndRemoveAllVisitEveryRecordOnce() {
        for i in 0..<100 { insert("e\(i)", hash: UInt32(i % 10)) }
        var visited: [String] = []
        table.forEach { _, r in visited.append(r.name); return true }
        XCTAssertEqual(Set(visited), Set(made.keys))
        XCTAssertEqual(visited.count, 100)
        var first = 0
        table.forEach { _, _ in first += 1; return false }
        XCTAssertEqual(first, 1)
        let capacity = table.capacity
        var handed = 0
        table.removeAll { _ in handed += 1 }
        XCTAssertEqual(handed, 100)
        XCTAssertEqual(table.count, 0)
        XCTAssertEqual(table.capacity, capacity)
        XCTAssertEqual(table.occupiedSlot(from: 0), -1)
    }

    /// Without resizes a walk visits every bucket once, in reverse-binary order, and each record
    /// exactly once.
    func testScanVisitsEachBucketOnceInReverseBinaryOrder() {
        for i in 0..<40 { insert("s\(i)", hash: UInt32(i) &* 2_654_435_761) }
        XCTAssertEqual(table.capacity, 64)
        var cursor: UInt64 = 0
        var buckets: [UInt64] = []
        var seen: [String: Int] = [:]
        repeat {
            buckets.append(cursor & 63)
            cursor = table.scan(cursor) { seen[$0.name, default: 0] += 1 }
        } while cursor != 0
        XCTAssertEqual(buckets.count, 64)
        XCTAssertEqual(Array(buckets.prefix(4)), [0, 32, 16, 48])
        XCTAssertEqual(Set(buckets).count, 64)
        XCTAssertEqual(seen.count, 40)
        XCTAssertTrue(seen.values.allSatisfy { $0 == 1 })
    }

    /// SCAN's guarantee: every record present for the whole walk is returned, while the table
    /// grows 16x and shrinks back between steps, with colliding hashes.
    func testScanReturnsEveryStableRecordAcrossGrowthAndShrinking() {
        var rng = SeededGenerator(state: 11)
        for i in 0..<300 { insert("stable\(i)", hash: UInt32(truncatingIfNeeded: rng.next() % 5000)) }
        var churn: [(String, UInt32)] = []
        var seen = Set<String>()
        var cursor: UInt64 = 0
        var step = 0
        var capacities = Set<Int>()
        repeat {
            cursor = table.scan(cursor) { seen.insert($0.name) }
            step += 1
            capacities.insert(table.capacity)
            if step < 60 {
                for j in 0..<80 {
                    let k = "churn\(step)-\(j)"
                    let h = UInt32(truncatingIfNeeded: rng.next() % 5000)
                    insert(k, hash: h)
                    churn.append((k, h))
                }
            } else if !churn.isEmpty {
                for _ in 0..<min(300, churn.count) {
                    let (k, h) = churn.removeLast()
                    remove(k, hash: h)
                    free(made.removeValue(forKey: k)!.raw)
                }
                table.shrinkIfSparse()
            }
        } while cursor != 0
        XCTAssertGreaterThanOrEqual(capacities.count, 4, "the walk saw grows and shrinks")
        for i in 0..<300 { XCTAssertTrue(seen.contains("stable\(i)"), "stable\(i) missed") }
    }

    /// A tag's member table lives inside its TagRecord: the record's header must stay 40 bytes.
    func testMemberTableFitsTheTagRecordHeader() {
        XCTAssertEqual(MemoryLayout<SlotTable<KeyRecord>>.size, 24)
        XCTAssertEqual(TagRecord.keyOffset, 40)
    }
}
