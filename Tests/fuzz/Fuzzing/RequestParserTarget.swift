import CaseFiles
import RESP

/// The request parser's fuzz target: arbitrary bytes fed in arbitrary reads under several
/// limit sets, the way a connection feeds what it reads. An input is one byte of settings (limit
/// set, read sizes) followed by the bytes a client sends.
///
/// Checked for every input, besides ASan's memory checks: the parser consumes only bytes it was
/// given and never goes back; every request has at least its name, and its arguments lie in
/// memory the parser may read; what it asks to read next stays within the bulk limit; and the
/// requests it yields do not depend on how the bytes were split into reads, up to a protocol
/// error, whose moment may (a line over the inline limit fails only while its end is unread, in
/// Redis too).
public enum RequestParserTarget {
    static let limitSets: [ProtocolLimits] = [
        ProtocolLimits(),
        ProtocolLimits(maxBulkLength: 16, maxMultibulkLength: 4, maxInlineLength: 32),
        // proto-max-bulk-len's smallest value.
        ProtocolLimits(maxBulkLength: 1 << 20, maxMultibulkLength: 1024, maxInlineLength: 1024),
        // The largest values CONFIG SET accepts.
        ProtocolLimits(maxBulkLength: Int.max, maxMultibulkLength: Int(Int32.max)),
    ]

    /// What a parse of the whole input gave: the requests, then how it stopped.
    struct Outcome {
        var requests: [[[UInt8]]] = []
        var error: String?
        var unread = 0
    }

    public static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let settings = input.byte()
        let limits = limitSets[Int(settings & 3)]
        let payload = input.take(input.remaining)
        let whole = parse(payload, limits: limits, readSizes: [payload.count])
        // Read sizes from a small generator seeded by the settings: 1 byte up to 1 KB at a time.
        let largest = [1, 7, 64, 1024][Int(settings >> 2) & 3]
        var state = UInt32(settings >> 4) &* 2_654_435_761 | 1
        var sizes: [Int] = []
        var total = 0
        while total < payload.count {
            state ^= state << 13; state ^= state >> 17; state ^= state << 5
            let n = 1 + Int(state % UInt32(largest))
            sizes.append(n)
            total += n
        }
        let split = parse(payload, limits: limits, readSizes: sizes)
        let common = min(whole.requests.count, split.requests.count)
        invariant(whole.requests[0..<common] == split.requests[0..<common],
                  "requests differ with the read sizes \(sizes.prefix(20))")
        switch (whole.error, split.error) {
        case (nil, nil):
            invariant(whole.requests.count == split.requests.count && whole.unread == split.unread,
                      "read sizes \(sizes.prefix(20)) changed the requests (\(whole.requests.count) vs \(split.requests.count)) or what is left unread (\(whole.unread) vs \(split.unread))")
        case (let w?, nil):
            fatalError("fuzz invariant broken: '\(w)' with one read, no error with the read sizes \(sizes.prefix(20))")
        case (nil, _?):
            // Only a line over a limit whose end had not arrived yet.
            break
        case (_?, _?):
            invariant(split.requests.count <= whole.requests.count, "more requests before the error with smaller reads")
        }
    }

    /// Feeds payload in reads of the given sizes, running every complete request after each read
    /// as Connection does.
    static func parse(_ payload: [UInt8], limits: ProtocolLimits, readSizes: [Int]) -> Outcome {
        let parser = RequestParser(limits: limits)
        let buffer = ByteBuffer(capacity: 64)
        var out = Outcome()
        var offset = 0, fed = 0, consumed = 0
        for size in readSizes {
            let n = min(size, payload.count - offset)
            if n <= 0 { break }
            buffer.reserve(max(n, min(parser.bytesStillNeeded(buffer), 1 << 16)))
            payload[offset..<(offset + n)].withUnsafeBufferPointer { buffer.append($0) }
            offset += n
            fed += n
            while true {
                let before = buffer.readIndex
                let step = parser.next(buffer)
                invariant(buffer.readIndex >= before && buffer.readIndex <= buffer.writeIndex,
                          "read index \(before) -> \(buffer.readIndex) with \(buffer.writeIndex) bytes written")
                consumed += buffer.readIndex - before
                invariant(consumed <= fed, "consumed \(consumed) bytes of \(fed)")
                switch step {
                case let .command(args):
                    invariant(args.count >= 1, "a request without a name")
                    invariant(buffer.readIndex > before, "a request that consumed nothing")
                    // Copying reads every byte of every argument: ASan checks they are readable.
                    out.requests.append((0..<args.count).map { Array(args[$0]) })
                case .needMore:
                    let needed = parser.bytesStillNeeded(buffer)
                    invariant(needed >= 0 && needed - 2 <= limits.maxBulkLength, "asks for \(needed) more bytes")
                    if buffer.isEmpty { buffer.clear(shrinkTo: 256 * 1024) }
                case let .protocolError(message):
                    out.error = message
                    return out
                }
                if case .command = step { continue }
                break
            }
        }
        out.unread = buffer.readableCount
        return out
    }

    /// An input in words: its settings and the bytes sent.
    public static func describe(_ data: UnsafeRawBufferPointer) -> String {
        var input = FuzzInput(data)
        let settings = input.byte()
        let l = limitSets[Int(settings & 3)]
        return "limits: bulk \(l.maxBulkLength), multibulk \(l.maxMultibulkLength), inline \(l.maxInlineLength); "
            + "reads up to \([1, 7, 64, 1024][Int(settings >> 2) & 3]) bytes\n" + escape(input.take(input.remaining), limit: 4096)
    }

    /// Seeds from the differential cases: each file's requests as multibulk, in runs of a few
    /// lines, plus each line as an inline request, under every limit set and read size.
    public static func seeds(_ cases: [CaseLine]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for start in stride(from: 0, to: cases.count, by: 8) {
            var bytes: [UInt8] = []
            for c in cases[start..<min(start + 8, cases.count)] where c.args.allSatisfy({ $0.count <= 4096 }) {
                bytes += Array("*\(c.args.count)\r\n".utf8)
                for a in c.args { bytes += Array("$\(a.count)\r\n".utf8) + a + [13, 10] }
            }
            out.append([UInt8(truncatingIfNeeded: start / 8)] + bytes)
        }
        for (i, c) in cases.enumerated() where c.text.utf8.count < 1024 {
            out.append([UInt8(truncatingIfNeeded: i)] + Array(c.text.utf8) + [13, 10])
        }
        return out
    }

    /// Argument counts and bulk lengths at every boundary (CommandProgram.numbers), which
    /// mutations seldom spell out digit by digit.
    public static var boundarySeeds: [[UInt8]] {
        var out: [[UInt8]] = []
        for (i, n) in CommandProgram.numbers.enumerated() {
            let settings = UInt8(truncatingIfNeeded: i)
            out.append([settings] + Array("*1\r\n$".utf8) + n + Array("\r\nabc\r\n".utf8))
            out.append([settings ^ 1] + Array("*".utf8) + n + Array("\r\n$1\r\na\r\n".utf8))
            out.append([settings ^ 2] + Array("*2\r\n$3\r\nget\r\n$".utf8) + n + Array("\r\n".utf8))
            out.append([settings ^ 3] + Array("*".utf8) + n + Array("\r\n".utf8))
        }
        return out
    }
}
