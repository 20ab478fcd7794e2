import CTagCacheSys
import Synchronization
/// The whole store: `databases` logical databases split over a power-of-two number of shards.
/// A key's shard comes from the high bits of its hash, its slot from the low 32 bits.
// @unchecked Sendable: its fields are lets fixed at init; what changes lives in shards (under their locks) or in Atomic/Locked fields.
public final class Keyspace: @unchecked Sendable {
    public let shards: [Shard]
    /// The shards again, unretained (the array above keeps them alive), for lockAll.
    private let shardRefs: UnsafeMutableBufferPointer<Unmanaged<Shard>>
    public let shardBits: Int
    public let databases: Int
    public let clock: Clock
    /// Blocked clients per shard (same index as shards, guarded by that shard's lock).
    public let waitLists: [WaitList]
    /// DEBUG SET-ACTIVE-EXPIRE: false stops the background expiry cycle (reads still expire).
    public var activeExpireEnabled: Bool {
        get { activeExpire.load(ordering: .relaxed) }
        set { activeExpire.store(newValue, ordering: .relaxed) }
    }
    private let activeExpire = Atomic<Bool>(true)
    /// Ready keys waiting to be served, over all shards.
    public let readySignal = ReadySignal()
    /// The bytes all shards' tables hold, as their meters publish them.
    let memoryTotal = MemoryTotal()
    /// Bytes the server holds outside the store that count toward maxmemory: its start-up
    /// memory. Client buffers do not count (INFO mem_not_counted_for_evict): a pipeline being
    /// read would otherwise evict keys for bytes that are gone a moment later; they have
    /// their own limits (client-query-buffer-limit, client-output-backpressure).
    public let otherMemory = Atomic<Int>(0)
    /// maxmemory in bytes (0 = no limit); read before every command.
    public let maxmemory = Atomic<Int>(0)
    /// A script has run past busy-reply-threshold and holds the keyspace: 1 (EVAL) or 2 (a
    /// function), else 0. Read before every command: other clients get -BUSY meanwhile.
    public let busyScript = Atomic<Int>(0)
    /// Policy, samples and the sampled policies' candidate pool.
    let eviction = Locked(EvictionState())
    /// Where the next eviction looks first (round robin over shards).
    let evictionCursor = Atomic<Int>(0)

    public init(shards: Int = 16, databases: Int = 16, clock: Clock = Clock()) {
        var bits = 0
        while (1 << bits) < max(shards, 1) { bits += 1 }
        shardBits = bits
        self.databases = databases
        self.clock = clock
        let total = memoryTotal
        self.shards = (0..<(1 << bits)).map { Shard(index: $0, databases: databases, total: total) }
        let refs = UnsafeMutableBufferPointer<Unmanaged<Shard>>.allocate(capacity: self.shards.count)
        for (i, shard) in self.shards.enumerated() { refs[i] = Unmanaged.passUnretained(shard) }
        shardRefs = refs
        let signal = readySignal
        waitLists = (0..<(1 << bits)).map { _ in WaitList(signal: signal) }
        for (s, w) in zip(self.shards, waitLists) { s.waitList = w }
    }

    public var shardCount: Int { shards.count }

