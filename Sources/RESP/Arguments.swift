/// One argument of a request: a view of bytes owned by the connection's input buffer
/// (or by a queued copy). Valid only while the command executes.
public typealias Bytes = UnsafeBufferPointer<UInt8>

/// The arguments of one request, argument 0 being the command name. A view: nothing is copied
/// until a handler stores a value.
public struct Arguments {
    @usableFromInline let spans: UnsafeBufferPointer<Bytes>

    @inlinable public init(_ spans: UnsafeBufferPointer<Bytes>) { self.spans = spans }

    @inlinable public var count: Int { spans.count }
    @inlinable public subscript(i: Int) -> Bytes { spans[i] }

    /// A copy that outlives the input buffer (MULTI queues, blocked clients).
    public func copy() -> OwnedArguments { OwnedArguments(self) }
}

/// Arguments copied out of the input buffer: every argument's bytes in one array, so a view of
/// all of them needs one pointer (and no stack per argument, however many there are).
public final class OwnedArguments {
    /// The arguments' bytes, back to back.
    private let bytes: [UInt8]
    /// Where each argument ends in `bytes` (the next one starts there).
    private let ends: [Int]

    public convenience init(_ args: Arguments) { self.init(packing: (0..<args.count).lazy.map { args[$0] }) }

    public convenience init(values: [[UInt8]]) { self.init(packing: values) }

    private init<C: Collection>(packing items: C) where C.Element: Collection<UInt8> {
        var total = 0
        for a in items { total += a.count }
        var b: [UInt8] = []
        // One byte more than needed: the array always has storage, so even an empty argument
        // gets an address (as the parser's views do) and handlers may take it.
        b.reserveCapacity(total + 1)
        var e: [Int] = []
        e.reserveCapacity(items.count)
        for a in items {
            b.append(contentsOf: a)
            e.append(b.count)
        }
        bytes = b
        ends = e
    }

    /// Number of arguments.
    public var count: Int { ends.count }

    /// Bytes held by the arguments (CLIENT LIST's multi-mem).
    public var byteCount: Int { bytes.count }

    /// Calls body with an Arguments view of the copied values.
    public func withArguments<R>(_ body: (Arguments) throws -> R) rethrows -> R {
        let n = ends.count
        let spans = UnsafeMutableBufferPointer<Bytes>.allocate(capacity: max(n, 1))
        defer { spans.deallocate() }
        return try bytes.withUnsafeBufferPointer { all in
            var start = 0
            for i in 0..<n {
                spans[i] = Bytes(start: all.baseAddress.map { $0 + start }, count: ends[i] - start)
                start = ends[i]
            }
            return try body(Arguments(UnsafeBufferPointer(rebasing: spans[0..<n])))
        }
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// Case-insensitive comparison with an ASCII literal (command names and options).
    @inlinable
    public func equalsIgnoringCase(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        if count != n { return false }
        let p = s.utf8Start
        for i in 0..<n {
            var c = self[i]
            if c >= 65 && c <= 90 { c |= 0x20 }
            var d = p[i]
            if d >= 65 && d <= 90 { d |= 0x20 }
            if c != d { return false }
        }
        return true
    }

    /// The bytes as a Swift String (for logs, errors and slow paths only).
    public var string: String { String(decoding: self, as: UTF8.self) }

    /// Lower-cased copy as a String.
    public var lowercasedString: String {
        String(decoding: self.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    public var array: [UInt8] { Array(self) }

    /// Byte-wise equality.
    @inlinable
    public func equals(_ other: UnsafeBufferPointer<UInt8>) -> Bool {
        if count != other.count { return false }
        if count == 0 { return true }
        return memcmp(baseAddress!, other.baseAddress!, count) == 0
    }
}

import Glibc
