import Glibc

/// Where a buffer without storage points: never read or written, since an empty buffer has no
/// readable bytes and every write reserves (allocates) first.
nonisolated(unsafe) private let noStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

/// A growable byte buffer with separate read and write positions, used for a connection's
/// input and output. Storage is one malloc'd block so the hot path never touches Array. A
/// buffer may hold no storage at all (capacity 0): made with `deferredCapacity`, or after
/// release(). It may also borrow storage from its owner's event loop for one batch
/// (borrow/giveBack), so a connection whose requests and replies fit whole in one read and one
/// write owns no buffer memory at all.
public final class ByteBuffer {
    public private(set) var base: UnsafeMutablePointer<UInt8>
    public private(set) var capacity: Int
    public var readIndex = 0
    public var writeIndex = 0
    /// The size of the first allocation of a buffer without storage.
    private let firstCapacity: Int
    /// The storage is borrowed (see borrow): never freed here, and growing moves the bytes to
    /// storage of the buffer's own.
    public private(set) var isBorrowed = false

    public init(capacity: Int = 16 * 1024) {
        firstCapacity = max(capacity, 64)
        self.capacity = firstCapacity
        base = UnsafeMutablePointer<UInt8>.allocate(capacity: firstCapacity)
    }

    /// A buffer that takes no memory until its first write (an idle connection's buffers cost
    /// nothing), then allocates `capacity` or what that write needs.
    public init(deferredCapacity capacity: Int) {
        firstCapacity = max(capacity, 64)
        self.capacity = 0
        base = noStorage
    }

    deinit { if capacity > 0 && !isBorrowed { base.deallocate() } }

    /// Bytes written but not yet consumed.
    @inlinable public var readableCount: Int { writeIndex - readIndex }
    @inlinable public var isEmpty: Bool { writeIndex == readIndex }
    @inlinable public var readPointer: UnsafeMutablePointer<UInt8> { base + readIndex }
    @inlinable public var writePointer: UnsafeMutablePointer<UInt8> { base + writeIndex }
    @inlinable public var writableCount: Int { capacity - writeIndex }

    /// Drops everything and, when the buffer grew beyond `limit`, gives all its memory back
    /// (the next write allocates the first capacity again).
    public func clear(shrinkTo limit: Int = 64 * 1024) {
        readIndex = 0
        writeIndex = 0
        if capacity > limit { releaseStorage() }
    }

    /// Gives the storage back when nothing is left to read; false when bytes remain.
    @discardableResult
    public func release() -> Bool {
        if readIndex != writeIndex { return false }
        discard()
        return true
    }

    /// Drops the content and the storage (a closing connection's buffers).
    public func discard() {
        readIndex = 0
        writeIndex = 0
        releaseStorage()
    }

    private func releaseStorage() {
        if capacity > 0 && !isBorrowed { base.deallocate() }
        base = noStorage
        capacity = 0
        isBorrowed = false
    }

    /// Works in `storage` (`count` bytes, owned by the caller) until giveBack(). Only a buffer
    /// without storage borrows; false (and nothing borrowed) otherwise.
    @discardableResult
    public func borrow(_ storage: UnsafeMutablePointer<UInt8>, count: Int) -> Bool {
        if capacity != 0 { return false }
        base = storage
        capacity = count
        isBorrowed = true
        readIndex = 0
        writeIndex = 0
        return true
    }

    /// Ends a borrow: unread bytes move to storage of the buffer's own (the first capacity, or
    /// more if they need it), so the owner may lend its storage to another buffer.
    public func giveBack() {
        guard isBorrowed else { return }
        let count = readableCount
        if count == 0 {
            releaseStorage()
            return
        }
        var newCap = firstCapacity
        while newCap < count { newCap *= 2 }
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCap)
        nb.update(from: base + readIndex, count: count)
        base = nb
        capacity = newCap
        isBorrowed = false
        readIndex = 0
        writeIndex = count
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
        let count = readableCount
        // Doubling from the first capacity. Callers reserve what they are about to write, so
        // `need` fits in memory; a size that could not stops here with a message, not with an
        // overflow trap in the loop.
        let (need, overflow) = count.addingReportingOverflow(n)
        precondition(!overflow && need <= Int.max / 2, "ByteBuffer cannot hold \(n) more bytes")
        var newCap = max(capacity * 2, firstCapacity)
        while newCap < need { newCap *= 2 }
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCap)
        if count > 0 { nb.update(from: base + readIndex, count: count) }
        if capacity > 0 && !isBorrowed { base.deallocate() }
        base = nb
        capacity = newCap
        isBorrowed = false
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
