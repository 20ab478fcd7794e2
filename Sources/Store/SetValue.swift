import RESP

/// A set of byte strings behind an entry, in one of three forms:
///
/// - integers: an IntegerSet while every member is a canonical 64-bit integer (Redis's intset),
///   up to `maxIntsetEntries` members; iteration is in ascending order, as in Redis;
/// - packed: one PackedEntries block of members in insertion order for small sets of short
///   strings (`maxPackedEntries` members of up to `maxPackedLength` bytes);
/// - table: a MemberTable.
///
/// A set only moves forward through these forms (ints -> packed -> table), as Redis never
/// converts back. Redis 7.0 keeps small string sets in a hash table (the listpack set encoding
/// came with 7.2), so OBJECT ENCODING reports "hashtable" for both of the non-integer forms.
public final class SetValue: StoredObject {
    /// set-max-intset-entries.
    public static let maxIntsetEntries = 512
    /// Redis 7.2's set-max-listpack-entries / -value, for the packed form of string sets.
    public static let maxPackedEntries = 128
    public static let maxPackedLength = 64

    /// The storage in use.
    public enum Form { case integers, packed, table }
    public private(set) var form = Form.integers

    var ints = IntegerSet()
    var packed = PackedEntries()
    var table: MemberTable?

    /// An empty set in the integer form (Redis's createIntsetObject).
    public override init() { super.init() }

    /// An empty set in the form that can hold `member` (Redis's setTypeCreate).
    public convenience init(for member: UnsafeBufferPointer<UInt8>) {
        self.init()
        if parseRedisInteger(member) == nil { form = .packed }
    }

    deinit {
        ints.release()
        packed.release()
    }

    public var count: Int {
        switch form {
        case .integers: return ints.count
        case .packed: return packed.count
        case .table: return table?.count ?? 0
        }
    }

    /// What OBJECT ENCODING reports (Redis 7.0 names).
    public var encodingName: StaticString { form == .integers ? "intset" : "hashtable" }

    public override var memoryBytes: Int {
        48 + ints.memoryBytes + packed.memoryBytes + (table?.memoryBytes ?? 0)
    }

    public override func duplicate() -> StoredObject {
        let d = SetValue()
        d.form = form
        d.ints = ints.duplicate()
        d.packed = packed.duplicate()
        d.table = table?.duplicate()
        return d
    }

    /// Takes over other's members (other is left empty): SPOP's rebuild keeps the entry, and so
    /// its TTL, as Redis's dbOverwrite does.
    public func take(_ other: SetValue) {
        ints.release()
        packed.release()
        form = other.form
        ints = other.ints
        packed = other.packed
        table = other.table
        other.ints = IntegerSet()
        other.packed = PackedEntries()
        other.table = nil
        other.form = .integers
    }

    // MARK: conversions

    func convert(to target: Form) {
        if target == form { return }
        if target == .packed {
            // Only ever from integers.
            var p = PackedEntries()
            forEachInteger { b in p.append(b); return true }
            ints.release()
            packed = p
            form = .packed
            return
        }
        let t = MemberTable(capacity: count + 1)
        let empty = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        forEach { m in
            t.insert(m, value: empty, hash: MemberTable.hash(m))
            return true
        }
        ints.release()
        packed.release()
        table = t
        form = .table
    }

    // MARK: reading

    public func contains(_ member: UnsafeBufferPointer<UInt8>) -> Bool {
        switch form {
        case .integers:
            guard let v = parseRedisInteger(member) else { return false }
            return ints.contains(v)
        case .packed:
            return packed.find(member) >= 0
        case .table:
            guard let t = table else { return false }
            return t.find(member, hash: MemberTable.hash(member)) >= 0
        }
    }

