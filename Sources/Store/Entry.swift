import Glibc
import CTagCacheSys

/// The kinds of value an entry can hold, as TYPE names them.
public enum ValueKind: UInt8, Sendable {
    case string = 0
    case list = 1
    case set = 2
    case hash = 3

    public var typeName: StaticString {
        switch self {
        case .string: return "string"
        case .list: return "list"
        case .set: return "set"
        case .hash: return "hash"
        }
    }
}

/// Base class of aggregate values (hash, set, list) kept behind an entry.
open class StoredObject {
    public init() {}
    /// Heap bytes, for memory accounting (used_memory, maxmemory). Must be O(1): it is read
    /// after every write to the aggregate.
    open var memoryBytes: Int { 64 }
    /// The bytes the owning table counts for this aggregate, and that table (nil while the
    /// aggregate is in no table). Settled by Table.settle after writes.
    var accountedBytes = 0
    unowned(unsafe) var accountedIn: Table? = nil
    /// A deep copy (COPY).
    open func duplicate() -> StoredObject { fatalError("duplicate() must be overridden") }
}

/// One key and its value in one malloc'd block, so a lookup touches one allocation:
///
///     0  deadline  Int64   absolute ms, 0 = no expiry
///     8  hash      UInt32  low 32 bits of the key hash (slot choice, quick compare)
///     12 keyLen    UInt32
///     16 valueLen  UInt32  string length; 8 for aggregates (an object reference)
///     20 kind      UInt8   bits 0-1: the kind; bits 2-7: access clock bits 16-21
///     21 flags     UInt8   bit 0: has tags; bits 1-7: eviction policy bits (policyBits)
///     22 access    UInt16  access clock bits 0-15
///     24 key bytes, then value bytes
///
/// The access clock is what OBJECT IDLETIME and the LRU policies read: the command time in
/// units of 1,024 ms, 22 bits (it wraps after 49 days; Redis's 24-bit clock of seconds wraps
/// after 194). Under an LFU policy `access` holds the minute of the last decay instead and the
/// policy bits the logarithmic counter (Redis's 16 + 8 bits, with a 7-bit counter here); under
/// allkeys-s3fifo the policy bits hold the S3-FIFO frequency and queue (see S3FIFO.swift).
///
/// 24 bytes of header plus a 16-byte key and 32-byte value is a 72-byte request, which glibc
/// serves from an 80-byte chunk.
@frozen
public struct Entry: Equatable {
    public let raw: UnsafeMutableRawPointer

    @inlinable public init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    public static let headerSize = 24

