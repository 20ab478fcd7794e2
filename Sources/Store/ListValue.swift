/// A list behind an entry: a deque of packed chunks (like Redis's quicklist of listpacks). Each
/// chunk is one PackedEntries block of at most `maxChunkBytes` (list-max-listpack-size -2, 8 kB)
/// unless a single element is larger; pushes and pops at either end touch one chunk, and an
/// index is found by skipping whole chunks from the nearer end.
///
/// Chunks live in `chunks[start...]`; `start` leaves room to add chunks at the front without
/// moving the others. Byte views it returns stay valid until the next change.
public final class ListValue: StoredObject {
    /// list-max-listpack-size -2: 8 kB per chunk.
    public static let maxChunkBytes = 8192

    var chunks: [PackedEntries] = []
    var start = 0
    /// Elements held.
    public private(set) var count = 0
    /// Bytes malloc holds for the chunks, kept as they change (memoryBytes is read after every
    /// write, so it must not walk the chunks).
    private var chunkBytes = 0

    public override init() { super.init() }

    deinit {
        for i in start..<chunks.count { chunks[i].release() }
    }

    /// What OBJECT ENCODING reports (Redis 7.0 keeps every list as a quicklist).
    public var encodingName: StaticString { "quicklist" }

    public override var memoryBytes: Int {
        48 + chunks.capacity * MemoryLayout<PackedEntries>.stride + chunkBytes
    }

    /// Runs a change of chunk c (an absolute index) and counts its size change.
    @inline(__always)
    private func changing<R>(_ c: Int, _ body: () -> R) -> R {
        chunkBytes -= chunks[c].memoryBytes
        let r = body()
        chunkBytes += chunks[c].memoryBytes
        return r
    }

    public override func duplicate() -> StoredObject {
        let d = ListValue()
        d.chunks.reserveCapacity(chunkCount)
        for i in start..<chunks.count { d.chunks.append(chunks[i].duplicate()) }
        d.count = count
        d.chunkBytes = chunkBytes
        return d
    }

    /// Chunks in use.
    public var chunkCount: Int { chunks.count - start }

    // MARK: chunks

    func addChunkAtFront(_ c: PackedEntries) {
        if start == 0 {
            let room = max(4, chunkCount)
            chunks.insert(contentsOf: repeatElement(PackedEntries(), count: room), at: 0)
            start = room
        }
        start -= 1
        chunks[start] = c
        chunkBytes += c.memoryBytes
    }

    /// Drops the (empty) chunk at relative index i; later chunks shift down by one.
    func removeChunk(_ i: Int) {
        chunkBytes -= chunks[start + i].memoryBytes
        chunks[start + i].release()
        if i == 0 {
            start += 1
            if start == chunks.count {
                chunks.removeAll(keepingCapacity: false)
                start = 0
            } else if start >= 16 && start > chunkCount {
                chunks.removeFirst(start)
                start = 0
            }
        } else {
            chunks.remove(at: start + i)
        }
    }

    /// Splits an oversized chunk in two halves (by bytes) after an insertion or replacement.
    func splitIfLarge(_ i: Int) {
        let c = start + i
        if chunks[c].byteCount <= ListValue.maxChunkBytes || chunks[c].count < 2 { return }
        let half = chunks[c].byteCount / 2
        var off = 0, k = 0
        repeat {
            off = chunks[c].next(after: off)
            k += 1
        } while off < half && k < chunks[c].count - 1
        let tail = changing(c) { chunks[c].split(at: off, frames: chunks[c].count - k) }
        chunks.insert(tail, at: c + 1)
        chunkBytes += tail.memoryBytes
    }

    // MARK: ends

    public func pushFront(_ b: UnsafeBufferPointer<UInt8>) {
        if chunkCount > 0 && chunks[start].byteCount + PackedEntries.frameSize(b.count) <= ListValue.maxChunkBytes {
            changing(start) { chunks[start].insert(b, at: 0) }
        } else {
            var c = PackedEntries()
            c.append(b)
            addChunkAtFront(c)
        }
        count += 1
    }

    public func pushBack(_ b: UnsafeBufferPointer<UInt8>) {
        if chunkCount > 0 && chunks[chunks.count - 1].byteCount + PackedEntries.frameSize(b.count) <= ListValue.maxChunkBytes {
            changing(chunks.count - 1) { chunks[chunks.count - 1].append(b) }
        } else {
            var c = PackedEntries()
            c.append(b)
            chunks.append(c)
            chunkBytes += c.memoryBytes
        }
        count += 1
    }

    /// The first element (the list must not be empty).
    public var first: UnsafeBufferPointer<UInt8> { chunks[start].element(at: 0) }

    /// The last element (the list must not be empty).
    public var last: UnsafeBufferPointer<UInt8> {
        let c = chunks.count - 1
        return chunks[c].element(at: chunks[c].lastOffset)
    }

    public func removeFirst() {
        changing(start) { chunks[start].remove(at: 0) }
        count -= 1
        if chunks[start].count == 0 { removeChunk(0) }
    }

    public func removeLast() {
        let c = chunks.count - 1
        changing(c) { chunks[c].remove(at: chunks[c].lastOffset) }
        count -= 1
        if chunks[c].count == 0 { removeChunk(chunkCount - 1) }
    }