    /// The decimal text of each integer member, ascending.
    func forEachInteger(_ body: (UnsafeBufferPointer<UInt8>) -> Bool) {
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &tmp) { raw in
            let p = raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self)
            for i in 0..<ints.count {
                let n = formatDecimal(ints.value(at: i), into: p)
                if !body(UnsafeBufferPointer(start: p, count: n)) { return }
            }
        }
    }

    /// Calls body with every member (ascending for integers, insertion order while packed, slot
    /// order in a table); body returns false to stop. Views are valid during the call only.
    public func forEach(_ body: (UnsafeBufferPointer<UInt8>) -> Bool) {
        switch form {
        case .integers: forEachInteger(body)
        case .packed: packed.forEach(body)
        case .table: table?.forEach { m, _ in body(m) }
        }
    }

    /// Calls body with a uniformly random member; the set must not be empty.
    public func withRandomMember<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        switch form {
        case .integers:
            return withInteger(ints.value(at: FastRandom.int(in: 0..<ints.count)), body)
        case .packed:
            return body(packed.element(at: packed.offset(ofIndex: FastRandom.int(in: 0..<packed.count))))
        case .table:
            let t = table.unsafelyUnwrapped
            return body(t.member(at: t.randomSlot()))
        }
    }

    /// Removes a uniformly random member, handing it to body first; the set must not be empty.
    public func popRandom(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        switch form {
        case .integers:
            let i = FastRandom.int(in: 0..<ints.count)
            withInteger(ints.value(at: i), body)
            ints.removeIndex(i)
        case .packed:
            let o = packed.offset(ofIndex: FastRandom.int(in: 0..<packed.count))
            body(packed.element(at: o))
            packed.remove(at: o)
        case .table:
            let t = table.unsafelyUnwrapped
            let s = t.randomSlot()
            body(t.member(at: s))
            t.remove(at: s)
            t.shrinkIfSparse()
        }
    }

    func withInteger<R>(_ v: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &tmp) { raw in
            let p = raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self)
            return body(UnsafeBufferPointer(start: p, count: formatDecimal(v, into: p)))
        }
    }

    /// One step of SSCAN: the integer and packed forms return everything with cursor 0 (as
    /// Redis does for an intset); a table walks buckets in reverse-binary order.
    public func scan(_ cursor: UInt64, _ body: (UnsafeBufferPointer<UInt8>) -> Void) -> UInt64 {
        if form == .table, let t = table { return t.scan(cursor) { m, _ in body(m) } }
        forEach { body($0); return true }
        return 0
    }

    // MARK: changing

    /// Adds member; true when it is new (Redis's setTypeAdd, conversions included).
    @discardableResult
    public func add(_ member: UnsafeBufferPointer<UInt8>) -> Bool {
        switch form {
        case .integers:
            if let v = parseRedisInteger(member) {
                if !ints.insert(v) { return false }
                if ints.count > SetValue.maxIntsetEntries { convert(to: .table) }
                return true
            }
            let fits = ints.count + 1 <= SetValue.maxPackedEntries && member.count <= SetValue.maxPackedLength
            convert(to: fits ? .packed : .table)
            return add(member)
        case .packed:
            if packed.find(member) >= 0 { return false }
            if packed.count + 1 > SetValue.maxPackedEntries || member.count > SetValue.maxPackedLength {
                convert(to: .table)
                return add(member)
            }
            packed.append(member)
            return true
        case .table:
            let t = table.unsafelyUnwrapped
            let h = MemberTable.hash(member)
            if t.find(member, hash: h) >= 0 { return false }
            t.insert(member, value: UnsafeBufferPointer(start: nil, count: 0), hash: h)
            return true
        }
    }

    /// Removes member; true when it was there.
    @discardableResult
    public func remove(_ member: UnsafeBufferPointer<UInt8>) -> Bool {
        switch form {
        case .integers:
            guard let v = parseRedisInteger(member) else { return false }
            return ints.remove(v)
        case .packed:
            let o = packed.find(member)
            if o < 0 { return false }
            packed.remove(at: o)
            return true
        case .table:
            let t = table.unsafelyUnwrapped
            let s = t.find(member, hash: MemberTable.hash(member))
            if s < 0 { return false }
            t.remove(at: s)
            t.shrinkIfSparse()
            return true
        }
    }
}
