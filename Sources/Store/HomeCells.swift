import CTagCacheSys

/// Prefetching a key's home slot before its command runs.
///
/// A lookup costs two cache misses on a keyspace larger than the cache: the slot word, then the
/// entry it points to (SlotTable keeps hash bits in the word so no other entry is read). A
/// pipelined batch or a multi-key command knows its next keys early, so it can start the first
/// miss of the next lookup while the current one runs. The slot array lives under the shard's
/// lock, so each shard publishes, per database, the array's address and size in a cell
/// (Shard.homeCells, written with a relaxed atomic store under the lock on every resize,
/// creation and drop of a table) that any thread may read without the lock. A stale cell costs
/// nothing: a prefetch of freed or moved memory neither faults nor writes; the command reads
/// the slot again under the lock.
extension Keyspace {
    /// Starts loading key's home slot in db's table of its shard.
    @inlinable @inline(__always)
    public func prefetch(_ key: UnsafeBufferPointer<UInt8>, db: Int) {
        prefetch(hash: hash(key), db: db)
    }

    @inlinable @inline(__always)
    public func prefetch(hash h: UInt64, db: Int) {
        tc_prefetch_home(shards[shardIndex(h)].homeCells + db, UInt32(truncatingIfNeeded: h))
    }
}
