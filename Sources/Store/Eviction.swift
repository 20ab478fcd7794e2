import Synchronization

/// maxmemory-policy: Redis's eight policies plus allkeys-s3fifo (S3FIFO.swift).
public enum EvictionPolicy: String, Sendable, CaseIterable {
    case noeviction
    case allkeysLRU = "allkeys-lru"
    case allkeysLFU = "allkeys-lfu"
    case allkeysRandom = "allkeys-random"
    case volatileLRU = "volatile-lru"
    case volatileLFU = "volatile-lfu"
    case volatileRandom = "volatile-random"
    case volatileTTL = "volatile-ttl"
    case allkeysS3FIFO = "allkeys-s3fifo"

    /// Only keys with a TTL may be evicted.
    public var volatileOnly: Bool {
        switch self {
        case .volatileLRU, .volatileLFU, .volatileRandom, .volatileTTL: return true
        default: return false
        }
    }

    public var accessMode: AccessMode {
        switch self {
        case .allkeysLFU, .volatileLFU: return .lfu
        case .allkeysS3FIFO: return .s3fifo
        default: return .clock
        }
    }
}

/// What a check before a command found (Redis's performEvictions).
public enum EvictionResult: Sendable {
    /// Under maxmemory (now or after evicting).
    case ok
    /// Still over after this call's time budget: the command runs; the cron goes on evicting.
    case running
    /// Over maxmemory and nothing may be evicted (noeviction, or no candidate key): commands
    /// that may grow memory get the OOM error.
    case failed
}

/// A key the sampled policies consider evicting, best (highest score) last.
struct EvictionCandidate {
    var score: UInt64
    var shard: Int
    var db: Int
    var key: [UInt8]
}

struct EvictionState {
    var policy = EvictionPolicy.noeviction
    var samples = 5
    /// Redis's eviction pool: the best candidates of recent samples (EVPOOL_SIZE 16).
    var pool: [EvictionCandidate] = []
    static let poolSize = 16
}

extension Keyspace {
    /// Applies maxmemory, maxmemory-policy, maxmemory-samples, lfu-log-factor, lfu-decay-time.
    public func configureEviction(maxmemory bytes: Int, policy: EvictionPolicy, samples: Int,
                                  lfuLogFactor: Int, lfuDecayMinutes: Int) {
        // Meters publish after `slack` bytes of change: with shards x slack under 1/256 of
        // maxmemory the figure checked is within 0.4% of the true one.
        let slack = bytes == 0 ? 16 * 1024 : min(max(bytes / (shardCount * 256), 64), 16 * 1024)
        let now = clock.nowMs()
        for s in shards {
            s.lock()
            s.meter.slack = slack
            s.meter.publish()
            s.lfuLogFactor = lfuLogFactor
            s.lfuDecayMinutes = lfuDecayMinutes
            s.switchAccessMode(policy.accessMode, now: now)
            s.unlock()
        }
        eviction.withLock { st in
            if st.policy != policy { st.pool.removeAll() }
            st.policy = policy
            st.samples = samples
        }
        maxmemory.store(bytes, ordering: .relaxed)
    }

    public var evictionPolicy: EvictionPolicy { eviction.withLock { $0.policy } }

    /// Evicts keys until used memory is under maxmemory, for at most `budgetUs` microseconds.
    /// Called before every command while maxmemory is set (one atomic load when under it) and
    /// by the cron.
    @inline(__always)
    public func evictIfNeeded(budgetUs: Int64 = 1000) -> EvictionResult {
        let limit = maxmemory.load(ordering: .relaxed)
        if limit == 0 || usedMemory <= limit {
            if evictionExceededSince.load(ordering: .relaxed) != 0 { endExceeded() }
            return .ok
        }
        let r = evict(limit: limit, budgetUs: budgetUs)
        if r == .ok {
            endExceeded()
        } else if evictionExceededSince.load(ordering: .relaxed) == 0 {
            // Over the limit after this call: the time until it is under again is counted.
            _ = evictionExceededSince.compareExchange(expected: 0, desired: monotonicMs(), ordering: .relaxed)
        }
        return r
    }

    @inline(never)
    func endExceeded() {
        let since = evictionExceededSince.exchange(0, ordering: .relaxed)
        if since != 0 { evictionExceededMs.add(monotonicMs() - since, ordering: .relaxed) }
    }

    /// INFO current_eviction_exceeded_time (ms) and total_eviction_exceeded_time (ms).
    public var evictionExceeded: (current: Int64, total: Int64) {
        let since = evictionExceededSince.load(ordering: .relaxed)
        let current = since == 0 ? 0 : monotonicMs() - since
        return (current, evictionExceededMs.load(ordering: .relaxed) + current)
    }

    @inline(never)
    func evict(limit: Int, budgetUs: Int64) -> EvictionResult {
        let (policy, samples) = eviction.withLock { ($0.policy, $0.samples) }
        if policy == .noeviction { return .failed }
        let start = monotonicUs()
        var used = usedMemory
        var evicted = 0
        defer { trimHeapIfWorthIt(freed: evicted) }
        while used > limit {
            let freed: Int?
            switch policy {
            case .allkeysRandom, .volatileRandom: freed = evictRandom(volatileOnly: policy.volatileOnly)
            case .allkeysS3FIFO: freed = evictS3FIFO()
            default: freed = evictSampled(policy, samples: samples)
            }
            guard let f = freed else { return .failed }
            used -= f
            evicted += 1
            if evicted & 15 == 0 {
                if monotonicUs() - start > budgetUs { return .running }
                used = usedMemory
            }
        }
        return .ok
    }