    /// Removes and returns the first (or last) element; nil when empty. What a client blocked on
    /// the list gets when it is served.
    public func pop(fromFront: Bool) -> [UInt8]? {
        if count == 0 { return nil }
        if fromFront {
            let v = Array(first)
            removeFirst()
            return v
        }
        let v = Array(last)
        removeLast()
        return v
    }

    /// Removes the first n elements (LTRIM), dropping whole chunks where it can.
    public func removeFirst(_ n: Int) {
        var left = min(n, count)
        while left > 0 {
            let c = chunks[start].count
            if c <= left {
                left -= c
                count -= c
                removeChunk(0)
            } else {
                let off = chunks[start].offset(ofIndex: left)
                changing(start) { chunks[start].removeBytes(0, off, frames: left) }
                count -= left
                left = 0
            }
        }
    }

    /// Removes the last n elements (LTRIM).
    public func removeLast(_ n: Int) {
        var left = min(n, count)
        while left > 0 {
            let i = chunks.count - 1
            let c = chunks[i].count
            if c <= left {
                left -= c
                count -= c
                removeChunk(chunkCount - 1)
            } else {
                let off = chunks[i].offset(ofIndex: c - left)
                changing(i) { chunks[i].removeBytes(off, chunks[i].byteCount, frames: left) }
                count -= left
                left = 0
            }
        }
    }

    // MARK: positions

    /// Where an element is: a chunk (relative to the first) and the frame's offset in it.
    public struct Position: Equatable {
        public var chunk: Int
        public var offset: Int
    }

    /// The position of the element at index (0 <= index < count), from the nearer end.
    public func position(ofIndex index: Int) -> Position {
        if index < count / 2 {
            var i = index
            var c = 0
            while i >= chunks[start + c].count {
                i -= chunks[start + c].count
                c += 1
            }
            return Position(chunk: c, offset: chunks[start + c].offset(ofIndex: i))
        }
        var fromEnd = count - 1 - index
        var c = chunkCount - 1
        while fromEnd >= chunks[start + c].count {
            fromEnd -= chunks[start + c].count
            c -= 1
        }
        let n = chunks[start + c].count
        return Position(chunk: c, offset: chunks[start + c].offset(ofIndex: n - 1 - fromEnd))
    }

    public func element(at p: Position) -> UnsafeBufferPointer<UInt8> { chunks[start + p.chunk].element(at: p.offset) }

    public func element(atIndex i: Int) -> UnsafeBufferPointer<UInt8> { element(at: position(ofIndex: i)) }

    /// The next element's position, or nil at the end.
    public func position(after p: Position) -> Position? {
        let o = chunks[start + p.chunk].next(after: p.offset)
        if o < chunks[start + p.chunk].byteCount { return Position(chunk: p.chunk, offset: o) }
        return p.chunk + 1 < chunkCount ? Position(chunk: p.chunk + 1, offset: 0) : nil
    }

    /// The previous element's position, or nil at the front.
    public func position(before p: Position) -> Position? {
        if p.offset > 0 { return Position(chunk: p.chunk, offset: chunks[start + p.chunk].previous(before: p.offset)) }
        if p.chunk == 0 { return nil }
        return Position(chunk: p.chunk - 1, offset: chunks[start + p.chunk - 1].lastOffset)
    }

    /// Position of the first element (the list must not be empty).
    public var firstPosition: Position { Position(chunk: 0, offset: 0) }

    /// Position of the last element (the list must not be empty).
    public var lastPosition: Position {
        Position(chunk: chunkCount - 1, offset: chunks[chunks.count - 1].lastOffset)
    }

    /// Calls body with the elements from index on, in order; body returns false to stop.
    public func forEach(from index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) {
        if index >= count { return }
        let p = position(ofIndex: index)
        var o = p.offset
        for c in (start + p.chunk)..<chunks.count {
            let chunk = chunks[c]
            while o < chunk.byteCount {
                if !body(chunk.element(at: o)) { return }
                o = chunk.next(after: o)
            }
            o = 0
        }
    }

    /// Removes the element at p and returns the position of the one that followed it (nil at the
    /// end). Positions before p stay valid.
    @discardableResult
    public func remove(at p: Position) -> Position? {
        let c = start + p.chunk
        changing(c) { chunks[c].remove(at: p.offset) }
        count -= 1
        if chunks[c].count == 0 {
            removeChunk(p.chunk)
            return p.chunk < chunkCount ? Position(chunk: p.chunk, offset: 0) : nil
        }
        if p.offset < chunks[c].byteCount { return p }
        return p.chunk + 1 < chunkCount ? Position(chunk: p.chunk + 1, offset: 0) : nil
    }

    /// Inserts b before (or after) the element at p (LINSERT).
    public func insert(_ b: UnsafeBufferPointer<UInt8>, at p: Position, after: Bool) {
        let c = start + p.chunk
        let o = after ? chunks[c].next(after: p.offset) : p.offset
        changing(c) { chunks[c].insert(b, at: o) }
        count += 1
        splitIfLarge(p.chunk)
    }

    /// Replaces the element at p (LSET).
    public func replace(at p: Position, with b: UnsafeBufferPointer<UInt8>) {
        changing(start + p.chunk) { chunks[start + p.chunk].replace(at: p.offset, with: b) }
        splitIfLarge(p.chunk)
    }
}
