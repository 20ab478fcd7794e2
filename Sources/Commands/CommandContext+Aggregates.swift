import RESP
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

/// What HDEL and SREM (ZREM next) remove members from.
protocol MemberRemoving: StoredObject {
    var count: Int { get }
    func remove(_ member: UnsafeBufferPointer<UInt8>) -> Bool
}

extension HashValue: MemberRemoving {}
extension SetValue: MemberRemoving {}

extension CommandContext {
    /// HDEL, SREM: removes the members named after the key from the aggregate of `kind`, deletes
    /// the key once it is empty, and replies with how many were removed.
    func removeMembers<T: MemberRemoving>(_ args: Arguments, _ kind: ValueKind, as type: T.Type) {
        withKey(args[1]) { k in
            guard let (slot, found) = openAggregate(k, kind, as: type, read: false) else { return }
            guard let v = found else {
                reply.integer(0)
                return
            }
            var removed = 0
            for i in 2..<args.count where v.remove(args[i]) {
                removed += 1
                if v.count == 0 { break }
            }
            k.aggregateShrank(at: slot, isEmpty: v.count == 0, changed: removed > 0)
            reply.integer(removed)
        }
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

extension CommandContext {
    /// The count of SRANDMEMBER, HRANDFIELD (and ZRANDMEMBER): an integer whose negation fits
    /// (negative asks for repeats), as Redis's getRangeLongFromObjectOrReply; nil after replying
    /// the error.
    func randomCount(_ arg: Bytes) -> Int? {
        guard let l = arg.redisInteger else {
            notInteger()
            return nil
        }
        if l == Int.min {
            reply.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            return nil
        }
        return l
    }
}
