import CaseFiles
import Commands
import Server

/// How the command fuzz target reads an input: a program of steps, each
///
///     client  selector (2 bytes, little-endian)  count  argument...
///
/// - client: the connection (of three) that sends it, byte % 3.
/// - selector % (specs + 2): a command of the table, subcommands included (the request starts
///   with its name words); or `specs`: the name is the first argument, whatever it is (unknown
///   commands, other spellings); or `specs + 1`: a cron tick instead of a command.
/// - count: below 0x80, the command's fewest arguments plus count % 4 (mostly a right arity);
///   from 0x80, exactly count & 0x3F arguments.
/// - each argument starts with a kind byte k, whose k % 8 is
///   0 literal: a length byte, then that many bytes;
///   1 key: one of `keys`, k >> 3 choosing it (no more bytes);
///   2 number: a byte choosing one of `numbers` (boundaries, floats, inf, nan, empty...);
///   3 token: 2 bytes choosing one of `tokens` (options, type and section names, directives,
///     command names);
///   4 small integer: a signed byte, in decimal;
///   5 integer: 8 bytes, little-endian, in decimal;
///   6 float: 8 bytes, a Double's bits, as Swift writes it (inf, -inf, nan, 1e+16...);
///   7 big: a fill byte and a 16-bit n: n bytes of it (at most `bigBudget` per input).
/// Past its end an input reads as zeros; a step whose header is cut off is not run.
struct CommandProgram {
    enum Step {
        case command(client: Int, args: [[UInt8]])
        case tick
    }

    static let keys: [[UInt8]] = ["a", "b", "c", "d"].map { Array($0.utf8) }

    static let numbers: [[UInt8]] = [
        "0", "1", "-1", "2", "-2", "3", "5", "10", "-10", "16", "100", "127", "128", "-128", "255", "256",
        "512", "1000", "1024", "65535", "65536", "1048576", "536870911", "536870912", "1000000000",
        "2147483647", "-2147483647", "2147483648", "-2147483648", "2147483649", "-2147483649",
        "4294967295", "4294967296", "-4294967296", "4294967297",
        "4611686018427387903", "-4611686018427387903", "4611686018427387904", "-4611686018427387904",
        "9007199254740992", "9007199254740993", "1700000000000", "32503680000", "32503680000000",
        "9223372036854775806", "9223372036854775807", "-9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
        "99999999999999999999999", "1e16", "-1e16", "1e19", "-1e19", "1e308", "-1e308", "1e309", "1e-308",
        "4.9e-324", "1.7976931348623157e308", "0.0", "-0", "-0.0", "0.5", "-0.5", "1.5", "-1.5", "0.001",
        "3.14159", "1e", "e1", ".5", "5.", "+1", "+0", "00", "01", "-01", "0x10", " 1", "1 ", "1\u{0}",
        "inf", "-inf", "+inf", "INF", "infinity", "-infinity", "nan", "-nan", "NaN", "",
    ].map { Array($0.utf8) }

    static let tokens: [[UInt8]] = ([
        "NX", "XX", "GT", "LT", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "PERSIST", "GET", "CH", "INCR",
        "WITHSCORES", "WITHVALUES", "NOVALUES", "LIMIT", "COUNT", "MATCH", "TYPE", "LEFT", "RIGHT",
        "BEFORE", "AFTER", "RANK", "MAXLEN", "IDLETIME", "FREQ", "REPLACE", "DB", "ASYNC", "SYNC", "NOSAVE",
        "SAVE", "NOW", "FORCE", "ABORT", "TAGS", "AUTH", "SETNAME", "ID", "ADDR", "LADDR", "SKIPME", "USER",
        "MAXAGE", "LIB-NAME", "LIB-VER", "ON", "OFF", "YES", "NO", "HELP", "JUMP", "SLEEP", "OBJECT",
        "SET-ACTIVE-EXPIRE", "FILTERBY", "MODULE", "ACLCAT", "PATTERN", "SCHEDULE", "default",
        "string", "list", "set", "hash", "zset", "stream", "none", "normal", "master", "replica", "slave",
        "pubsub", "all", "everything", "server", "clients", "memory", "stats", "keyspace", "commandstats",
        "errorstats", "latencystats", "cpu", "persistence", "replication", "keyprefixes", "tags",
        "noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu", "allkeys-random",
        "volatile-random", "volatile-ttl", "debug", "verbose", "notice", "warning", "nothing", "local",
        "*", "?", "[", "*max*", "\\", "1k", "1kb", "1mb", "1gb", "100%", "-1%", "1 2", "900 1 300 10",
    ] + Config.allNames + CommandTable.standard().commands.map(\.name)).map { Array($0.utf8) }

