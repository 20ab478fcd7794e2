/// Reads a fuzz input front to back. Past the end it reads zeros, so every input decodes to
/// something, the same way every time.
struct FuzzInput {
    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - position }
    var isAtEnd: Bool { position >= bytes.count }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func uint16() -> UInt16 { UInt16(byte()) | UInt16(byte()) << 8 }

    mutating func uint64() -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(byte()) << (8 * UInt64(i)) }
        return v
    }

    /// Up to n bytes (fewer at the end of the input).
    mutating func take(_ n: Int) -> [UInt8] {
        let k = max(0, min(n, remaining))
        defer { position += k }
        return Array(bytes[position..<(position + k)])
    }
}

/// Stops the fuzzer with a message naming the broken invariant (libFuzzer saves the input).
func invariant(_ ok: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !ok() { fatalError("fuzz invariant broken: \(message())") }
}
