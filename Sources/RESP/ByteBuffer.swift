import Glibc

/// A growable byte buffer with separate read and write positions, used for a connection's
/// input and output. Storage is one malloc'd block so the hot path never touches Array.
public final class ByteBuffer {
    public private(set) var base: UnsafeMutablePointer<UInt8>
    public private(set) var capacity: Int
    public var readIndex = 0
    public var writeIndex = 0

    public init(capacity: Int = 16 * 1024) {
        self.capacity = max(capacity, 64)
        base = UnsafeMutablePointer<UInt8>.allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Bytes written but not yet consumed.
    @inlinable public var readableCount: Int { writeIndex - readIndex }
    @inlinable public var isEmpty: Bool { writeIndex == readIndex }
    @inlinable public var readPointer: UnsafeMutablePointer<UInt8> { base + readIndex }
    @inlinable public var writePointer: UnsafeMutablePointer<UInt8> { base + writeIndex }
    @inlinable public var writableCount: Int { capacity - writeIndex }

    /// Drops everything and, when the buffer grew large, gives the memory back.
    public func clear(shrinkTo limit: Int = 64 * 1024) {
        readIndex = 0
        writeIndex = 0
        if capacity > limit {
            base.deallocate()
            capacity = 16 * 1024
            base = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        }
    }

    /// Moves unread bytes to the front so the tail has room again.
    public func compact() {
        if readIndex == 0 { return }
        let n = readableCount
        if n > 0 { memmove(base, base + readIndex, n) }
        readIndex = 0
        writeIndex = n
    }

    /// Ensures at least `n` writable bytes after writeIndex, compacting or growing.
    @inline(__always)
    public func reserve(_ n: Int) {
        if writableCount >= n { return }
        grow(n)
    }

    @inline(never)
    func grow(_ n: Int) {
        if readIndex > 0 && capacity - readableCount >= n && readIndex >= capacity / 2 {
            compact()
            return
        }
        var newCap = capacity * 2
        while newCap - readableCount < n { newCap *= 2 }
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCap)
        let count = readableCount
        if count > 0 { nb.update(from: base + readIndex, count: count) }
        base.deallocate()
        base = nb
        capacity = newCap
        readIndex = 0
        writeIndex = count
    }

    @inline(__always)
    public func append(_ byte: UInt8) {
        reserve(1)
        base[writeIndex] = byte
        writeIndex += 1
    }

    @inline(__always)
    public func append(_ p: UnsafeRawPointer, count: Int) {
        reserve(count)
        if count > 0 { memcpy(base + writeIndex, p, count) }
        writeIndex += count
    }

    @inline(__always)
    public func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let p = bytes.baseAddress else { return }
        append(p, count: bytes.count)
    }

    @inline(__always)
    public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    @inline(__always)
    public func append(_ s: StaticString) {
        append(s.utf8Start, count: s.utf8CodeUnitCount)
    }

    public func append(string s: String) {
        var s = s
        s.withUTF8 { append($0) }
    }

    /// Appends the decimal form of `v` without allocating.
    @inline(__always)
    public func appendDecimal(_ v: Int) {
        reserve(20)
        writeIndex += formatDecimal(v, into: base + writeIndex)
    }

    /// Appends a byte range of this buffer's own content is not supported; callers copy first.
    public var readableBytes: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base + readIndex, count: readableCount)
    }

    /// The unread bytes as an array (tests and slow paths only).
    public func readableArray() -> [UInt8] { Array(readableBytes) }
}

/// Writes the decimal digits of v at p; returns how many bytes it wrote (at most 20).
@inline(__always)
public func formatDecimal(_ v: Int, into p: UnsafeMutablePointer<UInt8>) -> Int {
    if v >= 0 && v < 10 {
        p[0] = 48 &+ UInt8(truncatingIfNeeded: v)
        return 1
    }
    var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
    return withUnsafeMutableBytes(of: &tmp) { raw -> Int in
        let t = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var u = v < 0 ? UInt64(bitPattern: Int64(v)).magnitudeOfNegative : UInt64(v)
        var i = 24
        repeat {
            i -= 1
            t[i] = 48 &+ UInt8(truncatingIfNeeded: u % 10)
            u /= 10
        } while u > 0
        var n = 0
        if v < 0 { p[0] = 45; n = 1 }
        let len = 24 - i
        memcpy(p + n, t + i, len)
        return n + len
    }
}

extension UInt64 {
    /// For a two's-complement negative value, its magnitude (works for Int64.min).
    @inline(__always) var magnitudeOfNegative: UInt64 { (~self) &+ 1 }
}
