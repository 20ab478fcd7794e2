@testable import Store
import XCTest

/// The deadline index behind active expiry: against a model of the keys' deadlines, after
/// every sweep no key whose deadline passed is left and no key was removed before its
/// deadline, across re-expiry, PERSIST-like changes, deletes, table resizes and clock jumps;
/// stale records stay bounded.
final class DeadlineIndexTests: XCTestCase {
    func testSweepsRemoveExactlyTheDueKeys() {
        let shard = Shard(index: 0, databases: 1)
        var rng = SeededGenerator(state: 11)
        var model: [String: Int64] = [:] // key -> deadline (0 = none)
        var now: Int64 = 1_700_000_000_000
        var expiredByModel = 0
        func withKey(_ k: String, _ body: (UnsafeBufferPointer<UInt8>, UInt32) -> Void) {
            let b = Array(k.utf8)
            b.withUnsafeBufferPointer { body($0, UInt32(truncatingIfNeeded: KeyHash.hash($0.baseAddress, $0.count))) }
        }
        for step in 0..<15_000 {
            let k = "k\(Int.random(in: 0..<3000, using: &rng))"
            let t = shard.table(0)
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<45:
                // SET with or without a deadline (replacing any value).
                let d: Int64 = Bool.random(using: &rng) ? now + Int64.random(in: 1...120_000, using: &rng) : 0
                withKey(k) { kb, h in
                    let e = Entry.makeString(key: kb, hash: h, value: kb, deadline: d)
                    let s = t.find(kb, hash: h)
                    if s >= 0 { t.replace(at: s, with: e) } else { t.insert(e) }
                }
                model[k] = d
            case 45..<65:
                // EXPIRE / PERSIST in place.
                withKey(k) { kb, h in
                    let s = t.find(kb, hash: h)
                    guard s >= 0 else { return }
                    let d: Int64 = Int.random(in: 0..<4, using: &rng) == 0 ? 0 : now + Int64.random(in: 1...60_000, using: &rng)
                    let e = t.entry(at: s)
                    t.willUpdate(e)
                    e.deadline = d
                    t.didUpdate(e, at: s)
                    model[k] = d
                }
            case 65..<75:
                withKey(k) { kb, h in
                    let s = t.find(kb, hash: h)
                    if s >= 0 { t.remove(at: s) }
                }
                model[k] = nil
            default:
                // Time passes; now and then it jumps past the whole ring.
                now += Int.random(in: 0..<50, using: &rng) == 0 ? 200_000 : Int64.random(in: 0...700, using: &rng)
                for (key, d) in model where d != 0 && d <= now {
                    model[key] = nil
                    expiredByModel += 1
                }
                let before = shard.stats.expiredKeys
                while shard.sweepExpired(db: 0, now: now, budget: 1 << 20).1 > 0 {}
                let removed = shard.stats.expiredKeys - before
                // Every key left is one the model keeps, with its deadline; none is due.
                var live = 0
                shard.existingTable(0)?.forEachSlot { _, e in
                    live += 1
                    let key = String(decoding: e.key, as: UTF8.self)
                    XCTAssertEqual(model[key], e.deadline, "step \(step): \(key)")
                    XCTAssertFalse(e.deadline != 0 && e.deadline <= now, "step \(step): \(key) is due but still here")
                    return true
                }
                XCTAssertEqual(live, model.count, "step \(step)")
                XCTAssertEqual(shard.stats.expiredKeys, expiredByModel, "step \(step): removed \(removed)")
                if let t = shard.existingTable(0) {
                    XCTAssertLessThanOrEqual(t.deadlines.records, 2 * t.volatileCount + 1025, "step \(step)")
                    XCTAssertEqual(t.deadlines.bytes, t.deadlines.measuredBytes, "step \(step)")
                }
            }
        }
        XCTAssertGreaterThan(expiredByModel, 500)
    }
}

/// A deterministic generator (splitmix64) for replayable random tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
