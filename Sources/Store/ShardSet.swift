/// Shards taken together by one command: a bit per shard index, locked in ascending order (the
/// order every taker of several shard locks follows, so two never wait on each other).
///
/// Multi-key commands (MSET, MGET, DEL of several keys, SMOVE, RENAME...) and EXEC build one.
/// The bits live in storage the caller lends (on the stack, `Keyspace.withShardSet`): no
/// allocation, no hashing into a Set and no sort per command, and each shard is locked once
/// however many of the keys fall into it.
public struct ShardSet {
    @usableFromInline let bits: UnsafeMutableBufferPointer<UInt64>

    /// 64-bit words for `shardCount` shards.
    @inlinable
    public static func words(forShards shardCount: Int) -> Int { (shardCount + 63) >> 6 }

    @inlinable
    public init(_ storage: UnsafeMutableBufferPointer<UInt64>) {
        storage.initialize(repeating: 0)
        bits = storage
    }

    @inlinable @inline(__always)
    public func insert(_ shard: Int) {
        bits[shard >> 6] |= 1 << UInt64(shard & 63)
    }

    @inlinable @inline(__always)
    public func contains(_ shard: Int) -> Bool {
        bits[shard >> 6] & (1 << UInt64(shard & 63)) != 0
    }

    public var isEmpty: Bool { !bits.contains { $0 != 0 } }

    /// Calls body with every shard index in the set, ascending.
    @inlinable @inline(__always)
    public func forEach(_ body: (Int) -> Void) {
        for w in 0..<bits.count {
            var m = bits[w]
            while m != 0 {
                body(w << 6 | m.trailingZeroBitCount)
                m &= m &- 1
            }
        }
    }
}

extension Keyspace {
    /// Runs body with an empty shard set sized for this keyspace, its storage on the stack.
    @inlinable @inline(__always)
    public func withShardSet<R>(_ body: (ShardSet) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: ShardSet.words(forShards: shards.count)) {
            try body(ShardSet($0))
        }
    }

    /// Adds the shard of key to set.
    @inlinable @inline(__always)
    public func insert(_ key: UnsafeBufferPointer<UInt8>, into set: ShardSet) {
        set.insert(shardIndex(hash(key)))
    }

    /// Adds the shard of key to set and starts loading the key's home slot in db (a command
    /// about to read several keys then waits for their cache misses together, not in turn).
    @inlinable @inline(__always)
    public func insert(_ key: UnsafeBufferPointer<UInt8>, into set: ShardSet, prefetchIn db: Int) {
        let h = hash(key)
        set.insert(shardIndex(h))
        prefetch(hash: h, db: db)
    }

    /// Locks every shard of set in ascending order.
    @inlinable @inline(__always)
    public func lock(_ set: ShardSet) { set.forEach { shards[$0].lock() } }

    /// Unlocks what lock(set) locked.
    @inlinable @inline(__always)
    public func unlock(_ set: ShardSet) { set.forEach { shards[$0].unlock() } }
}
