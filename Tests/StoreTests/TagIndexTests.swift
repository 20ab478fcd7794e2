@testable import Store
import XCTest

/// The tag index below the commands: its bookkeeping, TAG.SCAN's guarantee over a tag's key set
/// that grows and shrinks mid-iteration, and the invalidation drain while other clients delete
/// and tag keys between its steps.
final class TagIndexTests: XCTestCase {
    func key(_ i: Int) -> [UInt8] { Array("key:\(i)".utf8) }

    func hash(_ k: [UInt8]) -> UInt32 {
        k.withUnsafeBufferPointer { UInt32(truncatingIfNeeded: KeyHash.hash($0.baseAddress, $0.count)) }
    }

    func insert(_ t: Table, _ k: [UInt8], tags: [String] = [], deadline: Int64 = 0) {
        k.withUnsafeBufferPointer { kb in
            let v: [UInt8] = Array("v".utf8)
            v.withUnsafeBufferPointer { vb in
                t.insert(Entry.makeString(key: kb, hash: hash(k), value: vb, deadline: deadline))
            }
        }
        let s = find(t, k)
        for tag in tags { Array(tag.utf8).withUnsafeBufferPointer { _ = t.addTag($0, at: s) } }
    }

    func find(_ t: Table, _ k: [UInt8]) -> Int {
        k.withUnsafeBufferPointer { t.find($0, hash: hash(k)) }
    }

    func members(_ t: Table, _ tag: String) -> Set<[UInt8]> {
        var out = Set<[UInt8]>()
        Array(tag.utf8).withUnsafeBufferPointer { name in
            t.tags?.forEachMember(of: name) { k, _ in out.insert(Array(k)); return true }
        }
        return out
    }

    func testAttachDetachAndMemoryReturnToNothing() {
        let t = Table()
        let bare = t.memoryBytes
        for i in 0..<1000 { insert(t, key(i), tags: ["a", "b", i % 2 == 0 ? "even" : "odd"]) }
        XCTAssertEqual(t.tags?.tagCount, 4)
        XCTAssertEqual(t.tags?.keyCount, 1000)
        XCTAssertEqual(t.tags?.links, 3000)
        XCTAssertEqual(t.tagProblems(), [])
        // A tag attached twice counts once; removing one of several keeps the rest.
        let s = find(t, key(0))
        XCTAssertFalse(Array("a".utf8).withUnsafeBufferPointer { t.addTag($0, at: s) })
        XCTAssertTrue(Array("b".utf8).withUnsafeBufferPointer { t.removeTag($0, at: s) })
        XCTAssertFalse(Array("b".utf8).withUnsafeBufferPointer { t.removeTag($0, at: s) })
        XCTAssertEqual(t.tagNames(at: s).map { String(decoding: $0, as: UTF8.self) }.sorted(), ["a", "even"])
        XCTAssertEqual(t.tagProblems(), [])
        // Removing every key (half by remove, half by replacing the value) leaves no index.
        for i in stride(from: 0, to: 1000, by: 2) { t.remove(at: find(t, key(i))) }
        for i in stride(from: 1, to: 1000, by: 2) {
            let k = key(i)
            let v: [UInt8] = Array("w".utf8)
            k.withUnsafeBufferPointer { kb in
                v.withUnsafeBufferPointer { vb in
                    t.replace(at: find(t, k), with: Entry.makeString(key: kb, hash: hash(k), value: vb, deadline: 0))
                }
            }
        }
        XCTAssertNil(t.tags)
        XCTAssertEqual(t.tagProblems(), [])
        for i in stride(from: 1, to: 1000, by: 2) { t.remove(at: find(t, key(i))) }
        t.shrinkIfSparse()
        // Only the slot array is left (shrinking stops at the smallest table).
        XCTAssertEqual(t.memoryBytes, t.capacity * 8)
        XCTAssertLessThanOrEqual(t.memoryBytes, bare * 2)
    }

    func testCopiedFlagIsNotTrustedOnInsert() {
        let t = Table()
        insert(t, key(1), tags: ["x"])
        let src = t.entry(at: find(t, key(1)))
        let k = key(2)
        // A copy carries the flag bit; a new key has no tags until they are attached.
        let copy = k.withUnsafeBufferPointer { src.copy(newKey: $0, hash: hash(k), duplicateObject: false) }
        XCTAssertTrue(copy.hasTags)
        t.insert(copy)
        XCTAssertFalse(t.entry(at: find(t, k)).hasTags)
        XCTAssertEqual(t.tagProblems(), [])
    }

