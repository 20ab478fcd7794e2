import CTagCacheSys
import Glibc
import Synchronization

/// One key prefix's figures as a sketch saw them.
public struct PrefixCount: Sendable {
    public var prefix: [UInt8]
    /// Reads counted for the prefix (an upper bound: includes `error`).
    public var count: Int
    /// How much of `count` may belong to prefixes it displaced (Space-Saving's error).
    public var error: Int
    /// Hits and misses seen since the prefix entered the sketch (lower bounds).
    public var hits: Int
    public var misses: Int

    public init(prefix: [UInt8], count: Int, error: Int, hits: Int, misses: Int) {
        self.prefix = prefix
        self.count = count
        self.error = error
        self.hits = hits
        self.misses = misses
    }
}

/// The busiest key prefixes one event loop reads (INFO keyprefixes, /metrics): a Space-Saving
/// heavy-hitter sketch of fixed size, so millions of distinct prefixes cost no more memory than
/// a few. Each slot keeps a prefix with its read count; a new prefix takes over the slot with
/// the smallest count and inherits that count as its error, which guarantees that any prefix
/// with more than 1/capacity of the reads is present.
///
/// Only the owning loop writes (`record`, no lock, no allocation): a min-heap by count finds the
/// slot to take over, an open-addressing table finds a prefix's slot. Readers on other threads
/// (`snapshot`) copy slots under a per-slot sequence number, so a prefix being replaced is never
/// read half-written. Resets and capacity changes are requested from any thread and applied by
/// the owner at its next record.
// @unchecked Sendable: one writer (its loop); readers copy slots under per-slot sequence numbers; requests from other threads are Atomics.
public final class PrefixSketch: @unchecked Sendable {
    /// Longest prefix kept; a longer one is cut to this many bytes.
    public static let maxPrefixLength = 64
    /// Slots at most (twice the largest stats-prefixes-max).
    public let maxCapacity: Int

    // A slot is 16 Int64 words: version, count, error, hits, misses, hash, length, then the
    // prefix's bytes from word 7 (64 bytes).
    static let slotWords = 16
    static let wCount = 1, wError = 2, wHits = 3, wMisses = 4, wHash = 5, wLength = 6, wBytes = 7

    private let words: UnsafeMutablePointer<Int64>
    private let heap: UnsafeMutablePointer<Int32>
    private let heapIndex: UnsafeMutablePointer<Int32>
    private let table: UnsafeMutablePointer<Int32>
    private let tableMask: Int
    // Owner thread only.
    private var capacity = 0
    private var used = 0
    private var generation = 0
    /// Slots readers may look at.
    private let published = Atomic<Int>(0)
    private let wantedCapacity = Atomic<Int>(0)
    private let wantedGeneration = Atomic<Int>(0)
    private let appliedGeneration = Atomic<Int>(0)

    public init(maxCapacity: Int = 2048) {
        self.maxCapacity = max(1, maxCapacity)
        let n = self.maxCapacity
        // calloc: slots a small capacity never uses are never touched.
        words = calloc(n * PrefixSketch.slotWords, 8)!.bindMemory(to: Int64.self, capacity: n * PrefixSketch.slotWords)
        heap = .allocate(capacity: n)
        heapIndex = .allocate(capacity: n)
        var size = 16
        while size < n * 2 { size <<= 1 }
        tableMask = size - 1
        table = .allocate(capacity: size)
        table.initialize(repeating: -1, count: size)
    }

    deinit {
        free(words)
        heap.deallocate()
        heapIndex.deallocate()
        table.deallocate()
    }

    // MARK: any thread

    /// Tracks at most `capacity` prefixes from the owner's next record on (starting empty).
    public func configure(capacity c: Int) {
        wantedCapacity.store(min(max(c, 0), maxCapacity), ordering: .relaxed)
        wantedGeneration.wrappingAdd(1, ordering: .releasing)
    }

    /// Forgets every prefix (CONFIG RESETSTAT); readers see none from now on.
    public func reset() { wantedGeneration.wrappingAdd(1, ordering: .releasing) }

