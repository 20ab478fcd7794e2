import Synchronization

/// The bytes one shard's tables hold (entries, slot arrays, aggregates, tag indexes), kept as
/// they change under the shard's lock, and published to the keyspace-wide total that maxmemory
/// is checked against.
///
/// Publishing every change would put one shared atomic on every write; instead a shard
/// publishes once its unpublished change exceeds `slack` bytes either way. The total is then
/// off by at most shards x slack, which is part of the documented maxmemory overshoot bound
/// (Keyspace.configureEviction chooses slack from maxmemory so the bound stays under 1%).
// @unchecked Sendable: written only under its shard's lock; the keyspace-wide total it publishes to is Atomic.
public final class MemoryMeter: @unchecked Sendable {
    /// This shard's bytes (exact).
    public private(set) var bytes = 0
    private var unpublished = 0
    var slack = 16 * 1024
    let total: MemoryTotal

    init(total: MemoryTotal) { self.total = total }

    @inline(__always)
    func add(_ delta: Int) {
        bytes &+= delta
        unpublished &+= delta
        if unpublished > slack || unpublished < -slack { publish() }
    }

    /// Hands the unpublished change to the total now (after an eviction, so the next check
    /// sees the bytes it freed).
    @inline(never)
    func publish() {
        total.bytes.add(unpublished, ordering: .relaxed)
        unpublished = 0
    }
}

/// The keyspace-wide byte total the meters publish to.
final class MemoryTotal: Sendable {
    let bytes = Atomic<Int>(0)
}

extension Table {
    /// The bytes memoryBytes should be, counted from scratch (tests): slots, entries, each
    /// aggregate as it is now, the tag index.
    public func recountedBytes() -> Int {
        var n = capacity * 8
        forEachSlot { _, e in
            n += e.allocatedSize
            if e.kind != .string { n += e.object.memoryBytes }
            return true
        }
        return n + deadlines.measuredBytes + (tags?.memoryBytes ?? 0)
    }
}

extension Shard {
    /// Differences between the meter and a recount of the shard (tests; under the lock, with
    /// every write settled).
    public func memoryProblems() -> [String] {
        var out: [String] = []
        var total = ghost.memoryBytes
        for db in 0..<tables.count {
            guard let t = tables[db] else { continue }
            let r = t.recountedBytes()
            if r != t.memoryBytes { out.append("shard \(index) db \(db): table counts \(t.memoryBytes), recount \(r)") }
            if t.meter !== meter { out.append("shard \(index) db \(db): table not on the shard's meter") }
            total += r
        }
        if total != meter.bytes { out.append("shard \(index): meter \(meter.bytes), recount \(total)") }
        return out
    }
}
