import Commands
import Glibc
import Store

/// One row of INFO keyprefixes and of the tagcache_prefix_* metrics.
struct KeyPrefixRow {
    let prefix: [UInt8]
    /// Reads counted for the prefix (Space-Saving: may include `error` reads of others).
    let reads: Int
    let error: Int
    let hits: Int
    let misses: Int
    /// Keys with this prefix in the last complete background pass (nil: no pass yet).
    let keys: Int?
}

/// Server-wide view of the key prefixes: merges the event loops' sketches at read time, and
/// counts keys per prefix by a background pass over the keyspace that the cron advances in
/// bounded steps (a shard lock is held for at most `bucketsPerLock` table buckets).
///
/// The pass counts every prefix it meets, up to `maxCountedPrefixes` distinct ones, and always
/// the prefixes that were busiest when it started; its figures are exact for the keys that stayed
/// put during the pass (a key added or removed meanwhile may be missed, or seen twice when its
/// table grows under the pass). A prefix the last pass did not meet had no key then.
// @unchecked Sendable: the pass state is touched only by the cron queue; what INFO reads shares `lock`.
final class KeyPrefixStats: @unchecked Sendable {
    static let maxCountedPrefixes = 4096
    static let bucketsPerLock = 256
    static let entriesPerTick = 20_000
    static let passIntervalMs: Int64 = 10_000

    private let lock = ShardLock()
    private var lastPassKeys: [[UInt8]: Int]?
    private var lastPassEndedMs: Int64 = 0
    /// Bumped by reset(); a pass started under another generation is dropped.
    private var generation = 0
    private var passGeneration = 0
    // The pass under way (cron queue only).
    private var counting: PrefixTally?
    private var separator: UInt8 = UInt8(ascii: ":")
    private var position = KeyWalkPosition()
    private var passStartedMs: Int64 = 0

    /// The busiest prefixes (by reads) over every loop, at most `limit`, busiest first.
    func top(_ loops: [EventLoop], limit: Int) -> [KeyPrefixRow] {
        if limit <= 0 { return [] }
        var merged: [[UInt8]: PrefixCount] = [:]
        for l in loops {
            for p in l.counters.prefixes.snapshot() {
                if var m = merged[p.prefix] {
                    m.count += p.count
                    m.error += p.error
                    m.hits += p.hits
                    m.misses += p.misses
                    merged[p.prefix] = m
                } else {
                    merged[p.prefix] = p
                }
            }
        }
        let best = merged.values.sorted {
            $0.count != $1.count ? $0.count > $1.count : $0.prefix.lexicographicallyPrecedes($1.prefix)
        }.prefix(limit)
        lock.lock()
        let keys = lastPassKeys
        lock.unlock()
        return best.map { p in
            KeyPrefixRow(prefix: p.prefix, reads: p.count, error: p.error, hits: p.hits, misses: p.misses,
                         keys: keys.map { $0[p.prefix] ?? 0 })
        }
    }

