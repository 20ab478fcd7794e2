/// Checks replies as a client library reads them: complete RESP values whose lengths and
/// counts agree with what follows, lines without CR or LF inside, integers that are integers,
/// and no RESP3 type on a RESP2 connection.
struct ReplyCheck {
    let bytes: UnsafeBufferPointer<UInt8>
    /// Whether RESP3 types may appear (the connection spoke RESP3 before or after the command).
    let resp3: Bool

    /// The number of complete values in the bytes, or what is wrong with them.
    static func count(_ bytes: UnsafeBufferPointer<UInt8>, resp3: Bool) -> Result<Int, Fault> {
        let check = ReplyCheck(bytes: bytes, resp3: resp3)
        var at = 0, n = 0
        do throws(Fault) {
            while at < bytes.count {
                at = try check.value(at, depth: 0)
                n += 1
            }
        } catch {
            return .failure(error)
        }
        return .success(n)
    }

    static let resp3Only: Set<UInt8> = [95, 44, 35, 40, 33, 61, 37, 126, 62, 124] // _ , # ( ! = % ~ > |

    struct Fault: Error, CustomStringConvertible {
        let offset: Int
        let why: String
        var description: String { "\(why) at byte \(offset)" }
    }

    /// The end of the line starting at `at` (the index of its CR).
    func lineEnd(_ at: Int) throws(Fault) -> Int {
        var i = at
        while i < bytes.count {
            let c = bytes[i]
            if c == 13 {
                guard i + 1 < bytes.count, bytes[i + 1] == 10 else { throw Fault(offset: i, why: "CR without LF") }
                return i
            }
            if c == 10 { throw Fault(offset: i, why: "LF inside a line") }
            i += 1
        }
        throw Fault(offset: at, why: "unterminated line")
    }

    func integer(_ from: Int, _ to: Int) throws(Fault) -> Int {
        var s = Substring(String(decoding: UnsafeBufferPointer(rebasing: bytes[from..<to]), as: UTF8.self))
        if s.first == "+" { s = s.dropFirst() }
        guard let v = Int(s) else { throw Fault(offset: from, why: "'\(s.prefix(40))' is not an integer") }
        return v
    }

    /// Checks one value starting at `at`; returns where the next one starts.
    func value(_ at: Int, depth: Int) throws(Fault) -> Int {
        guard depth < 64 else { throw Fault(offset: at, why: "nested more than 64 levels") }
        let type = bytes[at]
        let end = try lineEnd(at + 1)
        let next = end + 2
        if !resp3 && ReplyCheck.resp3Only.contains(type) {
            throw Fault(offset: at, why: "RESP3 type '\(Character(Unicode.Scalar(type)))' on a RESP2 connection")
        }
        switch type {
        case 43, 45: // + -
            return next
        case 58: // :
            _ = try integer(at + 1, end)
            return next
        case 95: // _
            guard end == at + 1 else { throw Fault(offset: at, why: "null with content") }
            return next
        case 44, 40: // , (
            guard end > at + 1 else { throw Fault(offset: at, why: "empty number") }
            return next
        case 35: // #
            guard end == at + 2, bytes[at + 1] == 116 || bytes[at + 1] == 102 else { throw Fault(offset: at, why: "bad boolean") }
            return next
        case 36, 33, 61: // $ ! =
            let n = try integer(at + 1, end)
            if n == -1 && type == 36 { return next }
            guard n >= 0, n <= bytes.count - next - 2 else { throw Fault(offset: at, why: "bulk of \(n) bytes with \(bytes.count - next) left") }
            guard bytes[next + n] == 13, bytes[next + n + 1] == 10 else { throw Fault(offset: next + n, why: "bulk of \(n) bytes not followed by CRLF") }
            return next + n + 2
        case 42, 37, 126, 62, 124: // * % ~ > |
            let n = try integer(at + 1, end)
            if n == -1 && type == 42 { return next }
            guard n >= 0 else { throw Fault(offset: at, why: "aggregate of \(n) elements") }
            let elements = type == 37 || type == 124 ? 2 * n : n
            var i = next
            for _ in 0..<elements {
                guard i < bytes.count else { throw Fault(offset: at, why: "aggregate announces \(n) elements, has fewer") }
                i = try value(i, depth: depth + 1)
            }
            // An attribute describes the value that follows it.
            if type == 124 {
                guard i < bytes.count else { throw Fault(offset: at, why: "attribute without a value") }
                return try value(i, depth: depth + 1)
            }
            return i
        default:
            throw Fault(offset: at, why: "unknown type byte \(type)")
        }
    }
}