    @inlinable public var deadline: Int64 {
        get { raw.load(as: Int64.self) }
        nonmutating set { raw.storeBytes(of: newValue, as: Int64.self) }
    }
    @inlinable public var hash: UInt32 { raw.load(fromByteOffset: 8, as: UInt32.self) }
    @inlinable public var keyLength: Int { Int(raw.load(fromByteOffset: 12, as: UInt32.self)) }
    @inlinable public var valueLength: Int { Int(raw.load(fromByteOffset: 16, as: UInt32.self)) }
    @inlinable public var kind: ValueKind { ValueKind(rawValue: raw.load(fromByteOffset: 20, as: UInt8.self) & 3) ?? .string }
    @inlinable public var flags: UInt8 {
        get { raw.load(fromByteOffset: 21, as: UInt8.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 21, as: UInt8.self) }
    }
    @inlinable public var access: UInt16 {
        get { raw.load(fromByteOffset: 22, as: UInt16.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 22, as: UInt16.self) }
    }
    /// The 22-bit access clock (see the layout above).
    @inlinable public var accessClock: UInt32 {
        get { UInt32(access) | UInt32(raw.load(fromByteOffset: 20, as: UInt8.self) >> 2) << 16 }
        nonmutating set {
            access = UInt16(truncatingIfNeeded: newValue)
            let k = raw.load(fromByteOffset: 20, as: UInt8.self) & 3
            raw.storeBytes(of: k | UInt8(truncatingIfNeeded: (newValue >> 16) & 0x3f) << 2, toByteOffset: 20, as: UInt8.self)
        }
    }
    /// Flag bits 1-7, owned by the eviction policy (LFU counter, S3-FIFO state).
    @inlinable public var policyBits: UInt8 {
        get { flags >> 1 }
        nonmutating set { flags = (flags & 1) | (newValue << 1) }
    }
    /// Copies the access clock and policy bits of another entry (a value replaced under the
    /// same key keeps its history, as Redis's dbOverwrite keeps the LRU/LFU field).
    @inlinable public func inheritAccess(from o: Entry) {
        access = o.access
        let k = raw.load(fromByteOffset: 20, as: UInt8.self) & 3
        raw.storeBytes(of: k | (o.raw.load(fromByteOffset: 20, as: UInt8.self) & ~3), toByteOffset: 20, as: UInt8.self)
        policyBits = o.policyBits
    }
    @inlinable public var keyPointer: UnsafeMutablePointer<UInt8> {
        (raw + Entry.headerSize).assumingMemoryBound(to: UInt8.self)
    }
    @inlinable public var key: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: keyPointer, count: keyLength)
    }
    @inlinable public var valuePointer: UnsafeMutablePointer<UInt8> { keyPointer + keyLength }
    /// The string value (only for kind == .string).
    @inlinable public var value: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: valuePointer, count: valueLength)
    }
    @inlinable public var hasDeadline: Bool { deadline != 0 }
    /// Whether the table's TagIndex holds tags for this key (flag bit 0).
    @inlinable public var hasTags: Bool {
        get { flags & 1 != 0 }
        nonmutating set { flags = newValue ? flags | 1 : flags & ~1 }
    }

    /// The aggregate behind this entry (only for kinds other than .string).
    public var object: StoredObject {
        let bits = UnsafeRawPointer(valuePointer).loadUnaligned(as: UInt.self)
        return Unmanaged<StoredObject>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeUnretainedValue()
    }

    /// Bytes malloc holds for this entry (for used_memory).
    public var allocatedSize: Int { Int(tc_malloc_usable(raw)) + 8 }

    @inlinable
    public func keyEquals(_ k: UnsafeBufferPointer<UInt8>, hash h: UInt32) -> Bool {
        if hash != h || keyLength != k.count { return false }
        if k.count == 0 { return true }
        return memcmp(keyPointer, k.baseAddress!, k.count) == 0
    }

    /// Allocates an entry holding a string value (value may be assembled later via valuePointer).
    public static func makeString(key: UnsafeBufferPointer<UInt8>, hash: UInt32, valueLength: Int,
                                  deadline: Int64) -> Entry {
        let e = allocate(key: key, hash: hash, valueLength: valueLength, kind: .string)
        e.deadline = deadline
        return e
    }

    public static func makeString(key: UnsafeBufferPointer<UInt8>, hash: UInt32, value: UnsafeBufferPointer<UInt8>,
                                  deadline: Int64) -> Entry {
        let e = makeString(key: key, hash: hash, valueLength: value.count, deadline: deadline)
        if value.count > 0 { memcpy(e.valuePointer, value.baseAddress!, value.count) }
        return e
    }

    /// Allocates an entry holding an aggregate; the entry keeps one retain on the object.
    public static func makeObject(key: UnsafeBufferPointer<UInt8>, hash: UInt32, kind: ValueKind,
                                  object: StoredObject, deadline: Int64) -> Entry {
        let e = allocate(key: key, hash: hash, valueLength: 8, kind: kind)
        e.deadline = deadline
        let bits = UInt(bitPattern: Unmanaged.passRetained(object).toOpaque())
        UnsafeMutableRawPointer(e.valuePointer).storeBytes(of: bits, as: UInt.self)
        return e
    }

    @inline(__always)
    static func allocate(key: UnsafeBufferPointer<UInt8>, hash: UInt32, valueLength: Int, kind: ValueKind) -> Entry {
        let size = headerSize + key.count + valueLength
        guard let p = malloc(size) else { fatalError("out of memory allocating \(size) bytes") }
        p.storeBytes(of: Int64(0), as: Int64.self)
        p.storeBytes(of: hash, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: UInt32(truncatingIfNeeded: key.count), toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: UInt32(truncatingIfNeeded: valueLength), toByteOffset: 16, as: UInt32.self)
        p.storeBytes(of: kind.rawValue, toByteOffset: 20, as: UInt8.self)
        p.storeBytes(of: UInt8(0), toByteOffset: 21, as: UInt8.self)
        p.storeBytes(of: UInt16(0), toByteOffset: 22, as: UInt16.self)
        if key.count > 0 { memcpy(p + headerSize, key.baseAddress!, key.count) }
        return Entry(p)
    }

    /// A copy of this entry with a new key (RENAME/COPY/MOVE); aggregates are shared or duplicated
    /// as asked.
    public func copy(newKey: UnsafeBufferPointer<UInt8>, hash: UInt32, duplicateObject: Bool) -> Entry {
        if kind == .string {
            let e = Entry.makeString(key: newKey, hash: hash, value: value, deadline: deadline)
            e.flags = flags
            e.inheritAccess(from: self)
            return e
        }
        let obj = duplicateObject ? object.duplicate() : object
        let e = Entry.makeObject(key: newKey, hash: hash, kind: kind, object: obj, deadline: deadline)
        e.flags = flags
        e.inheritAccess(from: self)
        return e
    }

    /// Frees the block and releases an aggregate.
    public func free() {
        if kind != .string {
            let bits = UnsafeRawPointer(valuePointer).loadUnaligned(as: UInt.self)
            Unmanaged<StoredObject>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release()
        }
        Glibc.free(raw)
    }

    /// Resizes a string entry's value, keeping key, deadline and flags. Returns the moved entry.
    public func resizedString(to newLength: Int) -> Entry {
        let size = Entry.headerSize + keyLength + newLength
        guard let p = realloc(raw, size) else { fatalError("out of memory allocating \(size) bytes") }
        p.storeBytes(of: UInt32(truncatingIfNeeded: newLength), toByteOffset: 16, as: UInt32.self)
        return Entry(p)
    }
}