    /// The next shard to evict from.
    @inline(__always)
    func nextEvictionShard() -> Int { evictionCursor.add(1, ordering: .relaxed).newValue & (shardCount - 1) }

    /// Removes the entry at slot as an eviction (tags go with it, WATCH sees it, evicted_keys
    /// counts it) and returns the bytes the shard's meter lost. Under s's lock.
    func evictEntry(_ s: Shard, _ t: Table, _ slot: Int, db: Int) -> Int {
        let before = s.meter.bytes
        let e = t.detach(at: slot)
        s.stats.evictedKeys += 1
        s.keyModified(db: db, key: e.key)
        e.free()
        if t.count == 0 { s.dropTable(db) }
        let freed = before - s.meter.bytes
        s.meter.publish()
        return freed
    }

    /// allkeys-random / volatile-random: a random key of the next shard that has one.
    func evictRandom(volatileOnly: Bool) -> Int? {
        for _ in 0..<shardCount {
            let s = shards[nextEvictionShard()]
            s.lock()
            defer { s.unlock() }
            let first = FastRandom.int(in: 0..<databases)
            for d in 0..<databases {
                let db = (first + d) % databases
                guard let t = s.existingTable(db) else { continue }
                let slot = volatileOnly ? t.randomVolatileSlot() : t.randomSlot()
                if let slot { return evictEntry(s, t, slot, db: db) }
            }
        }
        return nil
    }

    /// allkeys-s3fifo: the S3-FIFO victim of the next shard that has keys.
    func evictS3FIFO() -> Int? {
        for _ in 0..<shardCount {
            let s = shards[nextEvictionShard()]
            s.lock()
            defer { s.unlock() }
            var keys = 0
            for db in 0..<databases { keys += s.existingTable(db)?.count ?? 0 }
            if keys == 0 { continue }
            let before = s.ghost.memoryBytes
            s.ghost.fit(keys)
            s.meter.add(s.ghost.memoryBytes - before)
            let first = FastRandom.int(in: 0..<databases)
            for d in 0..<databases {
                let db = (first + d) % databases
                guard let t = s.existingTable(db),
                      let slot = t.s3fifoVictim(toGhost: { s.ghost.add($0) }) else { continue }
                return evictEntry(s, t, slot, db: db)
            }
        }
        return nil
    }

    /// The LRU, LFU and TTL policies, as Redis does them: sample `samples` keys (here of one
    /// shard per round, every database), keep the best candidates of all rounds in a pool of
    /// 16, evict the best one that still exists.
    func evictSampled(_ policy: EvictionPolicy, samples: Int) -> Int? {
        let volatileOnly = policy.volatileOnly
        for _ in 0..<shardCount {
            let si = nextEvictionShard()
            let s = shards[si]
            var found: [EvictionCandidate] = []
            s.lock()
            let now = clock.nowMs()
            for db in 0..<databases {
                guard let t = s.existingTable(db), (volatileOnly ? t.volatileCount : t.count) > 0 else { continue }
                for _ in 0..<samples {
                    guard let slot = volatileOnly ? t.randomVolatileSlot() : t.randomSlot() else { break }
                    let e = t.entry(at: slot)
                    let score: UInt64
                    switch policy {
                    case .volatileTTL:
                        score = UInt64.max - UInt64(max(e.deadline, 0))
                    case .allkeysLFU, .volatileLFU:
                        score = 255 - UInt64(s.frequency(e, now: now))
                    default:
                        score = UInt64(AccessClock.idleMs(e.accessClock, now: now))
                    }
                    found.append(EvictionCandidate(score: score, shard: si, db: db, key: Array(e.key)))
                }
            }
            s.unlock()
            eviction.withLock { st in
                for c in found where !st.pool.contains(where: { $0.shard == c.shard && $0.db == c.db && $0.key == c.key }) {
                    st.pool.append(c)
                }
                st.pool.sort { $0.score < $1.score }
                if st.pool.count > EvictionState.poolSize { st.pool.removeFirst(st.pool.count - EvictionState.poolSize) }
            }
            while let c = eviction.withLock({ $0.pool.popLast() }) {
                let s = shards[c.shard]
                s.lock()
                defer { s.unlock() }
                guard let t = s.existingTable(c.db) else { continue }
                let h = c.key.withUnsafeBufferPointer { UInt32(truncatingIfNeeded: hash($0)) }
                let slot = c.key.withUnsafeBufferPointer { t.find($0, hash: h) }
                if slot < 0 || (volatileOnly && !t.entry(at: slot).hasDeadline) { continue }
                return evictEntry(s, t, slot, db: c.db)
            }
        }
        return nil
    }
}

extension Table {
    /// A random slot holding an entry with a deadline, or nil when there is none.
    func randomVolatileSlot() -> Int? {
        if volatileCount == 0 { return nil }
        for _ in 0..<16 {
            if let s = randomSlot(), entry(at: s).hasDeadline { return s }
        }
        // Few volatile keys: walk from a random slot to the next one.
        let mask = slots.mask
        var i = FastRandom.int(in: 0...mask)
        for _ in 0...mask {
            if let e = slots.record(at: i), e.hasDeadline { return i }
            i = (i + 1) & mask
        }
        return nil
    }
}