    /// The most bytes big arguments may add up to in one input: what the store holds stays
    /// small, and so does the time commands spend reading them (globs, conversions).
    static let bigBudget = 256 << 10

    let specs: [CommandSpec]
    var input: FuzzInput
    var bigLeft = CommandProgram.bigBudget
    /// Where each step and its arguments lie in the input, when asked for (the mutator's map).
    var recordsLayout = false
    private(set) var layout: [(step: Range<Int>, arguments: [Range<Int>])] = []

    init(_ data: UnsafeRawBufferPointer, specs: [CommandSpec]) {
        self.specs = specs
        input = FuzzInput(data)
    }

    /// The name words of a spec: "get", or "config" "set".
    static func words(_ spec: CommandSpec) -> [[UInt8]] {
        spec.parent.map { [$0.nameBytes, spec.nameBytes] } ?? [spec.nameBytes]
    }

    mutating func next() -> Step? {
        guard input.remaining >= 4 else { return nil }
        let start = input.position
        var ranges: [Range<Int>] = []
        defer { if recordsLayout { layout.append((start..<input.position, ranges)) } }
        let client = Int(input.byte() % 3)
        let selector = Int(input.uint16()) % (specs.count + 2)
        let count = input.byte()
        if selector == specs.count + 1 { return .tick }
        var args: [[UInt8]] = []
        var n: Int
        if selector < specs.count {
            let spec = specs[selector]
            args = Self.words(spec)
            n = max(0, abs(spec.arity) - args.count)
        } else {
            n = 1
        }
        n = count < 0x80 ? n + Int(count % 4) : Int(count & 0x3F)
        for _ in 0..<n {
            let from = input.position
            args.append(argument())
            if recordsLayout { ranges.append(from..<input.position) }
        }
        if args.isEmpty { args = [[]] }
        return .command(client: client, args: args)
    }

    mutating func argument() -> [UInt8] {
        let kind = input.byte()
        switch kind % 8 {
        case 0: return input.take(Int(input.byte()))
        case 1: return Self.keys[Int(kind >> 3) % Self.keys.count]
        case 2: return Self.numbers[Int(input.byte()) % Self.numbers.count]
        case 3: return Self.tokens[Int(input.uint16()) % Self.tokens.count]
        case 4: return Array(String(Int8(bitPattern: input.byte())).utf8)
        case 5: return Array(String(Int64(bitPattern: input.uint64())).utf8)
        case 6: return Array(String(Double(bitPattern: input.uint64())).utf8)
        default:
            let fill = input.byte()
            let n = min(Int(input.uint16()), bigLeft)
            bigLeft -= n
            return [UInt8](repeating: fill, count: n)
        }
    }

    // MARK: seeds

    /// Encodes case lines as a program (each runs on its case's connection).
    static func encode(_ cases: ArraySlice<CaseLine>, table: CommandTable) -> [UInt8] {
        var out: [UInt8] = []
        for c in cases {
            var args = c.args
            var selector = table.allSpecs.count
            if let spec = table.lookup(name: String(decoding: args[0], as: UTF8.self).lowercased()) {
                selector = spec.id
                args.removeFirst()
                if !spec.subcommands.isEmpty, let first = args.first,
                   let sub = first.withUnsafeBufferPointer({ spec.subcommand($0) }) {
                    selector = sub.id
                    args.removeFirst()
                }
            }
            args = Array(args.prefix(0x3F))
            out += [UInt8(c.connection), UInt8(selector & 0xFF), UInt8(selector >> 8), 0x80 | UInt8(args.count)]
            for a in args { out += encode(argument: a) }
        }
        return out
    }

    static func encode(argument a: [UInt8]) -> [UInt8] {
        if let i = keys.firstIndex(of: a) { return [UInt8(1 + 8 * i)] }
        if let i = numbers.firstIndex(of: a) { return [2, UInt8(i)] }
        if let i = tokens.firstIndex(of: a) { return [3, UInt8(i & 0xFF), UInt8(i >> 8)] }
        if a.count > 255, let f = a.first, a.allSatisfy({ $0 == f }) {
            let n = min(a.count, 0xFFFF)
            return [7, f, UInt8(n & 0xFF), UInt8(n >> 8)]
        }
        let b = a.prefix(255)
        return [0, UInt8(b.count)] + b
    }
}
