/// How lookups record an access, chosen by maxmemory-policy (Redis keeps either an LRU clock or
/// LFU data in the same 24 bits; TagCache keeps them in the entry header, see Entry).
public enum AccessMode: UInt8, Sendable {
    /// The 22-bit access clock (every policy but the LFU ones and allkeys-s3fifo).
    case clock
    /// LFU: minute of the last decay + a logarithmic 7-bit counter.
    case lfu
    /// The access clock plus the S3-FIFO frequency bits.
    case s3fifo
}

/// The access clock: command time in units of 1,024 ms, 22 bits (a shift, not a division,
/// on the lookup path).
public enum AccessClock {
    public static let bits: UInt32 = 22
    public static let mask: UInt32 = (1 << 22) - 1
    public static let unitMs: Int64 = 1024

    @inline(__always)
    public static func at(_ nowMs: Int64) -> UInt32 { UInt32(truncatingIfNeeded: nowMs >> 10) & mask }

    /// Milliseconds since an entry's clock reading (at most one wrap assumed, as Redis does).
    @inline(__always)
    public static func idleMs(_ stamp: UInt32, now: Int64) -> Int64 {
        Int64((at(now) &- stamp) & mask) * unitMs
    }
}

/// Redis's LFU counter: logarithmic increments, decay by elapsed minutes (evict.c).
enum LFU {
    static let initialValue: UInt8 = 5
    static let maxCounter: UInt8 = 127

    @inline(__always) static func minutes(_ nowMs: Int64) -> UInt16 { UInt16(truncatingIfNeeded: nowMs / 60_000) }

    /// The counter after decay (LFUDecrAndReturn): one step per lfu-decay-time minutes.
    @inline(__always)
    static func decayed(_ e: Entry, now: Int64, decayMinutes: Int) -> UInt8 {
        let counter = e.policyBits
        if decayMinutes <= 0 { return counter }
        let elapsed = Int(minutes(now) &- e.access)
        let periods = elapsed / decayMinutes
        return periods >= Int(counter) ? 0 : counter - UInt8(periods)
    }
}

extension Shard {
    /// Records an access to a live entry (its lookup found it).
    @inlinable @inline(__always)
    func touch(_ e: Entry, now: Int64) {
        switch accessMode {
        case .clock:
            let c = AccessClock.at(now)
            if e.accessClock != c { e.accessClock = c }
        case .s3fifo:
            let c = AccessClock.at(now)
            if e.accessClock != c { e.accessClock = c }
            let b = e.policyBits
            if b & S3FIFO.frequencyMask < S3FIFO.frequencyMask { e.policyBits = b + 1 }
        case .lfu:
            touchLFU(e, now: now)
        }
    }

    /// updateLFU: decay, then a logarithmic increment (probability 1 / ((c - 5) * factor + 1)).
    @usableFromInline @inline(never)
    func touchLFU(_ e: Entry, now: Int64) {
        var c = LFU.decayed(e, now: now, decayMinutes: lfuDecayMinutes)
        if c < LFU.maxCounter {
            let base = Double(max(Int(c) - Int(LFU.initialValue), 0))
            let p = 1.0 / (base * Double(lfuLogFactor) + 1)
            random ^= random << 13
            random ^= random >> 7
            random ^= random << 17
            if Double(random >> 11) * 0x1p-53 < p { c += 1 }
        }
        e.access = LFU.minutes(now)
        e.policyBits = c
    }

    /// Gives a new entry its first access record (Redis's createObject: LRU clock now, or LFU
    /// counter 5 at this minute; S3-FIFO: small queue, frequency 0).
    @inline(__always)
    public func stampNew(_ e: Entry, now: Int64) {
        switch accessMode {
        case .clock:
            e.accessClock = AccessClock.at(now)
            e.policyBits = 0
        case .s3fifo:
            e.accessClock = AccessClock.at(now)
            // A key evicted from the small queue not long ago comes back into the main queue.
            e.policyBits = ghost.take(e.hash) ? S3FIFO.mainBit : 0
        case .lfu:
            e.access = LFU.minutes(now)
            e.policyBits = LFU.initialValue
        }
    }

    /// OBJECT FREQ: the LFU counter after decay.
    public func frequency(_ e: Entry, now: Int64) -> Int {
        Int(LFU.decayed(e, now: now, decayMinutes: lfuDecayMinutes))
    }

    /// Re-initialises every entry's access record for a new mode (the old bits mean something
    /// else) and turns the tables' S3-FIFO bookkeeping on or off. Under the lock.
    func switchAccessMode(_ mode: AccessMode, now: Int64) {
        let old = accessMode
        if mode == old { return }
        accessMode = mode
        ghost = GhostFilter()
        for case let t? in tables {
            t.s3fifo = mode == .s3fifo
            t.mainCount = 0
            // The access clock means the same to LRU and S3-FIFO: only LFU's bits are restarted.
            let restamp = mode == .lfu || old == .lfu
            t.forEachSlot { _, e in
                if restamp { stampNew(e, now: now) } else { e.policyBits = 0 }
                return true
            }
        }
    }
}
