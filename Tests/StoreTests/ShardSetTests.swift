import Store
import XCTest

final class ShardSetTests: XCTestCase {
    /// Each shard once, ascending, whatever the order and repetition of the keys; more than one
    /// word of bits when there are more than 64 shards.
    func testShardsComeOutOnceAndAscending() {
        for shards in [1, 2, 64, 128, 4096] {
            let ks = Keyspace(shards: shards)
            let keys = (0..<300).map { Array("key:\(($0 * 7919) % 113)".utf8) }
            let expected = Set(keys.map { k in k.withUnsafeBufferPointer { ks.shardIndex(ks.hash($0)) } }).sorted()
            let got: [Int] = ks.withShardSet { set in
                for k in keys { k.withUnsafeBufferPointer { ks.insert($0, into: set) } }
                for s in expected { XCTAssertTrue(set.contains(s)) }
                var out: [Int] = []
                set.forEach { out.append($0) }
                return out
            }
            XCTAssertEqual(got, expected, "\(shards) shards")
        }
    }

    func testAFreshSetIsEmptyAndLockingItLocksNothing() {
        let ks = Keyspace(shards: 256)
        ks.withShardSet { set in
            XCTAssertTrue(set.isEmpty)
            set.insert(255)
            set.insert(0)
            XCTAssertFalse(set.isEmpty)
            var out: [Int] = []
            set.forEach { out.append($0) }
            XCTAssertEqual(out, [0, 255])
            ks.lock(set)
            ks.unlock(set)
        }
        // Storage from the stack is zeroed again for the next set.
        ks.withShardSet { XCTAssertTrue($0.isEmpty) }
    }
}
