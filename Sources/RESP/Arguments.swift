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

/// Arguments copied out of the input buffer.
public final class OwnedArguments {
    public let values: [[UInt8]]

    public init(_ args: Arguments) {
        var v: [[UInt8]] = []
        v.reserveCapacity(args.count)
        for i in 0..<args.count { v.append(Array(args[i])) }
        values = v
    }

    public init(values: [[UInt8]]) { self.values = values }

    /// Calls body with an Arguments view of the copied values.
    public func withArguments<R>(_ body: (Arguments) throws -> R) rethrows -> R {
        let n = values.count
        let spans = UnsafeMutableBufferPointer<Bytes>.allocate(capacity: max(n, 1))
        defer { spans.deallocate() }
        return try withViews(0, spans) { try body(Arguments(UnsafeBufferPointer(rebasing: spans[0..<n]))) }
    }

    private func withViews<R>(_ i: Int, _ spans: UnsafeMutableBufferPointer<Bytes>, _ body: () throws -> R) rethrows -> R {
        if i == values.count { return try body() }
        return try values[i].withUnsafeBufferPointer { p in
            spans[i] = p
            return try withViews(i + 1, spans, body)
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
