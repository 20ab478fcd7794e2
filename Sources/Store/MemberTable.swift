import CTagCacheSys
import Glibc

/// The hashed form of a large hash or set: an open-addressing table (linear probing,
/// backward-shift deletion, no tombstones) of pointers to malloc'd records, one per member.
/// Like the keyspace's Table, a member always sits in the run of occupied slots starting at its
/// home slot, so HSCAN/SSCAN can walk home slots in reverse-binary order and return every member
/// present for the whole iteration across resizes, as Redis's dictScan does.
///
/// Each slot word holds the record pointer in its low 48 bits and 16 bits of the member's hash
/// above them, so a probe dereferences only records that almost surely match.
///
/// Record: hash UInt32, member length UInt32, value length UInt32, member bytes, value bytes.
/// Lengths that do not fit 32 bits are stored as UInt32.max with both real lengths (Int64) after
/// the header. Sets store no value (length 0).
public final class MemberTable {
    @usableFromInline var slots: UnsafeMutablePointer<UInt>
    @usableFromInline var mask: Int
    public private(set) var count = 0
    /// Bytes malloc holds for the records.
    var recordBytes = 0

    @usableFromInline static let pointerBits: UInt = (1 << 48) - 1

    public init(capacity: Int = 8) {
        var c = 8
        while c * 3 < capacity * 4 { c <<= 1 }
        slots = .allocate(capacity: c)
        slots.initialize(repeating: 0, count: c)
        mask = c - 1
    }

    deinit {
        for i in 0...mask where slots[i] != 0 { Glibc.free(record(i)) }
        slots.deallocate()
    }

    public var capacity: Int { mask + 1 }

    /// Heap bytes held (slots and records).
    public var memoryBytes: Int { capacity * 8 + recordBytes }

    /// The 32-bit hash members are placed by.
    @inlinable @inline(__always)
    public static func hash(_ b: UnsafeBufferPointer<UInt8>) -> UInt32 {
        UInt32(truncatingIfNeeded: KeyHash.hash(UnsafeRawPointer(b.baseAddress), b.count))
    }

    @inlinable @inline(__always)
    static func tag(_ h: UInt32) -> UInt { UInt(h >> 16) << 48 }