    /// The 64-bit hash of a key.
    @inlinable @inline(__always)
    public func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        KeyHash.hash(UnsafeRawPointer(key.baseAddress), key.count)
    }

    /// Shard index for a full hash.
    @inlinable @inline(__always)
    public func shardIndex(_ h: UInt64) -> Int {
        shardBits == 0 ? 0 : Int(truncatingIfNeeded: h >> UInt64(64 - shardBits))
    }

    deinit { shardRefs.deallocate() }

    /// Locks every shard in ascending order (FLUSHALL, MULTI/EXEC, scripts, multi-key commands).
    /// Through unretained references: retaining and releasing 64 shards cost as much as their
    /// 128 lock operations (a quarter of EVALSHA's CPU).
    public func lockAll() {
        let refs = shardRefs
        for i in 0..<refs.count { refs[i]._withUnsafeGuaranteedRef { $0.lock() } }
    }

    public func unlockAll() {
        let refs = shardRefs
        var i = refs.count - 1
        while i >= 0 {
            refs[i]._withUnsafeGuaranteedRef { $0.unlock() }
            i -= 1
        }
    }

    /// Per database, over all shards (one shard lock at a time): keys, keys with a deadline,
    /// hash table slots, and with `averageTTL` the average remaining TTL of the keys with a
    /// deadline, as INFO keyspace shows them (the cron's log shows the slots).
    public func databaseSummary(averageTTL: Bool) -> [DatabaseSummary] {
        var out = Array(repeating: DatabaseSummary(), count: databases)
        var ttlWeighted = Array(repeating: 0.0, count: databases)
        let now = clock.nowMs()
        for s in shards {
            s.lock()
            for db in 0..<databases {
                guard let t = s.existingTable(db) else { continue }
                out[db].keys += t.count
                out[db].expires += t.volatileCount
                out[db].slots += t.capacity
                if averageTTL, t.volatileCount > 0, let avg = t.sampledTTL(now: now) {
                    ttlWeighted[db] += avg * Double(t.volatileCount)
                }
            }
            s.unlock()
        }
        for db in 0..<databases where out[db].expires > 0 {
            out[db].averageTTLms = Int(ttlWeighted[db] / Double(out[db].expires))
        }
        return out
    }

    /// The tag indexes over all shards (INFO tags): a tag used in several shards counts once
    /// per database, which costs O(tags) per call.
    public func tagSummary() -> TagSummary {
        var out = TagSummary()
        for db in 0..<databases {
            var names = Set<[UInt8]>()
            for s in shards {
                s.lock()
                if let index = s.existingTable(db)?.tags {
                    out.links += index.links
                    out.taggedKeys += index.keyCount
                    out.indexBytes += index.memoryBytes
                    index.forEachTagName { names.insert(Array($0)); return true }
                }
                s.unlock()
            }
            out.tags += names.count
        }
        return out
    }

    /// Summed shard counters.
    public func stats() -> ShardStats {
        var total = ShardStats()
        for s in shards {
            s.lock()
            total.add(s.stats)
            s.unlock()
        }
        return total
    }

    public func resetStats() {
        for s in shards {
            s.lock()
            s.stats = ShardStats()
            s.unlock()
        }
    }

    /// Bytes held by entries, tables, aggregates and tag indexes: the sum of the shards'
    /// meters (exact; locks each shard briefly).
    public func memoryBytes() -> Int {
        var n = 0
        for s in shards {
            s.lock()
            n += s.meter.bytes
            s.unlock()
        }
        return n
    }

    /// What maxmemory is compared with: the store's published bytes plus the server's other
    /// memory. No lock; the store part lags by at most shards x slack bytes (MemoryMeter).
    @inline(__always)
    public var usedMemory: Int {
        memoryTotal.bytes.load(ordering: .relaxed) + otherMemory.load(ordering: .relaxed)
    }

    /// One round of active expiry: each shard, each database, up to 16 steps of
    /// `budgetPerShard` due records, one shard lock at a time so requests are never stalled
    /// for long. Returns keys removed. Afterwards `expiredStalePercent` says how many keys
    /// with a TTL are past their deadline and still here (INFO expired_stale_perc), and
    /// `expireTimeCapReached` counts rounds that stopped with work left.
    @discardableResult
    public func activeExpireCycle(budgetPerShard: Int = 4096) -> Int {
        var removed = 0
        if !activeExpireEnabled { return 0 }
        var backlog = 0, volatile = 0
        var capped = false
        for s in shards {
            s.lock()
            let now = clock.nowMs()
            for db in 0..<databases {
                var rounds = 0
                while true {
                    let (looked, r) = s.sweepExpired(db: db, now: now, budget: budgetPerShard)
                    removed += r
                    rounds += 1
                    if looked < budgetPerShard { break }
                    if rounds == 16 {
                        capped = true
                        break
                    }
                }
                if let t = s.existingTable(db) {
                    backlog += t.expiredBacklog(now: now)
                    volatile += t.volatileCount
                }
            }
            s.unlock()
        }
        expiredStaleBasisPoints.store(volatile == 0 ? 0 : min(backlog, volatile) * 10_000 / volatile, ordering: .relaxed)
        if capped { expireTimeCapReached.add(1, ordering: .relaxed) }
        return removed
    }

    /// INFO expired_stale_perc, in hundredths of a percent.
    public var expiredStalePercent: Double { Double(expiredStaleBasisPoints.load(ordering: .relaxed)) / 100 }

    let expiredStaleBasisPoints = Atomic<Int>(0)
    /// Active expiry rounds that stopped at their cap with due keys left (INFO
    /// expired_time_cap_reached_count).
    public let expireTimeCapReached = Atomic<Int>(0)
    /// Milliseconds used memory spent over maxmemory (INFO total_eviction_exceeded_time), and
    /// since when it is over now (0 = not over).
    public let evictionExceededMs = Atomic<Int64>(0)
    public let evictionExceededSince = Atomic<Int64>(0)

    /// Entries freed since the heap was last trimmed.
    let freedSinceTrim = Atomic<Int>(0)

    let lastTrimMs = Atomic<Int64>(0)

    /// Returns free heap memory to the kernel once enough was freed (after mass expiry, a flush
    /// or an invalidation): glibc keeps freed pages otherwise and RSS never comes back down.
    /// Measured: without it, RSS stayed 93 MB above baseline after 1M keys expired; with it, it
    /// was back within 1 MB. malloc_trim walks the whole heap, so it runs after at least 100,000
    /// frees (1,000 shortly after a trim) and at most once a second.
    public func trimHeapIfWorthIt(freed: Int) {
        // Called with 0 by the cron too, so a trim deferred by the rate limit still happens.
        // Within 10 s of a trim the threshold is 1,000 frees: the tail of a mass expiry (keys
        // freed after the first trim) would otherwise keep its pages, measured 44 MB of RSS
        // left after 1M keys expired when the first trim came after 956k of them.
        let pending = freedSinceTrim.add(freed, ordering: .relaxed).newValue
        if pending < 1000 { return }
        let now = monotonicMs()
        let last = lastTrimMs.load(ordering: .relaxed)
        if pending < 100_000 && now - last > 10_000 { return }
        if now - last < 1000 { return }
        lastTrimMs.store(now, ordering: .relaxed)
        freedSinceTrim.store(0, ordering: .relaxed)
        _ = tc_malloc_trim()
    }

    /// Drops every key in db (all shards, locked in order so no reader sees half of it).
    public func flush(db: Int, locked: Bool = false) {
        if !locked { lockAll() }
        let now = clock.nowMs()
        for s in shards { s.flush(db, now: now) }
        if !locked { unlockAll() }
    }

    public func flushAll(locked: Bool = false) {
        if !locked { lockAll() }
        let now = clock.nowMs()
        for s in shards { for db in 0..<databases { s.flush(db, now: now) } }
        if !locked { unlockAll() }
    }
}

