import Store

extension CommandContext {
    /// The aggregate of `kind` at k: `(slot, value)`, `(-1, nil)` when the key is missing, nil
    /// after replying WRONGTYPE. `read` counts keyspace hits and misses (Redis's lookupKeyRead).
    /// One lookup for hashes, sets and lists alike. Under a write command the aggregate is
    /// noted for re-measuring at unlock (used_memory, maxmemory).
    @inline(__always)
    func openAggregate<T: StoredObject>(_ k: KeySlot, _ kind: ValueKind, as type: T.Type, read: Bool) -> (Int, T?)? {
        let slot = read ? k.findForRead() : k.find()
        if slot < 0 { return (-1, nil) }
        let e = k.entry(slot)
        guard e.kind == kind, let v = e.object as? T else {
            wrongType()
            return nil
        }
        if !read || current?.flags.contains(.write) != false { k.shard.willWrite(v) }
        return (slot, v)
    }
}

extension KeySlot {
    /// After members were removed from the aggregate at slot in place: an emptied aggregate
    /// deletes its key, as in Redis; otherwise a change is signalled (WATCH) when there was one.
    @inline(__always)
    func aggregateShrank(at slot: Int, isEmpty: Bool, changed: Bool) {
        if isEmpty {
            delete(slot)
        } else if changed {
            shard.keyModified(db: db, key: key)
        }
    }
}
