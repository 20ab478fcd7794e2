import CTagCacheSys
import Glibc

/// The hashed form of a large hash or set: a SlotTable of pointers to malloc'd records, one per
/// member. As in the keyspace's Table, a member always sits in the run of occupied slots from
/// its home slot, so HSCAN/SSCAN walk home slots in reverse-binary order and return every
/// member present for the whole iteration across resizes, as Redis's dictScan does.
public final class MemberTable {
    @usableFromInline var slots: SlotTable<MemberRecord>
    /// Bytes malloc holds for the records.
    var recordBytes = 0

    /// A table with room for `capacity` members before it grows.
    public init(capacity: Int = 0) {
        slots = SlotTable(capacity: SlotTable<MemberRecord>.capacity(toHold: capacity))
    }

    deinit {
        slots.removeAll { Glibc.free($0.raw) }
        slots.deallocate()
    }

    public var count: Int { slots.count }
    public var capacity: Int { slots.capacity }

    /// Heap bytes held (slots and records).
    public var memoryBytes: Int { slots.slotBytes + recordBytes }

    /// The 32-bit hash members are placed by.
    @inlinable @inline(__always)
    public static func hash(_ b: UnsafeBufferPointer<UInt8>) -> UInt32 { KeyHash.slotHash(b) }

    /// The member at an occupied slot, valid until the next change.
    @inlinable @inline(__always)
    public func member(at slot: Int) -> UnsafeBufferPointer<UInt8> { slots.occupied(slot).member }

    /// The value at an occupied slot, valid until the next change.
    @inlinable @inline(__always)
    public func value(at slot: Int) -> UnsafeBufferPointer<UInt8> { slots.occupied(slot).value }

    /// The slot holding member, or -1.
    @inlinable
    public func find(_ key: UnsafeBufferPointer<UInt8>, hash h: UInt32) -> Int { slots.find(key, hash: h) }

    /// Adds a member that is not present.
    public func insert(_ key: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, hash h: UInt32) {
        let r = MemberRecord.make(key, value, hash: h)
        recordBytes += r.allocatedSize
        slots.insert(r)
    }

    /// Replaces the value of the member at slot.
    public func setValue(at slot: Int, _ value: UnsafeBufferPointer<UInt8>) {
        let old = slots.occupied(slot)
        if old.overwriteValue(value) { return }
        let r = MemberRecord.make(old.member, value, hash: old.hash)
        recordBytes += r.allocatedSize - old.allocatedSize
        Glibc.free(old.raw)
        slots.replace(at: slot, with: r)
    }

    /// Removes the member at slot. Other members may move (backward shift).
    public func remove(at slot: Int) {
        let r = slots.occupied(slot)
        recordBytes -= r.allocatedSize
        Glibc.free(r.raw)
        slots.remove(at: slot)
    }

    /// Shrinks the slot array once it is under 1/8 full (between operations, as Redis's
    /// dictResize).
    public func shrinkIfSparse() { slots.shrinkIfSparse() }

    /// The first occupied slot at or after i, or -1.
    @inlinable
    public func occupiedSlot(from i: Int) -> Int { slots.occupiedSlot(from: i) }

    /// Calls body with every (member, value) in slot order; body returns false to stop.
    @inlinable
    public func forEach(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Bool) {
        slots.forEach { _, r in body(r.member, r.value) }
    }

    /// A uniformly random occupied slot; -1 when empty.
    public func randomSlot() -> Int { slots.randomSlot() }

    /// Visits every member whose home slot is the cursor's bucket, then returns the next cursor
    /// in reverse-binary order (0 when the walk is complete).
    public func scan(_ cursor: UInt64, _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Void) -> UInt64 {
        slots.scan(cursor) { r in body(r.member, r.value) }
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

/// One member of a MemberTable (and its value, for a hash), one malloc block:
///
///     0  hash      UInt32
///     4  memberLen UInt32
///     8  valueLen  UInt32  0 for sets
///     12 member bytes, then value bytes
///
/// Lengths that do not fit 32 bits are stored as UInt32.max with both real lengths (Int64) at
/// 12 and 20, the bytes from 28.
@usableFromInline
struct MemberRecord: SlotRecord {
    @usableFromInline let raw: UnsafeMutableRawPointer

    @inlinable init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    @inlinable var hash: UInt32 { raw.load(as: UInt32.self) }

    /// (member length, value length, offset of the member bytes).
    @inlinable var layout: (Int, Int, Int) {
        let k = raw.load(fromByteOffset: 4, as: UInt32.self)
        if k != UInt32.max {
            return (Int(k), Int(raw.load(fromByteOffset: 8, as: UInt32.self)), 12)
        }
        return (Int(raw.loadUnaligned(fromByteOffset: 12, as: Int64.self)),
                Int(raw.loadUnaligned(fromByteOffset: 20, as: Int64.self)), 28)
    }

    @inlinable var member: UnsafeBufferPointer<UInt8> {
        let (k, _, off) = layout
        return UnsafeBufferPointer(start: (raw + off).assumingMemoryBound(to: UInt8.self), count: k)
    }

    @inlinable var value: UnsafeBufferPointer<UInt8> {
        let (k, v, off) = layout
        return UnsafeBufferPointer(start: (raw + off + k).assumingMemoryBound(to: UInt8.self), count: v)
    }

    @inlinable
    func keyEquals(_ key: UnsafeBufferPointer<UInt8>, hash h: UInt32) -> Bool {
        if hash != h { return false }
        let (k, _, off) = layout
        return k == key.count && (k == 0 || memcmp(raw + off, key.baseAddress.unsafelyUnwrapped, k) == 0)
    }

    /// Bytes malloc holds for the record.
    var allocatedSize: Int { Int(tc_malloc_usable(raw)) + 8 }

    /// Copies a value of the same length over the old one (small layout only); false when the
    /// record must be made anew.
    func overwriteValue(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        let (k, v, off) = layout
        if v != value.count || off != 12 { return false }
        if v > 0 { memcpy(raw + off + k, value.baseAddress.unsafelyUnwrapped, v) }
        return true
    }

    static func make(_ key: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>,
                     hash: UInt32) -> MemberRecord {
        let big = key.count >= Int(UInt32.max) || value.count >= Int(UInt32.max)
        let header = big ? 28 : 12
        let size = header + key.count + value.count
        guard let r = malloc(size) else { fatalError("out of memory allocating \(size) bytes") }
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
        return MemberRecord(r)
    }
}
