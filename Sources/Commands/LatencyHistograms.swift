import Glibc
import Synchronization

/// One event loop's per-command latency histograms (INFO latencystats): fixed memory, HDR-style
/// log-linear buckets over CPU ticks. Values below 32 ticks have a bucket each; above, every power
/// of two is split into 16 buckets, so a duration is known within 1/16 of itself. Counts are
/// UInt32 written only by the owning loop (plain load and store, no lock prefix, no allocation)
/// and read by INFO from any thread; a bucket about to reach 2^31 halves its whole histogram,
/// which keeps the percentiles and never wraps.
// @unchecked Sendable: the buckets are Atomic<UInt32> in raw memory that lives as long as the object.
public final class LatencyHistograms: @unchecked Sendable {
    /// Buckets per command: 32 exact ones, then 16 per power of two up to 2^48 ticks (~1 day).
    public static let bucketCount = 16 * (maxExponent - 3) + 16
    static let maxExponent = 47
    let slots: Int
    let counts: UnsafeMutablePointer<Atomic<UInt32>>

    init(commandSlots: Int) {
        slots = commandSlots
        // calloc: pages of commands never called are never touched, so they cost no memory.
        let raw = calloc(max(commandSlots, 1) * LatencyHistograms.bucketCount, MemoryLayout<UInt32>.stride)!
        counts = raw.bindMemory(to: Atomic<UInt32>.self, capacity: max(commandSlots, 1) * LatencyHistograms.bucketCount)
    }

    deinit { free(UnsafeMutableRawPointer(counts)) }

    /// The bucket of a duration in ticks.
    @inline(__always)
    public static func bucket(_ ticks: UInt64) -> Int {
        if ticks < 16 { return Int(ticks) }
        let exponent = 63 - ticks.leadingZeroBitCount
        if exponent > maxExponent { return bucketCount - 1 }
        let shift = exponent - 4
        return (shift + 1) * 16 + Int((ticks >> UInt64(shift)) & 15)
    }

    /// The largest duration (ticks) that falls in a bucket, as HDR's highest equivalent value.
    public static func highestValue(_ bucket: Int) -> UInt64 {
        if bucket < 32 { return UInt64(bucket) }
        let shift = UInt64(bucket / 16 - 1)
        let sub = UInt64(16 + bucket % 16)
        return ((sub + 1) << shift) - 1
    }

    @inline(__always)
    func record(_ id: Int, ticks: UInt64) {
        let i = id * LatencyHistograms.bucketCount + LatencyHistograms.bucket(ticks)
        let v = counts[i].load(ordering: .relaxed) &+ 1
        counts[i].store(v, ordering: .relaxed)
        if v >= 1 << 31 { halve(id) }
    }

    @inline(never)
    private func halve(_ id: Int) {
        let base = id * LatencyHistograms.bucketCount
        for i in base..<(base + LatencyHistograms.bucketCount) {
            counts[i].store(counts[i].load(ordering: .relaxed) / 2, ordering: .relaxed)
        }
    }

    /// Adds command id's counts into `into` (bucketCount long); returns whether any was set.
    @discardableResult
    public func add(_ id: Int, into: inout [UInt64]) -> Bool {
        let base = id * LatencyHistograms.bucketCount
        var any = false
        for b in 0..<LatencyHistograms.bucketCount {
            let v = counts[base + b].load(ordering: .relaxed)
            if v != 0 {
                into[b] += UInt64(v)
                any = true
            }
        }
        return any
    }

    /// Zeroes every histogram, writing only buckets that are set (untouched pages stay untouched).
    func reset() {
        for i in 0..<(slots * LatencyHistograms.bucketCount) where counts[i].load(ordering: .relaxed) != 0 {
            counts[i].store(0, ordering: .relaxed)
        }
    }

    /// The value (ticks) at a percentile of merged counts, as hdr_value_at_percentile: the
    /// highest value of the bucket holding the ceil-rounded rank; 0 when there are no counts.
    public static func valueAtPercentile(_ merged: [UInt64], _ percentile: Double) -> UInt64 {
        let total = merged.reduce(0, +)
        if total == 0 { return 0 }
        let p = min(max(percentile, 0), 100)
        let wanted = max(UInt64((p / 100 * Double(total)) + 0.5), 1)
        var seen: UInt64 = 0
        for (b, c) in merged.enumerated() where c > 0 {
            seen += c
            if seen >= wanted { return highestValue(b) }
        }
        return highestValue(merged.count - 1)
    }
}
