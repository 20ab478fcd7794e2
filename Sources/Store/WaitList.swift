import Synchronization

/// Clients blocked on keys of one shard (BLPOP and friends), in arrival order per key, and the
/// keys that became ready for them. Guarded by the shard's lock like the shard's tables; the
/// waiters themselves are opaque here (the commands layer defines them).
// @unchecked Sendable: touched only while its shard's lock is held.
public final class WaitList: @unchecked Sendable {
    var waiting: [WaitKey: [AnyObject]] = [:]
    var ready: [WaitKey] = []
    unowned let signal: ReadySignal

    init(signal: ReadySignal) { self.signal = signal }

    /// True when nobody waits on any key of this shard (one branch on the push path).
    @inline(__always) public var isEmpty: Bool { waiting.isEmpty }

    /// Adds a waiter at the back of key's queue, dropping finished ones on the way.
    public func add(db: Int, key: [UInt8], _ waiter: AnyObject, isFinished: (AnyObject) -> Bool) {
        let k = WaitKey(db: db, key: key)
        var q = waiting[k] ?? []
        q.removeAll(where: isFinished)
        q.append(waiter)
        waiting[k] = q
    }

    /// A key that may now serve its waiters (a list was created under it).
    @inline(__always)
    public func signalReady(db: Int, key: UnsafeBufferPointer<UInt8>) {
        if waiting.isEmpty { return }
        let k = WaitKey(db: db, key: Array(key))
        if waiting[k] == nil || ready.contains(k) { return }
        ready.append(k)
        signal.pending.add(1, ordering: .relaxed)
    }

    /// Takes the ready keys (the caller serves them).
    public func takeReady() -> [(db: Int, key: [UInt8])] {
        if ready.isEmpty { return [] }
        let r = ready
        ready.removeAll()
        signal.pending.subtract(r.count, ordering: .relaxed)
        return r.map { ($0.db, $0.key) }
    }

    /// The waiters of key, oldest first.
    public func waiters(db: Int, key: [UInt8]) -> [AnyObject] { waiting[WaitKey(db: db, key: key)] ?? [] }

    /// Replaces key's queue (after serving some of it).
    public func setWaiters(db: Int, key: [UInt8], _ q: [AnyObject]) {
        waiting[WaitKey(db: db, key: key)] = q.isEmpty ? nil : q
    }

    /// Removes one waiter from key's queue (timeout, disconnect).
    public func remove(db: Int, key: [UInt8], _ waiter: AnyObject) {
        let k = WaitKey(db: db, key: key)
        guard var q = waiting[k] else { return }
        q.removeAll { $0 === waiter }
        waiting[k] = q.isEmpty ? nil : q
    }

    /// Waiters registered, over all keys (INFO blocked_keys-like figures).
    public var keyCount: Int { waiting.count }
}

/// How many ready keys wait to be served, over all shards: the dispatcher checks it after each
/// command with one relaxed load.
public final class ReadySignal: Sendable {
    public let pending = Atomic<Int>(0)
    public init() {}
}

struct WaitKey: Hashable {
    let db: Int
    let key: [UInt8]
}
