import RESP

/// What one call of a SCAN-family command asks for (SCAN, HSCAN, SSCAN, TAG.SCAN; the command
/// layer parses it from the arguments).
public struct ScanOptions {
    /// COUNT: how many elements a call looks at before it returns (a hint, as in Redis).
    public var count = 10
    /// MATCH's pattern; nil without MATCH, and for "*", which Redis does not even apply.
    public var pattern: Bytes?
    /// SCAN's TYPE, up to its first NUL (Redis compares it with strcasecmp).
    public var typeName: Bytes?
    /// HSCAN's NOVALUES (Redis 7.4's, offered by TagCache): fields without their values.
    public var noValues = false

    public init() {}

    @inline(__always)
    func matches(_ element: Bytes) -> Bool {
        guard let p = pattern else { return true }
        return GlobPattern.matches(pattern: p, element)
    }
}

/// How far one call of a SCAN-family command walks, as Redis's scanGenericCommand bounds it: it
/// stops once `count` elements were looked at (before MATCH or TYPE filter them out) or after
/// count x 10 buckets past the first, whichever comes first; the end of the walk ends it sooner.
public struct ScanBudget {
    /// Elements to look at.
    let count: Int
    /// Buckets still allowed after the current one (Redis's maxiterations; -1 when spent).
    var buckets: Int
    /// Elements looked at so far.
    var seen = 0

    /// `pairs`: the reply carries each member with its value (HSCAN, ZSCAN). Redis doubles COUNT
    /// for those and counts fields and values alike, so COUNT still means members while the
    /// bucket allowance doubles.
    public init(count: Int, pairs: Bool = false) {
        self.count = count
        let (b, overflow) = count.multipliedReportingOverflow(by: pairs ? 20 : 10)
        buckets = overflow ? Int.max : b
    }

    /// True once the call must return.
    public var isSpent: Bool { buckets < 0 || seen >= count }

    /// Walks one table's buckets in reverse-binary order from `cursor` while the budget lasts and
    /// returns the cursor to resume from, 0 once the table's walk is complete. `bucket` visits
    /// the bucket its cursor names, adds the elements it looked at to its counter and returns
    /// the next cursor (Table.scan, MemberTable.scan, a tag's key set).
    @inline(__always)
    public mutating func walk(from cursor: UInt64, _ bucket: (UInt64, inout Int) -> UInt64) -> UInt64 {
        var c = cursor
        repeat {
            c = bucket(c, &seen)
            buckets -= 1
        } while c != 0 && !isSpent
        return c
    }
}

/// An aggregate that HSCAN, SSCAN (and ZSCAN) walk bucket by bucket.
public protocol ScannableValue: StoredObject {
    /// Whether the reply carries each member with its value (a hash's field and value).
    static var scansPairs: Bool { get }
    /// Visits the members whose home is the cursor's bucket (with their values, for pairs) and
    /// returns the next cursor, 0 when the walk is complete. A packed form gives everything at
    /// once with cursor 0, as Redis does for a listpack or an intset.
    func scanBucket(_ cursor: UInt64, _ body: (_ member: Bytes, _ value: Bytes?) -> Void) -> UInt64
}

extension ScannableValue {
    /// One HSCAN/SSCAN call from `cursor`: body gets each member matching MATCH (and its value,
    /// for pairs). Returns the cursor to resume from, 0 when the walk is complete.
    public func scan(from cursor: UInt64, _ options: ScanOptions, _ body: (_ member: Bytes, _ value: Bytes?) -> Void) -> UInt64 {
        var budget = ScanBudget(count: options.count, pairs: Self.scansPairs)
        return budget.walk(from: cursor) { c, seen in
            scanBucket(c) { m, v in
                seen += 1
                if options.matches(m) { body(m, v) }
            }
        }
    }
}

