@testable import Store
import XCTest

/// The compact encodings behind hashes, sets and lists, their conversions, and the SCAN
/// guarantee of the hashed form.
final class AggregateValueTests: XCTestCase {
    // MARK: helpers

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// Runs body with a buffer view of s.
    func with<R>(_ s: [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R { s.withUnsafeBufferPointer(body) }
    func with<R>(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R { with(bytes(s), body) }

    func elements(_ p: PackedEntries) -> [[UInt8]] {
        var out: [[UInt8]] = []
        p.forEach { out.append(Array($0)); return true }
        return out
    }

    func elementsBackward(_ p: PackedEntries) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var end = p.byteCount
        while end > 0 {
            let o = p.previous(before: end)
            out.append(Array(p.element(at: o)))
            end = o
        }
        return out.reversed()
    }

    func members(_ s: SetValue) -> [String] {
        var out: [String] = []
        s.forEach { out.append(String(decoding: $0, as: UTF8.self)); return true }
        return out
    }

    func list(_ l: ListValue) -> [[UInt8]] {
        var out: [[UInt8]] = []
        l.forEach(from: 0) { out.append(Array($0)); return true }
        return out
    }

    // MARK: PackedEntries

    func testPackedEntriesFramesSmallLargeAndEmptyElements() {
        var p = PackedEntries()
        defer { p.release() }
        let values: [[UInt8]] = [[], bytes("a"), [UInt8](repeating: 7, count: 127), [UInt8](repeating: 8, count: 128),
                                 [UInt8](repeating: 9, count: 70_000), [0, 255, 13, 10]]
        for v in values { with(v) { p.append($0) } }
        XCTAssertEqual(p.count, values.count)
        XCTAssertEqual(elements(p), values)
        XCTAssertEqual(elementsBackward(p), values)
        XCTAssertEqual(p.byteCount, values.reduce(0) { $0 + PackedEntries.frameSize($1.count) })
        for (i, v) in values.enumerated() {
            XCTAssertEqual(Array(p.element(at: p.offset(ofIndex: i))), v)
            XCTAssertEqual(with(v) { p.find($0) }, p.offset(ofIndex: i))
        }
        XCTAssertEqual(with("missing") { p.find($0) }, -1)
    }

    func testPackedEntriesInsertReplaceRemoveKeepOrder() {
        var p = PackedEntries()
        defer { p.release() }
        var model: [[UInt8]] = []
        var rng = SystemRandomNumberGenerator()
        for round in 0..<2000 {
            let len = [0, 3, 60, 127, 128, 300].randomElement(using: &rng)!
            let v = [UInt8](repeating: UInt8(round % 251), count: len)
            let op = model.isEmpty ? 0 : Int.random(in: 0..<3, using: &rng)
            let i = model.isEmpty ? 0 : Int.random(in: 0..<model.count, using: &rng)
            switch op {
            case 0:
                let at = Int.random(in: 0...model.count, using: &rng)
                with(v) { p.insert($0, at: at == model.count ? p.byteCount : p.offset(ofIndex: at)) }
                model.insert(v, at: at)
            case 1:
                with(v) { p.replace(at: p.offset(ofIndex: i), with: $0) }
                model[i] = v
            default:
                p.remove(at: p.offset(ofIndex: i))
                model.remove(at: i)
            }
            XCTAssertEqual(p.count, model.count)
        }
        XCTAssertEqual(elements(p), model)
        XCTAssertEqual(elementsBackward(p), model)
    }

    func testPackedEntriesFindPairsLooksAtFieldsOnly() {
        var p = PackedEntries()
        defer { p.release() }
        with("f1") { f in with("v") { p.append(f, $0) } }
        with("v") { f in with("f1") { p.append(f, $0) } }
        // "f1" as a value must not be found as a field.
        XCTAssertEqual(with("f1") { p.find($0, stride: 2) }, 0)
        XCTAssertEqual(with("v") { p.find($0, stride: 2) }, p.offset(ofIndex: 2))
        var q = PackedEntries()
        defer { q.release() }
        with("a") { f in with("f1") { q.append(f, $0) } }
        XCTAssertEqual(with("f1") { q.find($0, stride: 2) }, -1)
    }

    func testPackedEntriesSplitAndAppend() {
        var p = PackedEntries()
        for i in 0..<10 { with("e\(i)") { p.append($0) } }
        var tail = p.split(at: p.offset(ofIndex: 4), frames: 6)
        XCTAssertEqual(elements(p).map { String(decoding: $0, as: UTF8.self) }, (0..<4).map { "e\($0)" })
        XCTAssertEqual(elements(tail).map { String(decoding: $0, as: UTF8.self) }, (4..<10).map { "e\($0)" })
        p.append(contentsOf: tail)
        XCTAssertEqual(p.count, 10)
        XCTAssertEqual(elementsBackward(p).map { String(decoding: $0, as: UTF8.self) }, (0..<10).map { "e\($0)" })
        let d = p.duplicate()
        p.release()
        tail.release()
        var dd = d
        XCTAssertEqual(dd.count, 10)
        dd.release()
    }

    // MARK: IntegerSet

    func testIntegerSetWidensAndStaysSorted() {
        var s = IntegerSet()
        defer { s.release() }
        XCTAssertTrue(s.insert(5))
        XCTAssertTrue(s.insert(-3))
        XCTAssertFalse(s.insert(5))
        XCTAssertEqual(s.width, 2)
        XCTAssertTrue(s.insert(70_000))
        XCTAssertEqual(s.width, 4)
        XCTAssertTrue(s.insert(Int.min))
        XCTAssertEqual(s.width, 8)
        XCTAssertTrue(s.insert(Int.max))
        XCTAssertEqual((0..<s.count).map { s.value(at: $0) }, [Int.min, -3, 5, 70_000, Int.max])
        XCTAssertTrue(s.contains(70_000))
        XCTAssertFalse(s.contains(6))
        XCTAssertTrue(s.remove(-3))
        XCTAssertFalse(s.remove(-3))
        XCTAssertEqual((0..<s.count).map { s.value(at: $0) }, [Int.min, 5, 70_000, Int.max])
    }

    func testIntegerSetMatchesASortedModel() {
        var s = IntegerSet()
        defer { s.release() }
        var model = Set<Int>()
        for _ in 0..<5000 {
            let v = [Int.random(in: -100...100), Int.random(in: -100_000...100_000), Int.random(in: Int.min...Int.max)].randomElement()!
            if Bool.random() {
                XCTAssertEqual(s.insert(v), model.insert(v).inserted)
            } else {
                XCTAssertEqual(s.remove(v), model.remove(v) != nil)
            }
        }
        XCTAssertEqual((0..<s.count).map { s.value(at: $0) }, model.sorted())
    }

    // MARK: MemberTable

    func testMemberTableInsertFindRemoveAcrossResizes() {
        let t = MemberTable()
        for i in 0..<5000 {
            with("k\(i)") { k in with("v\(i)") { t.insert(k, value: $0, hash: MemberTable.hash(k)) } }
        }
        XCTAssertEqual(t.count, 5000)
        for i in stride(from: 0, to: 5000, by: 2) {
            with("k\(i)") { k in
                let s = t.find(k, hash: MemberTable.hash(k))
                XCTAssertGreaterThanOrEqual(s, 0)
                t.remove(at: s)
            }
        }
        t.shrinkIfSparse()
        for i in 0..<5000 {
            let s = with("k\(i)") { t.find($0, hash: MemberTable.hash($0)) }
            if i % 2 == 0 {
                XCTAssertEqual(s, -1)
            } else {
                XCTAssertEqual(String(decoding: t.value(at: s), as: UTF8.self), "v\(i)")
            }
        }
        let s = with("k1") { t.find($0, hash: MemberTable.hash($0)) }
        with([UInt8](repeating: 1, count: 1000)) { t.setValue(at: s, $0) }
        XCTAssertEqual(with("k1") { t.value(at: t.find($0, hash: MemberTable.hash($0))).count }, 1000)
    }

    /// Every member present for the whole iteration is returned, while members are added (the
    /// table grows) and removed (it shrinks) between steps.
    func testMemberTableScanReturnsEveryStableMemberAcrossResizes() {
        let t = MemberTable()
        let empty = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        for i in 0..<200 { with("stable\(i)") { t.insert($0, value: empty, hash: MemberTable.hash($0)) } }
        var seen = Set<String>()
        var cursor: UInt64 = 0
        var step = 0
        repeat {
            cursor = t.scan(cursor) { m, _ in seen.insert(String(decoding: m, as: UTF8.self)) }
            step += 1
            if step < 40 {
                for j in 0..<50 { with("extra\(step)-\(j)") { t.insert($0, value: empty, hash: MemberTable.hash($0)) } }
            } else if step < 80 {
                for j in 0..<50 {
                    with("extra\(step - 39)-\(j)") { k in
                        let s = t.find(k, hash: MemberTable.hash(k))
                        if s >= 0 { t.remove(at: s) }
                    }
                }
                t.shrinkIfSparse()
            }
        } while cursor != 0
        for i in 0..<200 { XCTAssertTrue(seen.contains("stable\(i)"), "stable\(i) missed") }
    }

    // MARK: HashValue

    func testHashStaysPackedInInsertionOrderUntilThresholds() {
        let h = HashValue()
        for i in 0..<HashValue.maxPackedEntries {
            with("f\(i)") { f in with("v\(i)") { XCTAssertTrue(h.set(f, $0)) } }
        }
        XCTAssertTrue(h.isPacked)
        XCTAssertEqual(h.encodingName.description, "listpack")
        with("f3") { f in with("new") { XCTAssertFalse(h.set(f, $0)) } }
        var order: [String] = []
        h.forEach { f, _ in order.append(String(decoding: f, as: UTF8.self)); return true }
        XCTAssertEqual(order, (0..<HashValue.maxPackedEntries).map { "f\($0)" })
        XCTAssertEqual(with("f3") { h.value($0).map { String(decoding: $0, as: UTF8.self) } }, "new")
        with("one-more") { f in with("v") { _ = h.set(f, $0) } }
        XCTAssertFalse(h.isPacked)
        XCTAssertEqual(h.encodingName.description, "hashtable")
        XCTAssertEqual(h.count, HashValue.maxPackedEntries + 1)
        for i in 0..<HashValue.maxPackedEntries where i != 3 {
            XCTAssertEqual(with("f\(i)") { h.value($0).map { String(decoding: $0, as: UTF8.self) } }, "v\(i)")
        }
        // Never back, even when small again.
        for i in 0..<500 { _ = with("f\(i)") { h.remove($0) } }
        XCTAssertFalse(h.isPacked)
    }

    func testHashConvertsOnLongStrings() {
        let h = HashValue()
        with("f") { f in with([UInt8](repeating: 1, count: HashValue.maxPackedLength)) { _ = h.set(f, $0) } }
        XCTAssertTrue(h.isPacked)
        with("g") { f in with([UInt8](repeating: 1, count: HashValue.maxPackedLength + 1)) { _ = h.set(f, $0) } }
        XCTAssertFalse(h.isPacked)
        let h2 = HashValue()
        h2.prepareForLength(65)
        XCTAssertFalse(h2.isPacked)
        let h3 = HashValue()
        h3.prepareForLength(64)
        XCTAssertTrue(h3.isPacked)
    }

    func testHashDuplicateIsIndependent() {
        let h = HashValue()
        with("a") { f in with("1") { _ = h.set(f, $0) } }
        let d = h.duplicate() as! HashValue
        with("a") { f in with("2") { _ = h.set(f, $0) } }
        XCTAssertEqual(with("a") { d.value($0).map { String(decoding: $0, as: UTF8.self) } }, "1")
        XCTAssertEqual(with("a") { h.value($0).map { String(decoding: $0, as: UTF8.self) } }, "2")
    }

    func testPackedHashScanReturnsEverythingAtOnce() {
        let h = HashValue()
        for i in 0..<10 { with("f\(i)") { f in with("v") { _ = h.set(f, $0) } } }
        var n = 0
        XCTAssertEqual(h.scan(0) { _, _ in n += 1 }, 0)
        XCTAssertEqual(n, 10)
    }

    // MARK: SetValue

    func testSetFormsMoveForwardOnly() {
        let s = SetValue()
        XCTAssertEqual(s.form, .integers)
        for v in ["3", "1", "2", "-7"] { _ = with(v) { s.add($0) } }
        XCTAssertEqual(members(s), ["-7", "1", "2", "3"])
        XCTAssertEqual(s.encodingName.description, "intset")
        // Not canonical integers: the set leaves the integer form.
        _ = with("01") { s.add($0) }
        XCTAssertEqual(s.form, .packed)
        XCTAssertEqual(s.encodingName.description, "hashtable")
        XCTAssertTrue(with("01") { s.contains($0) })
        XCTAssertTrue(with("2") { s.contains($0) })
        _ = with("01") { s.remove($0) }
        XCTAssertEqual(s.form, .packed)
        _ = with([UInt8](repeating: 65, count: SetValue.maxPackedLength + 1)) { s.add($0) }
        XCTAssertEqual(s.form, .table)
        XCTAssertEqual(s.count, 5)
        XCTAssertTrue(with("-7") { s.contains($0) })
    }

    func testIntegerSetBecomesATableAboveTheLimit() {
        let s = SetValue()
        for i in 0..<SetValue.maxIntsetEntries { _ = with("\(i)") { s.add($0) } }
        XCTAssertEqual(s.form, .integers)
        _ = with("\(SetValue.maxIntsetEntries)") { s.add($0) }
        XCTAssertEqual(s.form, .table)
        XCTAssertEqual(s.count, SetValue.maxIntsetEntries + 1)
        XCTAssertTrue(with("17") { s.contains($0) })
        XCTAssertFalse(with("017") { s.contains($0) })
    }

    func testStringSetBecomesATableAboveItsLimit() {
        let s = with("m0") { SetValue(for: $0) }
        XCTAssertEqual(s.form, .packed)
        for i in 0..<SetValue.maxPackedEntries { _ = with("m\(i)") { s.add($0) } }
        XCTAssertEqual(s.form, .packed)
        XCTAssertEqual(members(s), (0..<SetValue.maxPackedEntries).map { "m\($0)" })
        _ = with("last") { s.add($0) }
        XCTAssertEqual(s.form, .table)
        XCTAssertEqual(Set(members(s)), Set((0..<SetValue.maxPackedEntries).map { "m\($0)" } + ["last"]))
    }

    func testSetPopRandomEmptiesEveryForm() {
        for seed in [["1", "2", "3"], ["a", "b", "c"], (0..<600).map(String.init)] {
            let s = SetValue()
            for m in seed { _ = with(m) { s.add($0) } }
            var popped = Set<String>()
            while s.count > 0 { s.popRandom { popped.insert(String(decoding: $0, as: UTF8.self)) } }
            XCTAssertEqual(popped, Set(seed))
        }
    }

    func testSetTakeMovesStorage() {
        let a = SetValue(), b = SetValue()
        _ = with("x") { a.add($0) }
        _ = with("5") { b.add($0) }
        a.take(b)
        XCTAssertEqual(members(a), ["5"])
        XCTAssertEqual(a.form, .integers)
        XCTAssertEqual(b.count, 0)
        let d = a.duplicate() as! SetValue
        _ = with("6") { a.add($0) }
        XCTAssertEqual(members(d), ["5"])
    }

    // MARK: ListValue

    func testListMatchesAnArrayModelAcrossChunks() {
        let l = ListValue()
        var model: [[UInt8]] = []
        for round in 0..<6000 {
            let v = [UInt8](repeating: UInt8(round % 251), count: [0, 5, 100, 200, 3000].randomElement()!)
            switch Int.random(in: 0..<10) {
            case 0, 1: with(v) { l.pushFront($0) }; model.insert(v, at: 0)
            case 2, 3: with(v) { l.pushBack($0) }; model.append(v)
            case 4 where !model.isEmpty: l.removeFirst(); model.removeFirst()
            case 5 where !model.isEmpty: l.removeLast(); model.removeLast()
            case 6 where !model.isEmpty:
                let i = Int.random(in: 0..<model.count)
                let after = Bool.random()
                with(v) { l.insert($0, at: l.position(ofIndex: i), after: after) }
                model.insert(v, at: after ? i + 1 : i)
            case 7 where !model.isEmpty:
                let i = Int.random(in: 0..<model.count)
                with(v) { l.replace(at: l.position(ofIndex: i), with: $0) }
                model[i] = v
            case 8 where !model.isEmpty:
                let i = Int.random(in: 0..<model.count)
                l.remove(at: l.position(ofIndex: i))
                model.remove(at: i)
            case 9 where model.count > 10:
                let front = Int.random(in: 0..<3), back = Int.random(in: 0..<3)
                l.removeFirst(front)
                l.removeLast(back)
                model.removeFirst(front)
                model.removeLast(back)
            default: break
            }
            XCTAssertEqual(l.count, model.count)
        }
        XCTAssertEqual(list(l), model)
        for i in stride(from: 0, to: model.count, by: 7) { XCTAssertEqual(Array(l.element(atIndex: i)), model[i]) }
        // Walking backwards through positions sees the same elements.
        var back: [[UInt8]] = []
        var p: ListValue.Position? = model.isEmpty ? nil : l.lastPosition
        while let q = p { back.append(Array(l.element(at: q))); p = l.position(before: q) }
        XCTAssertEqual(back.reversed(), model)
        for c in 0..<l.chunkCount where l.chunks[l.start + c].count > 1 {
            XCTAssertLessThanOrEqual(l.chunks[l.start + c].byteCount, 2 * ListValue.maxChunkBytes)
        }
    }

    func testListChunksStayBelowTheLimitWhenPushing() {
        let l = ListValue()
        for i in 0..<10_000 { with("element-\(i)") { i % 2 == 0 ? l.pushBack($0) : l.pushFront($0) } }
        XCTAssertGreaterThan(l.chunkCount, 10)
        for c in 0..<l.chunkCount { XCTAssertLessThanOrEqual(l.chunks[l.start + c].byteCount, ListValue.maxChunkBytes) }
        XCTAssertEqual(String(decoding: l.element(atIndex: 5000), as: UTF8.self), "element-0")
        XCTAssertEqual(l.pop(fromFront: true).map { String(decoding: $0, as: UTF8.self) }, "element-9999")
        XCTAssertEqual(l.pop(fromFront: false).map { String(decoding: $0, as: UTF8.self) }, "element-9998")
        l.removeFirst(l.count)
        XCTAssertEqual(l.count, 0)
        XCTAssertEqual(l.chunkCount, 0)
        XCTAssertNil(l.pop(fromFront: true))
    }

    func testListRemoveReturnsTheFollowingPosition() {
        let l = ListValue()
        for v in ["a", "x", "b", "x", "x"] { with(v) { l.pushBack($0) } }
        var p: ListValue.Position? = l.firstPosition
        while let q = p {
            if String(decoding: l.element(at: q), as: UTF8.self) == "x" { p = l.remove(at: q) } else { p = l.position(after: q) }
        }
        XCTAssertEqual(list(l).map { String(decoding: $0, as: UTF8.self) }, ["a", "b"])
        let d = l.duplicate() as! ListValue
        l.removeFirst()
        XCTAssertEqual(d.count, 2)
    }
}