    /// The prefixes and their figures, in no particular order.
    public func snapshot() -> [PrefixCount] {
        if wantedGeneration.load(ordering: .relaxed) != appliedGeneration.load(ordering: .acquiring) { return [] }
        let n = published.load(ordering: .acquiring)
        var out: [PrefixCount] = []
        out.reserveCapacity(n)
        for s in 0..<n {
            let w = words + s * PrefixSketch.slotWords
            for _ in 0..<16 {
                let v1 = tc_counter_load(w)
                atomicMemoryFence(ordering: .acquiring)
                if v1 & 1 != 0 { continue }
                let count = Int(tc_counter_load(w + PrefixSketch.wCount))
                let len = Int(tc_counter_load(w + PrefixSketch.wLength))
                if len < 0 || len > PrefixSketch.maxPrefixLength { continue }
                let bytes = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(w + PrefixSketch.wBytes), count: len))
                let item = PrefixCount(prefix: bytes, count: count, error: Int(tc_counter_load(w + PrefixSketch.wError)),
                                       hits: Int(tc_counter_load(w + PrefixSketch.wHits)),
                                       misses: Int(tc_counter_load(w + PrefixSketch.wMisses)))
                atomicMemoryFence(ordering: .acquiring)
                if tc_counter_load(w) != v1 { continue }
                if count > 0 { out.append(item) }
                break
            }
        }
        return out
    }

    static let hashSeed: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The hash `record` wants for a prefix: its bytes as little-endian 64-bit words, mixed
    /// word by word, then the tail and the length. LoopCounters computes the same while it copies
    /// a key's prefix (see `mixWord` and `finish`), so the key is read only once.
    @inline(__always)
    public static func hash(_ p: UnsafeRawPointer, _ n: Int) -> Int64 {
        var h = hashSeed
        var i = 0
        while i + 8 <= n {
            h = mixWord(h, UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << shift
            shift += 8
            i += 1
        }
        return finish(h, tail: tail, length: n)
    }

    @inline(__always) static func mixWord(_ h: UInt64, _ w: UInt64) -> UInt64 {
        var x = (h ^ w) &* 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 32
        return x
    }

    @inline(__always) static func finish(_ h: UInt64, tail: UInt64, length: Int) -> Int64 {
        var x = (h ^ tail ^ (UInt64(length) << 56)) &* 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 29
        return Int64(bitPattern: x)
    }

    /// Whether n bytes at a and b are equal (n <= maxPrefixLength; no libc call for short keys).
    @inline(__always)
    public static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
        var i = 0
        while i + 8 <= n {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                return false
            }
            i += 8
        }
        while i < n {
            if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
            i += 1
        }
        return true
    }

    // MARK: owner thread

    /// Counts one read of a key with this prefix (n <= maxPrefixLength bytes at p).
    @inline(__always)
    public func record(_ p: UnsafeRawPointer, _ n: Int, hash h: Int64, hit: Bool) {
        if wantedGeneration.load(ordering: .relaxed) != generation { applySettings() }
        if capacity == 0 { return }
        var t = Int(truncatingIfNeeded: h) & tableMask
        while true {
            let s = Int(table[t])
            if s < 0 { break }
            let w = words + s * PrefixSketch.slotWords
            if w[PrefixSketch.wHash] == h && w[PrefixSketch.wLength] == Int64(n)
                && PrefixSketch.equal(UnsafeRawPointer(w + PrefixSketch.wBytes), p, n) {
                tc_counter_add(w + PrefixSketch.wCount, 1)
                tc_counter_add(w + (hit ? PrefixSketch.wHits : PrefixSketch.wMisses), 1)
                siftDown(Int(heapIndex[s]))
                return
            }
            t = (t + 1) & tableMask
        }
        let s: Int
        if used < capacity {
            s = used
            write(s, p, n, hash: h, count: 1, error: 0, hit: hit)
            heap[s] = Int32(s)
            heapIndex[s] = Int32(s)
            used += 1
            published.store(used, ordering: .releasing)
            siftUp(s)
        } else {
            // Take over the least counted slot: its count becomes the newcomer's error.
            s = Int(heap[0])
            let w = words + s * PrefixSketch.slotWords
            let base = w[PrefixSketch.wCount]
            tableRemove(s, hash: w[PrefixSketch.wHash])
            write(s, p, n, hash: h, count: base + 1, error: base, hit: hit)
            siftDown(0)
        }
        tableInsert(s, hash: h)
    }

    private func write(_ s: Int, _ p: UnsafeRawPointer, _ n: Int, hash: Int64, count: Int64, error: Int64, hit: Bool) {
        let w = words + s * PrefixSketch.slotWords
        let v = tc_counter_load(w)
        tc_counter_store(w, v + 1)
        atomicMemoryFence(ordering: .releasing)
        tc_counter_store(w + PrefixSketch.wCount, count)
        tc_counter_store(w + PrefixSketch.wError, error)
        tc_counter_store(w + PrefixSketch.wHits, hit ? 1 : 0)
        tc_counter_store(w + PrefixSketch.wMisses, hit ? 0 : 1)
        tc_counter_store(w + PrefixSketch.wHash, hash)
        tc_counter_store(w + PrefixSketch.wLength, Int64(n))
        memcpy(w + PrefixSketch.wBytes, p, n)
        atomicMemoryFence(ordering: .releasing)
        tc_counter_store(w, v + 2)
    }

    private func applySettings() {
        generation = wantedGeneration.load(ordering: .acquiring)
        published.store(0, ordering: .releasing)
        for s in 0..<used {
            let w = words + s * PrefixSketch.slotWords
            let v = tc_counter_load(w)
            tc_counter_store(w, v + 1)
            atomicMemoryFence(ordering: .releasing)
            tc_counter_store(w + PrefixSketch.wCount, 0)
            tc_counter_store(w + PrefixSketch.wLength, 0)
            atomicMemoryFence(ordering: .releasing)
            tc_counter_store(w, v + 2)
        }
        used = 0
        capacity = wantedCapacity.load(ordering: .relaxed)
        table.update(repeating: -1, count: tableMask + 1)
        appliedGeneration.store(generation, ordering: .releasing)
    }

    @inline(__always) private func count(_ heapPosition: Int) -> Int64 {
        words[Int(heap[heapPosition]) * PrefixSketch.slotWords + PrefixSketch.wCount]
    }

    private func swapHeap(_ a: Int, _ b: Int) {
        let x = heap[a], y = heap[b]
        heap[a] = y
        heap[b] = x
        heapIndex[Int(y)] = Int32(a)
        heapIndex[Int(x)] = Int32(b)
    }

    @inline(__always) private func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1
            if l >= used { return }
            var m = l
            if l + 1 < used && count(l + 1) < count(l) { m = l + 1 }
            if count(m) >= count(i) { return }
            swapHeap(i, m)
            i = m
        }
    }

    private func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            if count(parent) <= count(i) { return }
            swapHeap(i, parent)
            i = parent
        }
    }

    private func tableInsert(_ s: Int, hash: Int64) {
        var t = Int(truncatingIfNeeded: hash) & tableMask
        while table[t] >= 0 { t = (t + 1) & tableMask }
        table[t] = Int32(s)
    }

    /// Removes slot s from the table, shifting later entries of its run back (no tombstones).
    private func tableRemove(_ s: Int, hash: Int64) {
        var i = Int(truncatingIfNeeded: hash) & tableMask
        while Int(table[i]) != s {
            if table[i] < 0 { return }
            i = (i + 1) & tableMask
        }
        var k = (i + 1) & tableMask
        while table[k] >= 0 {
            let other = Int(table[k])
            let home = Int(truncatingIfNeeded: words[other * PrefixSketch.slotWords + PrefixSketch.wHash]) & tableMask
            // The entry at k may move to i unless its home lies cyclically in (i, k].
            let stays = i <= k ? (home > i && home <= k) : (home > i || home <= k)
            if !stays {
                table[i] = table[k]
                i = k
            }
            k = (k + 1) & tableMask
        }
        table[i] = -1
    }
}