extension HashValue: ScannableValue {
    public static var scansPairs: Bool { true }
    public func scanBucket(_ cursor: UInt64, _ body: (Bytes, Bytes?) -> Void) -> UInt64 {
        scan(cursor) { f, v in body(f, v) }
    }
}

extension SetValue: ScannableValue {
    public static var scansPairs: Bool { false }
    public func scanBucket(_ cursor: UInt64, _ body: (Bytes, Bytes?) -> Void) -> UInt64 {
        scan(cursor) { body($0, nil) }
    }
}

extension Keyspace {
    /// One call of a walk over every shard, resuming at `cursor`: shard after shard, each under
    /// its own lock (unless the caller holds them all), `walkShard` walks that shard's part from
    /// the shard's cursor while the budget lasts and returns where to resume (0: the part is
    /// done). The cursor keeps the shard in its low `shardBits` bits and the shard's cursor
    /// above them, so a full iteration walks shard 0's part, then shard 1's, ...; a shard with
    /// nothing to walk costs nothing, so a small keyspace finishes in one call.
    func walkShards(from cursor: UInt64, _ budget: inout ScanBudget, locked: Bool,
                    _ walkShard: (Shard, UInt64, inout ScanBudget) -> UInt64) -> UInt64 {
        let bits = UInt64(shardBits)
        var index = Int(cursor & UInt64(shardCount - 1))
        var inner = cursor >> bits
        while true {
            let shard = shards[index]
            if !locked { shard.lock() }
            inner = walkShard(shard, inner, &budget)
            if !locked { shard.unlock() }
            if inner != 0 { return inner << bits | UInt64(index) }
            index += 1
            if index == shardCount { return 0 }
            if budget.isSpent { return UInt64(index) }
        }
    }

    /// One SCAN call over db's keys from `cursor`; `found` gets each key of the reply. A full
    /// iteration returns every key that exists for its whole duration, across shards and table
    /// resizes, as Redis's dictScan does. As in Redis, MATCH is checked first; with TYPE the key
    /// is then looked up as lookupKeyRead does (a keyspace hit, or a miss for an expired key,
    /// whose type is then "none", so TYPE none returns it); an expired key is removed (after its
    /// bucket's walk, never during it) and otherwise not returned.
    public func scanKeys(db: Int, from cursor: UInt64, _ options: ScanOptions, now: Int64, locked: Bool,
                         _ found: (Bytes) -> Void) -> UInt64 {
        var budget = ScanBudget(count: options.count)
        var expired: [([UInt8], UInt32)] = []
        return walkShards(from: cursor, &budget, locked: locked) { shard, start, budget in
            guard let t = shard.existingTable(db), t.count > 0 else { return 0 }
            return budget.walk(from: start) { c, seen in
                let next = t.scan(c) { e in
                    seen += 1
                    if !options.matches(e.key) { return }
                    let d = e.deadline
                    let isExpired = d != 0 && d <= now
                    if isExpired { expired.append((Array(e.key), e.hash)) }
                    if let wanted = options.typeName {
                        if isExpired { shard.stats.keyspaceMisses += 1 } else { shard.stats.keyspaceHits += 1 }
                        if !wanted.equalsIgnoringCase(isExpired ? "none" : e.kind.typeName) { return }
                    } else if isExpired {
                        return
                    }
                    found(e.key)
                }
                shard.expireCollected(t, &expired, db: db, now: now)
                return next
            }
        }
    }
}

extension Shard {
    /// Expires the keys a walk collected, through the lazy-expiry path (counted in expired_keys;
    /// their tags leave the index with them). A walk collects rather than expires so that the
    /// table or tag set it walks does not change under it.
    func expireCollected(_ t: Table, _ keys: inout [([UInt8], UInt32)], db: Int, now: Int64) {
        if keys.isEmpty { return }
        for (k, h) in keys {
            _ = k.withUnsafeBufferPointer { liveSlot(t, $0, hash: h, now: now, db: db, touch: false) }
        }
        keys.removeAll(keepingCapacity: true)
    }
}
