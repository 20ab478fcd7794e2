import CTagCacheSys
import Glibc

/// Byte strings packed one after another into a single malloc'd block, each framed by its length
/// before and after it, like a Redis listpack: small aggregates cost one allocation and a
/// couple of bytes per element, and the block can be walked from either end.
///
/// Frame of an element of n bytes:
///
///     n < 128:  [n] bytes [n]                              2 bytes of framing
///     else:     [0xFF] [n: Int64 LE] bytes [n: Int64 LE] [0xFF]   18 bytes of framing
///
/// Positions are byte offsets of a frame's first byte; `byteCount` is the end. A value type
/// holding a raw block: its owner (a StoredObject) calls `release()` exactly once and mutates it
/// in place only (never through a copy).
public struct PackedEntries {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>?
    /// Bytes in use.
    public private(set) var byteCount = 0
    /// Bytes allocated.
    @usableFromInline var capacity = 0
    /// Elements held.
    public private(set) var count = 0

    public init() {}

    @usableFromInline static let smallLimit = 128
    @usableFromInline static let largeMarker: UInt8 = 0xFF

    /// Bytes a frame holding n bytes takes.
    @inlinable @inline(__always)
    public static func frameSize(_ n: Int) -> Int { n < smallLimit ? n + 2 : n + 18 }

    /// Frees the block.
    public mutating func release() {
        if let b = base { Glibc.free(b) }
        base = nil
        byteCount = 0
        capacity = 0
        count = 0
    }

    /// An independent copy of the block (COPY, conversions).
    public func duplicate() -> PackedEntries {
        var d = PackedEntries()
        if byteCount > 0, let b = base {
            d.reserve(byteCount, exact: true)
            if let db = d.base { memcpy(db, b, byteCount) }
            d.byteCount = byteCount
            d.count = count
        }
        return d
    }

    /// Heap bytes held.
    public var memoryBytes: Int { base.map { Int(tc_malloc_usable($0)) + 8 } ?? 0 }

    // MARK: reading

    /// Where the bytes of the frame at `offset` start and how many there are.
    @inlinable @inline(__always)
    public func payload(at offset: Int) -> (start: Int, length: Int) {
        let p = base.unsafelyUnwrapped
        let h = p[offset]
        if h != PackedEntries.largeMarker { return (offset + 1, Int(h)) }
        let n = UnsafeRawPointer(p + offset + 1).loadUnaligned(as: Int64.self)
        return (offset + 9, Int(Int64(littleEndian: n)))
    }

    /// The element at offset, valid until the next change.
    @inlinable @inline(__always)
    public func element(at offset: Int) -> UnsafeBufferPointer<UInt8> {
        let (s, n) = payload(at: offset)
        return UnsafeBufferPointer(start: base.unsafelyUnwrapped + s, count: n)
    }

    /// The offset of the frame after the one at offset (== byteCount at the end).
    @inlinable @inline(__always)
    public func next(after offset: Int) -> Int {
        let (s, n) = payload(at: offset)
        return s + n + (n < PackedEntries.smallLimit ? 1 : 9)
    }

    /// The offset of the frame that ends at `end` (the one before it).
    @inlinable @inline(__always)
    public func previous(before end: Int) -> Int {
        let p = base.unsafelyUnwrapped
        let t = p[end - 1]
        if t != PackedEntries.largeMarker { return end - 2 - Int(t) }
        let n = Int(Int64(littleEndian: UnsafeRawPointer(p + end - 9).loadUnaligned(as: Int64.self)))
        return end - 18 - n
    }

    /// Offset of the last frame (only when count > 0).
    @inlinable public var lastOffset: Int { previous(before: byteCount) }

    /// Offset of the index-th element, walking from the nearer end.
    public func offset(ofIndex index: Int) -> Int {
        if index <= count / 2 {
            var o = 0
            for _ in 0..<index { o = next(after: o) }
            return o
        }
        var o = byteCount
        for _ in 0..<(count - index) { o = previous(before: o) }
        return o
    }

    /// Whether the element at offset equals b.
    @inlinable @inline(__always)
    public func elementEquals(at offset: Int, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let (s, n) = payload(at: offset)
        if n != b.count { return false }
        if n == 0 { return true }
        return memcmp(base.unsafelyUnwrapped + s, b.baseAddress.unsafelyUnwrapped, n) == 0
    }

    /// The first frame from `start` equal to b, looking at every `stride`-th frame (2 for the
    /// fields of field/value pairs), or -1.
    public func find(_ b: UnsafeBufferPointer<UInt8>, stride: Int = 1, from start: Int = 0) -> Int {
        guard let p = base else { return -1 }
        var o = start
        let n = b.count
        let first: UInt8 = n > 0 ? b[0] : 0
        while o < byteCount {
            var s: Int, len: Int
            let h = p[o]
            if h != PackedEntries.largeMarker {
                s = o + 1
                len = Int(h)
            } else {
                s = o + 9
                len = Int(Int64(littleEndian: UnsafeRawPointer(p + o + 1).loadUnaligned(as: Int64.self)))
            }
            if len == n && (n == 0 || (p[s] == first && memcmp(p + s, b.baseAddress.unsafelyUnwrapped, n) == 0)) {
                return o
            }
            o = s + len + (len < PackedEntries.smallLimit ? 1 : 9)
            if stride == 2 && o < byteCount { o = next(after: o) }
        }
        return -1
    }