    @inlinable @inline(__always)
    func record(_ i: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: slots[i] & MemberTable.pointerBits).unsafelyUnwrapped
    }

    /// (member length, value length, offset of the member bytes).
    @inlinable @inline(__always)
    static func layout(_ r: UnsafeRawPointer) -> (Int, Int, Int) {
        let k = r.load(fromByteOffset: 4, as: UInt32.self)
        if k != UInt32.max {
            return (Int(k), Int(r.load(fromByteOffset: 8, as: UInt32.self)), 12)
        }
        return (Int(r.loadUnaligned(fromByteOffset: 12, as: Int64.self)),
                Int(r.loadUnaligned(fromByteOffset: 20, as: Int64.self)), 28)
    }

    @inline(__always)
    static func makeRecord(_ key: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>,
                           hash: UInt32) -> UnsafeMutableRawPointer {
        let big = key.count >= Int(UInt32.max) || value.count >= Int(UInt32.max)
        let header = big ? 28 : 12
        let size = header + key.count + value.count
        guard let r = malloc(size) else { fatalError("out of memory allocating \(size) bytes") }
        precondition(UInt(bitPattern: r) >> 48 == 0, "heap address above 48 bits")
        r.storeBytes(of: hash, as: UInt32.self)
        if big {
            r.storeBytes(of: UInt32.max, toByteOffset: 4, as: UInt32.self)
            r.storeBytes(of: UInt32.max, toByteOffset: 8, as: UInt32.self)
            r.storeBytes(of: Int64(key.count), toByteOffset: 12, as: Int64.self)
            r.storeBytes(of: Int64(value.count), toByteOffset: 20, as: Int64.self)
        } else {
            r.storeBytes(of: UInt32(key.count), toByteOffset: 4, as: UInt32.self)
            r.storeBytes(of: UInt32(value.count), toByteOffset: 8, as: UInt32.self)
        }
        if key.count > 0 { memcpy(r + header, key.baseAddress.unsafelyUnwrapped, key.count) }
        if value.count > 0 { memcpy(r + header + key.count, value.baseAddress.unsafelyUnwrapped, value.count) }
        return r
    }

    /// The member at an occupied slot, valid until the next change.
    @inlinable @inline(__always)
    public func member(at slot: Int) -> UnsafeBufferPointer<UInt8> {
        let r = record(slot)
        let (k, _, off) = MemberTable.layout(r)
        return UnsafeBufferPointer(start: (r + off).assumingMemoryBound(to: UInt8.self), count: k)
    }

    /// The value at an occupied slot, valid until the next change.
    @inlinable @inline(__always)
    public func value(at slot: Int) -> UnsafeBufferPointer<UInt8> {
        let r = record(slot)
        let (k, v, off) = MemberTable.layout(r)
        return UnsafeBufferPointer(start: (r + off + k).assumingMemoryBound(to: UInt8.self), count: v)
    }

    /// The slot holding member, or -1.
    @inlinable
    public func find(_ key: UnsafeBufferPointer<UInt8>, hash h: UInt32) -> Int {
        var i = Int(h) & mask
        let t = MemberTable.tag(h)
        while true {
            let w = slots[i]
            if w == 0 { return -1 }
            if w & ~MemberTable.pointerBits == t {
                let r = UnsafeMutableRawPointer(bitPattern: w & MemberTable.pointerBits).unsafelyUnwrapped
                if r.load(as: UInt32.self) == h {
                    let (k, _, off) = MemberTable.layout(r)
                    if k == key.count && (k == 0 || memcmp(r + off, key.baseAddress.unsafelyUnwrapped, k) == 0) {
                        return i
                    }
                }
            }
            i = (i + 1) & mask
        }
    }

    /// Adds a member that is not present.
    public func insert(_ key: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, hash h: UInt32) {
        if (count + 1) * 4 > capacity * 3 { resize(capacity * 2) }
        let r = MemberTable.makeRecord(key, value, hash: h)
        recordBytes += Int(tc_malloc_usable(r)) + 8
        var i = Int(h) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = UInt(bitPattern: r) | MemberTable.tag(h)
        count += 1
    }

    /// Replaces the value of the member at slot.
    public func setValue(at slot: Int, _ value: UnsafeBufferPointer<UInt8>) {
        let old = record(slot)
        let (k, v, off) = MemberTable.layout(old)
        if v == value.count && off == 12 {
            if v > 0 { memcpy(old + off + k, value.baseAddress.unsafelyUnwrapped, v) }
            return
        }
        let h = old.load(as: UInt32.self)
        let key = UnsafeBufferPointer(start: (old + off).assumingMemoryBound(to: UInt8.self), count: k)
        let r = MemberTable.makeRecord(key, value, hash: h)
        recordBytes += Int(tc_malloc_usable(r)) - Int(tc_malloc_usable(old))
        Glibc.free(old)
        slots[slot] = UInt(bitPattern: r) | MemberTable.tag(h)
    }

    /// Removes the member at slot. Other members may move (backward shift).
    public func remove(at slot: Int) {
        let r = record(slot)
        recordBytes -= Int(tc_malloc_usable(r)) + 8
        Glibc.free(r)
        count -= 1
        var hole = slot
        var j = (slot + 1) & mask
        while slots[j] != 0 {
            let home = Int(record(j).load(as: UInt32.self)) & mask
            if (j - home) & mask >= (j - hole) & mask {
                slots[hole] = slots[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        slots[hole] = 0
    }

    /// Halves the table while it is mostly empty (between operations, as Redis's dictResize).
    public func shrinkIfSparse() {
        var c = capacity
        while c > 8 && count * 8 < c { c /= 2 }
        // c * 2 can equal the capacity (count just under an eighth of it): no rehash then, or
        // every removal down to a sixteenth would rehash the whole table at the same size.
        let target = max(c * 2, 8)
        if target < capacity { resize(target) }
    }

    func resize(_ newCap: Int) {
        let old = slots
        let oldCap = capacity
        slots = .allocate(capacity: newCap)
        slots.initialize(repeating: 0, count: newCap)
        mask = newCap - 1
        for i in 0..<oldCap {
            let w = old[i]
            if w != 0 {
                let r = UnsafeMutableRawPointer(bitPattern: w & MemberTable.pointerBits).unsafelyUnwrapped
                var j = Int(r.load(as: UInt32.self)) & mask
                while slots[j] != 0 { j = (j + 1) & mask }
                slots[j] = w
            }
        }
        old.deallocate()
    }

    /// The first occupied slot at or after i, or -1.
    @inlinable
    public func occupiedSlot(from i: Int) -> Int {
        var j = i
        while j <= mask {
            if slots[j] != 0 { return j }
            j += 1
        }
        return -1
    }

    /// Calls body with every (member, value) in slot order; body returns false to stop.
    @inlinable
    public func forEach(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Bool) {
        for i in 0...mask where slots[i] != 0 {
            if !body(member(at: i), value(at: i)) { return }
        }
    }

    /// A uniformly random occupied slot (the table is never emptier than 1/8 once shrunk, so a
    /// few random probes find one); -1 when empty.
    public func randomSlot() -> Int {
        if count == 0 { return -1 }
        for _ in 0..<64 {
            let i = FastRandom.int(in: 0...mask)
            if slots[i] != 0 { return i }
        }
        var i = FastRandom.int(in: 0...mask)
        while slots[i] == 0 { i = (i + 1) & mask }
        return i
    }

    /// Visits every member whose home slot is the cursor's bucket, then returns the next cursor
    /// in reverse-binary order (0 when the walk is complete).
    public func scan(_ cursor: UInt64, _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Void) -> UInt64 {
        let m = UInt64(mask)
        var v = cursor
        let bucket = Int(v & m)
        var i = bucket
        while slots[i] != 0 {
            if Int(record(i).load(as: UInt32.self)) & mask == bucket { body(member(at: i), value(at: i)) }
            i = (i + 1) & mask
            if i == bucket { break }
        }
        v |= ~m
        v = MemberTable.reverse(v)
        v = v &+ 1
        v = MemberTable.reverse(v)
        return v
    }

    @inline(__always)
    static func reverse(_ v: UInt64) -> UInt64 {
        var x = v
        x = ((x >> 1) & 0x5555_5555_5555_5555) | ((x & 0x5555_5555_5555_5555) << 1)
        x = ((x >> 2) & 0x3333_3333_3333_3333) | ((x & 0x3333_3333_3333_3333) << 2)
        x = ((x >> 4) & 0x0F0F_0F0F_0F0F_0F0F) | ((x & 0x0F0F_0F0F_0F0F_0F0F) << 4)
        return x.byteSwapped
    }

    /// A deep copy (COPY).
    public func duplicate() -> MemberTable {
        let d = MemberTable(capacity: count)
        forEach { k, v in
            d.insert(k, value: v, hash: MemberTable.hash(k))
            return true
        }
        return d
    }
}