/// One database's figures over all shards (Keyspace.databaseSummary).
public struct DatabaseSummary: Sendable {
    public var keys = 0
    /// Keys with a deadline.
    public var expires = 0
    /// Hash table slots.
    public var slots = 0
    /// Average remaining TTL in milliseconds of the keys with a deadline (0 without any, or
    /// when not asked for).
    public var averageTTLms = 0
}

/// The tag indexes over all shards (Keyspace.tagSummary).
public struct TagSummary: Sendable {
    /// Distinct tags in use (a name held in several shards counts once per database).
    public var tags = 0
    /// Key-tag links.
    public var links = 0
    /// Keys with at least one tag.
    public var taggedKeys = 0
    /// Bytes of the tag indexes (part of the store's memory).
    public var indexBytes = 0
}

extension Table {
    /// Average remaining TTL (ms) of the keys with a deadline: exact for small tables, from the
    /// first `sampleSize` such keys in slot (hash) order otherwise, as Redis also estimates it.
    func sampledTTL(now: Int64, sampleSize: Int = 512) -> Double? {
        var sum = 0.0, n = 0
        forEachSlot { _, e in
            let d = e.deadline
            if d > now {
                sum += Double(d - now)
                n += 1
            }
            return n < sampleSize
        }
        return n > 0 ? sum / Double(n) : nil
    }
}
