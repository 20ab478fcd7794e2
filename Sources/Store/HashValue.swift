import RESP

/// A hash (field -> value) behind an entry. Small hashes are one packed block of alternating
/// fields and values in insertion order (Redis's listpack encoding, and the same iteration
/// order); past `maxPackedEntries` fields, or once a field or value is longer than
/// `maxPackedLength`, it becomes a MemberTable for good, as Redis never converts back.
///
/// Byte views it returns point into its storage and stay valid until the next change.
public final class HashValue: StoredObject {
    /// hash-max-listpack-entries (Redis 7's default).
    public static let maxPackedEntries = 512
    /// hash-max-listpack-value.
    public static let maxPackedLength = 64

    /// Field/value frames while packed.
    var packed = PackedEntries()
    /// The hashed form, once converted.
    public private(set) var table: MemberTable?

    public override init() { super.init() }

    deinit { packed.release() }

    /// Fields held.
    public var count: Int { table?.count ?? packed.count / 2 }

    /// True while in the packed (listpack) form.
    public var isPacked: Bool { table == nil }

    /// What OBJECT ENCODING reports.
    public var encodingName: StaticString { table == nil ? "listpack" : "hashtable" }

    public override var memoryBytes: Int { 48 + (table?.memoryBytes ?? packed.memoryBytes) }

    public override func duplicate() -> StoredObject {
        let d = HashValue()
        if let t = table { d.table = t.duplicate() } else { d.packed = packed.duplicate() }
        return d
    }

    /// Switches to the hashed form (Redis's hashTypeConvert).
    public func convertToTable() {
        if table != nil { return }
        let t = MemberTable(capacity: count)
        var o = 0
        while o < packed.byteCount {
            let f = packed.element(at: o)
            let vo = packed.next(after: o)
            t.insert(f, value: packed.element(at: vo), hash: MemberTable.hash(f))
            o = packed.next(after: vo)
        }
        packed.release()
        table = t
    }

    /// Converts when an argument about to be stored is too long for the packed form (Redis's
    /// hashTypeTryConversion, which HSET and HSETNX run over their arguments first).
    public func prepareForLength(_ longest: Int) {
        if table == nil && longest > HashValue.maxPackedLength { convertToTable() }
    }

    // MARK: reading

    /// The value of field, or nil.
    public func value(_ field: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        if let t = table {
            let s = t.find(field, hash: MemberTable.hash(field))
            return s < 0 ? nil : t.value(at: s)
        }
        let o = packed.find(field, stride: 2)
        return o < 0 ? nil : packed.element(at: packed.next(after: o))
    }

    public func contains(_ field: UnsafeBufferPointer<UInt8>) -> Bool { value(field) != nil }

    /// Calls body with every (field, value): insertion order while packed, slot order after.
    /// body returns false to stop.
    public func forEach(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Bool) {
        if let t = table { t.forEach(body); return }
        var o = 0
        while o < packed.byteCount {
            let vo = packed.next(after: o)
            if !body(packed.element(at: o), packed.element(at: vo)) { return }
            o = packed.next(after: vo)
        }
    }

    /// A random (field, value); the hash must not be empty.
    public func randomPair() -> (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) {
        if let t = table {
            let s = t.randomSlot()
            return (t.member(at: s), t.value(at: s))
        }
        let o = packed.offset(ofIndex: FastRandom.int(in: 0..<count) * 2)
        return (packed.element(at: o), packed.element(at: packed.next(after: o)))
    }

    /// One step of HSCAN: the packed form returns everything at once with cursor 0 (as Redis
    /// does for a listpack); the hashed form walks buckets in reverse-binary order.
    public func scan(_ cursor: UInt64, _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Void) -> UInt64 {
        if let t = table { return t.scan(cursor, body) }
        forEach { f, v in body(f, v); return true }
        return 0
    }

    // MARK: changing

    /// Sets field to value; true when the field is new.
    @discardableResult
    public func set(_ field: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) -> Bool {
        if table == nil && (field.count > HashValue.maxPackedLength || value.count > HashValue.maxPackedLength) {
            convertToTable()
        }
        if let t = table {
            let h = MemberTable.hash(field)
            let s = t.find(field, hash: h)
            if s >= 0 {
                t.setValue(at: s, value)
                return false
            }
            t.insert(field, value: value, hash: h)
            return true
        }
        let o = packed.find(field, stride: 2)
        if o >= 0 {
            packed.replace(at: packed.next(after: o), with: value)
            return false
        }
        packed.append(field, value)
        if packed.count / 2 > HashValue.maxPackedEntries { convertToTable() }
        return true
    }

    /// Removes field; true when it was there.
    @discardableResult
    public func remove(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        if let t = table {
            let s = t.find(field, hash: MemberTable.hash(field))
            if s < 0 { return false }
            t.remove(at: s)
            t.shrinkIfSparse()
            return true
        }
        let o = packed.find(field, stride: 2)
        if o < 0 { return false }
        packed.remove(at: o, frames: 2)
        return true
    }
}