    /// TAG.SCAN's guarantee: every key carrying the tag for the whole walk is returned, while the
    /// tag's set grows to 9x and shrinks back between calls.
    func testScanOfTagReturnsEveryStableKeyAcrossResizes() {
        let t = Table()
        for i in 0..<500 { insert(t, key(i), tags: ["t"]) }
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var step = 0
        let name = Array("t".utf8)
        repeat {
            cursor = name.withUnsafeBufferPointer { n in t.tags!.scan(n, cursor: cursor) { k, _ in seen.insert(Array(k)) } }
            step += 1
            if step == 50 { for i in 1000..<5000 { insert(t, key(i), tags: ["t"]) } }
            if step == 400 { for i in 1000..<5000 { t.remove(at: find(t, key(i))) } }
        } while cursor != 0
        for i in 0..<500 { XCTAssertTrue(seen.contains(key(i)), "missed key \(i)") }
        XCTAssertEqual(t.tagProblems(), [])
    }

    /// The drain of an invalidated tag, in steps of 100 keys, while between steps other clients
    /// delete some of its keys, tag new keys with the same name and add other tags: every key
    /// that carried the tag at the start is gone, keys tagged after it are kept.
    func testInvalidationDrainsAllOriginalKeysDespiteChangesBetweenSteps() {
        let shard = Shard(index: 0, databases: 1)
        let t = shard.table(0)
        for i in 0..<5000 { insert(t, key(i), tags: i % 3 == 0 ? ["t", "other"] : ["t"]) }
        for i in 5000..<5100 { insert(t, key(i), tags: ["other"]) }
        let index = t.tags!
        let ticket = Array("t".utf8).withUnsafeBufferPointer { index.beginInvalidation($0) }!
        // The name is free at once: TAG.KEYS shows nothing, and a new key can take it.
        XCTAssertEqual(members(t, "t"), [])
        var deletedByOthers = 0
        var fresh: [[UInt8]] = []
        var deleted = 0
        var done = false
        var rounds = 0
        var freeLater: [Entry] = []
        while !done {
            let step = shard.invalidateStep(t, index: index, ticket: ticket, now: 0, budget: 100, freeLater: &freeLater)
            for e in freeLater { e.free() }
            freeLater.removeAll()
            deleted += step.deleted
            done = step.done
            rounds += 1
            // Another client deletes ten random original keys and tags a new key "t".
            for _ in 0..<10 {
                let i = Int.random(in: 0..<5000)
                let s = find(t, key(i))
                if s >= 0 { t.remove(at: s); deletedByOthers += 1 }
            }
            let k = key(10_000 + rounds)
            insert(t, k, tags: ["t"])
            fresh.append(k)
            XCTAssertEqual(t.tagProblems(), [], "round \(rounds)")
        }
        XCTAssertEqual(deleted + deletedByOthers, 5000)
        XCTAssertGreaterThan(rounds, 20)
        for i in 0..<5000 { XCTAssertLessThan(find(t, key(i)), 0, "key \(i) survived") }
        XCTAssertEqual(members(t, "t"), Set(fresh))
        XCTAssertEqual(members(t, "other"), Set((5000..<5100).map(key)))
        XCTAssertEqual(t.tags?.dying.count, 0)
        XCTAssertEqual(shard.stats.keysInvalidated, deleted)
    }

    /// A flush that drops the table mid-invalidation ends the drain without touching it.
    func testInvalidationStopsWhenTheTableIsDropped() {
        let shard = Shard(index: 0, databases: 1)
        let t = shard.table(0)
        for i in 0..<300 { insert(t, key(i), tags: ["t"]) }
        let index = t.tags!
        let ticket = Array("t".utf8).withUnsafeBufferPointer { index.beginInvalidation($0) }!
        var freeLater: [Entry] = []
        let first = shard.invalidateStep(t, index: index, ticket: ticket, now: 0, budget: 100, freeLater: &freeLater)
        XCTAssertEqual(first.deleted, 100)
        XCTAssertFalse(first.done)
        shard.flush(0, now: 0)
        let next = shard.invalidateStep(t, index: index, ticket: ticket, now: 0, budget: 100, freeLater: &freeLater)
        XCTAssertEqual(next.deleted, 0)
        XCTAssertTrue(next.done)
        for e in freeLater { e.free() }
    }

    /// Expired keys met by the drain are expired, not counted as invalidated.
    func testInvalidationExpiresRatherThanCountsExpiredKeys() {
        let shard = Shard(index: 0, databases: 1)
        let t = shard.table(0)
        for i in 0..<10 { insert(t, key(i), tags: ["t"], deadline: i < 4 ? 50 : 0) }
        let index = t.tags!
        let ticket = Array("t".utf8).withUnsafeBufferPointer { index.beginInvalidation($0) }!
        var freeLater: [Entry] = []
        let step = shard.invalidateStep(t, index: index, ticket: ticket, now: 100, budget: 1000, freeLater: &freeLater)
        for e in freeLater { e.free() }
        XCTAssertEqual(step.deleted, 6)
        XCTAssertTrue(step.done)
        XCTAssertEqual(shard.stats.expiredKeys, 4)
        XCTAssertNil(shard.existingTable(0), "the emptied table is dropped")
    }
}