    /// Seconds since the last complete pass ended, or -1.
    func lastPassAgeSeconds(nowMs: Int64) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return lastPassKeys == nil ? -1 : Int((nowMs - lastPassEndedMs) / 1000)
    }

    /// CONFIG RESETSTAT and separator changes: forget the key counts and start over (a pass
    /// under way is dropped at its next step).
    func reset() {
        lock.lock()
        lastPassKeys = nil
        generation &+= 1
        lock.unlock()
    }

    /// One bounded step of the key-counting pass (server cron, one queue).
    func step(_ server: TagCacheServer, separator sep: UInt8, limit: Int) {
        let ks = server.keyspace
        if limit <= 0 {
            counting = nil
            return
        }
        let now = monotonicMs()
        lock.lock()
        let current = generation
        lock.unlock()
        if current != passGeneration {
            counting = nil
            passGeneration = current
            passStartedMs = 0
        }
        if counting == nil {
            // A pass at most every 10 s: the counts are for people, not for the request path.
            if now - passStartedMs < KeyPrefixStats.passIntervalMs { return }
            // Nothing read yet, nothing to count.
            let busiest = top(server.loops, limit: limit)
            if busiest.isEmpty { return }
            var tally = PrefixTally(capacity: KeyPrefixStats.maxCountedPrefixes)
            for r in busiest { tally.seed(r.prefix) }
            counting = tally
            separator = sep
            position = KeyWalkPosition()
            passStartedMs = now
        }
        var visited = 0
        while visited < KeyPrefixStats.entriesPerTick {
            if position.shard >= ks.shardCount {
                lock.lock()
                if generation == passGeneration { lastPassKeys = counting?.dictionary }
                lastPassEndedMs = keyspaceNowMs(server)
                lock.unlock()
                counting = nil
                return
            }
            visited += ks.walkAllKeys(&position, buckets: KeyPrefixStats.bucketsPerLock) { count($0) }
            visited += 1
        }
    }

    private func keyspaceNowMs(_ server: TagCacheServer) -> Int64 { server.keyspace.clock.nowMs() }

    @inline(__always)
    private func count(_ key: UnsafeBufferPointer<UInt8>) {
        guard let base = key.baseAddress else { return }
        var n = key.count
        if let at = memchr(base, Int32(separator), n) { n = UnsafeRawPointer(at) - UnsafeRawPointer(base) }
        counting?.add(UnsafeRawPointer(base), min(n, PrefixSketch.maxPrefixLength))
    }
}

/// Keys per prefix while a pass counts them: an open-addressing table looked up by the
/// prefix's bytes in place, so counting a key allocates nothing (only a new prefix does).
struct PrefixTally {
    private(set) var prefixes: [[UInt8]] = []
    private var hashes: [Int64] = []
    private var counts: [Int] = []
    private var index: [Int32]
    private let mask: Int
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        mask = size - 1
        index = [Int32](repeating: -1, count: size)
    }

    /// Counts one key with this prefix (ignored once `capacity` prefixes are known).
    mutating func add(_ p: UnsafeRawPointer, _ n: Int, by k: Int = 1) {
        let h = PrefixSketch.hash(p, n)
        var i = Int(truncatingIfNeeded: h) & mask
        while index[i] >= 0 {
            let j = Int(index[i])
            if hashes[j] == h && prefixes[j].count == n
                && prefixes[j].withUnsafeBytes({ n == 0 || PrefixSketch.equal($0.baseAddress!, p, n) }) {
                counts[j] += k
                return
            }
            i = (i + 1) & mask
        }
        if prefixes.count >= capacity { return }
        index[i] = Int32(prefixes.count)
        prefixes.append(Array(UnsafeRawBufferPointer(start: p, count: n)))
        hashes.append(h)
        counts.append(k)
    }

    mutating func seed(_ prefix: [UInt8]) {
        prefix.withUnsafeBytes { add($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, $0.count, by: 0) }
    }

    var dictionary: [[UInt8]: Int] {
        var d: [[UInt8]: Int] = [:]
        for (i, p) in prefixes.enumerated() { d[p] = counts[i] }
        return d
    }
}

/// A prefix as INFO and Prometheus labels show it: printable ASCII as is, other bytes (and the
/// characters INFO's `field:value,k=v` syntax uses) as \xHH.
func escapedPrefix(_ p: [UInt8]) -> String {
    var s = ""
    for b in p {
        if b > 32 && b < 127 && b != UInt8(ascii: ":") && b != UInt8(ascii: ",") && b != UInt8(ascii: "=")
            && b != UInt8(ascii: "\\") && b != UInt8(ascii: "\"") {
            s.unicodeScalars.append(Unicode.Scalar(b))
        } else {
            let hex = Array("0123456789abcdef".utf8)
            s += "\\x"
            s.unicodeScalars.append(Unicode.Scalar(hex[Int(b >> 4)]))
            s.unicodeScalars.append(Unicode.Scalar(hex[Int(b & 15)]))
        }
    }
    return s
}