    /// Calls body with each element in order; body returns false to stop.
    @inlinable
    public func forEach(_ body: (UnsafeBufferPointer<UInt8>) -> Bool) {
        var o = 0
        while o < byteCount {
            if !body(element(at: o)) { return }
            o = next(after: o)
        }
    }

    // MARK: changing

    /// Makes room for `total` bytes in all. Growth keeps little slack (an eighth), as memory
    /// per small aggregate is what this type is for.
    @usableFromInline
    mutating func reserve(_ total: Int, exact: Bool = false) {
        if total <= capacity { return }
        var c = exact ? total : max(total, total + total / 8)
        c = (c + 7) & ~7
        guard let p = realloc(base, c) else { fatalError("out of memory allocating \(c) bytes") }
        base = p.assumingMemoryBound(to: UInt8.self)
        capacity = c
    }

    /// Writes the frame of b at offset (room already made).
    @inline(__always)
    func writeFrame(_ b: UnsafeBufferPointer<UInt8>, at offset: Int) {
        let p = base.unsafelyUnwrapped + offset
        let n = b.count
        if n < PackedEntries.smallLimit {
            p[0] = UInt8(n)
            if n > 0 { memcpy(p + 1, b.baseAddress.unsafelyUnwrapped, n) }
            p[n + 1] = UInt8(n)
        } else {
            let le = Int64(n).littleEndian
            p[0] = PackedEntries.largeMarker
            UnsafeMutableRawPointer(p + 1).storeBytes(of: le, as: Int64.self)
            memcpy(p + 9, b.baseAddress.unsafelyUnwrapped, n)
            UnsafeMutableRawPointer(p + 9 + n).storeBytes(of: le, as: Int64.self)
            p[n + 17] = PackedEntries.largeMarker
        }
    }

    /// Inserts b as a new frame at offset (0 = front, byteCount = back).
    public mutating func insert(_ b: UnsafeBufferPointer<UInt8>, at offset: Int) {
        let f = PackedEntries.frameSize(b.count)
        reserve(byteCount + f)
        let p = base.unsafelyUnwrapped
        if offset < byteCount { memmove(p + offset + f, p + offset, byteCount - offset) }
        writeFrame(b, at: offset)
        byteCount += f
        count += 1
    }

    /// Appends b.
    @inline(__always)
    public mutating func append(_ b: UnsafeBufferPointer<UInt8>) { insert(b, at: byteCount) }

    /// Appends two elements with one reallocation (a field and its value).
    public mutating func append(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) {
        let fa = PackedEntries.frameSize(a.count)
        reserve(byteCount + fa + PackedEntries.frameSize(b.count))
        writeFrame(a, at: byteCount)
        writeFrame(b, at: byteCount + fa)
        byteCount += fa + PackedEntries.frameSize(b.count)
        count += 2
    }

    /// Removes `n` frames starting at offset.
    public mutating func remove(at offset: Int, frames n: Int = 1) {
        var end = offset
        for _ in 0..<n { end = next(after: end) }
        removeBytes(offset, end, frames: n)
    }

    /// Removes the bytes [from, to), which hold `frames` whole frames.
    public mutating func removeBytes(_ from: Int, _ to: Int, frames: Int) {
        guard let p = base, to > from else { return }
        if to < byteCount { memmove(p + from, p + to, byteCount - to) }
        byteCount -= to - from
        count -= frames
        if count == 0 { release() } else { shrinkIfSparse() }
    }

    /// Replaces the element at offset with b.
    public mutating func replace(at offset: Int, with b: UnsafeBufferPointer<UInt8>) {
        let oldEnd = next(after: offset)
        let oldSize = oldEnd - offset
        let f = PackedEntries.frameSize(b.count)
        if f > oldSize { reserve(byteCount + f - oldSize) }
        let p = base.unsafelyUnwrapped
        if f != oldSize && oldEnd < byteCount { memmove(p + offset + f, p + oldEnd, byteCount - oldEnd) }
        writeFrame(b, at: offset)
        byteCount += f - oldSize
        if f < oldSize { shrinkIfSparse() }
    }

    /// Gives memory back once a quarter of the block is unused.
    @inline(__always)
    mutating func shrinkIfSparse() {
        if capacity > 64 && byteCount < capacity - capacity / 4 {
            let c = (max(byteCount, 8) + 7) & ~7
            if let p = realloc(base, c) {
                base = p.assumingMemoryBound(to: UInt8.self)
                capacity = c
            }
        }
    }

    /// Moves the frames from offset to the end into a new block (splitting a list chunk).
    public mutating func split(at offset: Int, frames: Int) -> PackedEntries {
        var tail = PackedEntries()
        let n = byteCount - offset
        if n > 0, let p = base {
            tail.reserve(n, exact: true)
            memcpy(tail.base.unsafelyUnwrapped, p + offset, n)
            tail.byteCount = n
            tail.count = frames
            byteCount = offset
            count -= frames
            shrinkIfSparse()
        }
        return tail
    }

    /// Appends every frame of other (merging list chunks).
    public mutating func append(contentsOf other: PackedEntries) {
        guard other.byteCount > 0, let o = other.base else { return }
        reserve(byteCount + other.byteCount)
        memcpy(base.unsafelyUnwrapped + byteCount, o, other.byteCount)
        byteCount += other.byteCount
        count += other.count
    }
}
