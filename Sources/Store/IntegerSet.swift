import CTagCacheSys
import Glibc

/// Distinct integers kept sorted in one malloc'd block at the narrowest width that holds them
/// all (2, 4 or 8 bytes each), like Redis's intset: a set of small numbers costs a few bytes per
/// member and lookups are binary searches. A value type holding a raw block: its owner calls
/// `release()` once and mutates it in place only.
public struct IntegerSet {
    @usableFromInline var base: UnsafeMutableRawPointer?
    public private(set) var count = 0
    /// Bytes per member: 2, 4 or 8.
    public private(set) var width = 2

    public init() {}

    /// Frees the block.
    public mutating func release() {
        if let b = base { Glibc.free(b) }
        base = nil
        count = 0
        width = 2
    }

    public func duplicate() -> IntegerSet {
        var d = IntegerSet()
        d.width = width
        d.count = count
        if count > 0, let b = base {
            guard let p = malloc(count * width) else { fatalError("out of memory") }
            memcpy(p, b, count * width)
            d.base = p
        }
        return d
    }

    /// Heap bytes held.
    public var memoryBytes: Int { base.map { Int(tc_malloc_usable($0)) + 8 } ?? 0 }

    @inline(__always)
    static func width(for v: Int) -> Int {
        if v >= Int(Int16.min) && v <= Int(Int16.max) { return 2 }
        if v >= Int(Int32.min) && v <= Int(Int32.max) { return 4 }
        return 8
    }

    /// The member at index i (ascending order).
    @inlinable @inline(__always)
    public func value(at i: Int) -> Int { IntegerSet.load(base.unsafelyUnwrapped, i, width) }

    @inlinable @inline(__always)
    static func load(_ p: UnsafeMutableRawPointer, _ i: Int, _ w: Int) -> Int {
        switch w {
        case 2: return Int(p.load(fromByteOffset: i * 2, as: Int16.self))
        case 4: return Int(p.load(fromByteOffset: i * 4, as: Int32.self))
        default: return p.load(fromByteOffset: i * 8, as: Int.self)
        }
    }

    @inline(__always)
    static func store(_ p: UnsafeMutableRawPointer, _ i: Int, _ w: Int, _ v: Int) {
        switch w {
        case 2: p.storeBytes(of: Int16(truncatingIfNeeded: v), toByteOffset: i * 2, as: Int16.self)
        case 4: p.storeBytes(of: Int32(truncatingIfNeeded: v), toByteOffset: i * 4, as: Int32.self)
        default: p.storeBytes(of: v, toByteOffset: i * 8, as: Int.self)
        }
    }

    /// (found, index where v is or would go).
    @inline(__always)
    func search(_ v: Int) -> (Bool, Int) {
        guard count > 0, let p = base else { return (false, 0) }
        if IntegerSet.width(for: v) > width { return (false, v < 0 ? 0 : count) }
        var lo = 0, hi = count - 1
        if v > IntegerSet.load(p, hi, width) { return (false, count) }
        if v < IntegerSet.load(p, 0, width) { return (false, 0) }
        while lo <= hi {
            let mid = (lo + hi) >> 1
            let m = IntegerSet.load(p, mid, width)
            if m == v { return (true, mid) }
            if m < v { lo = mid + 1 } else { hi = mid - 1 }
        }
        return (false, lo)
    }

    public func contains(_ v: Int) -> Bool { search(v).0 }

    /// Adds v; false when it was already there.
    @discardableResult
    public mutating func insert(_ v: Int) -> Bool {
        let w = IntegerSet.width(for: v)
        if w > width {
            // Widening: every member moves; v is below or above all of them.
            let old = base
            let oldWidth = width
            guard let p = malloc((count + 1) * w) else { fatalError("out of memory") }
            let prepend = v < 0
            for i in 0..<count {
                IntegerSet.store(p, i + (prepend ? 1 : 0), w, IntegerSet.load(old.unsafelyUnwrapped, i, oldWidth))
            }
            IntegerSet.store(p, prepend ? 0 : count, w, v)
            if let o = old { Glibc.free(o) }
            base = p
            width = w
            count += 1
            return true
        }
        let (found, at) = search(v)
        if found { return false }
        guard let p = realloc(base, (count + 1) * width) else { fatalError("out of memory") }
        if at < count { memmove(p + (at + 1) * width, p + at * width, (count - at) * width) }
        IntegerSet.store(p, at, width, v)
        base = p
        count += 1
        return true
    }

    /// Removes v; false when it was not there.
    @discardableResult
    public mutating func remove(_ v: Int) -> Bool {
        let (found, at) = search(v)
        if !found { return false }
        removeIndex(at)
        return true
    }

    /// Removes the member at index i.
    public mutating func removeIndex(_ at: Int) {
        guard let p = base else { return }
        if at < count - 1 { memmove(p + at * width, p + (at + 1) * width, (count - at - 1) * width) }
        count -= 1
        if count == 0 {
            release()
        } else if let q = realloc(p, count * width) {
            base = q
        }
    }
}
