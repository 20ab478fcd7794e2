import RESP
import Store

/// One key specification of COMMAND INFO: where a command's keys start, how to find the rest,
/// and what the command does with them. COMMAND GETKEYS finds keys through these, as Redis's
/// getKeysUsingKeySpecs does.
public struct KeySpec: Sendable {
    public enum Begin: Sendable { case index(Int), keyword(String, startFrom: Int), unknown }
    public enum Find: Sendable {
        case range(lastKey: Int, keyStep: Int, limit: Int), keyNum(index: Int, firstKey: Int, keyStep: Int), unknown
    }

    /// What a command does with the keys a spec finds, in the order COMMAND INFO lists them.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let ro = Flags(rawValue: 1 << 0)
        public static let rw = Flags(rawValue: 1 << 1)
        public static let ow = Flags(rawValue: 1 << 2)
        public static let rm = Flags(rawValue: 1 << 3)
        public static let access = Flags(rawValue: 1 << 4)
        public static let update = Flags(rawValue: 1 << 5)
        public static let insert = Flags(rawValue: 1 << 6)
        public static let delete = Flags(rawValue: 1 << 7)
        public static let notKey = Flags(rawValue: 1 << 8)
        public static let incomplete = Flags(rawValue: 1 << 9)
        public static let variableFlags = Flags(rawValue: 1 << 10)
        public static let names = ["RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
                                   "incomplete", "variable_flags"]
    }

    public let flags: Flags
    public let begin: Begin
    public let find: Find
    public let notes: String?

    public init(_ flags: Flags, _ begin: Begin, _ find: Find, notes: String? = nil) {
        self.flags = flags
        self.begin = begin
        self.find = find
        self.notes = notes
    }

    /// Whether keys(...) finds every key this spec stands for (not `incomplete`, nothing unknown).
    var findsEveryKey: Bool {
        if flags.contains(.incomplete) { return false }
        if case .unknown = begin { return false }
        if case .unknown = find { return false }
        return true
    }

    /// The positions (in a request of argc arguments) of the keys, with their flags, as Redis's
    /// getKeysUsingKeySpecs finds them; nil when the request does not fit the specs.
    static func keys(_ specs: [KeySpec], argc: Int, _ arg: (Int) -> Bytes) -> [(Int, Flags)]? {
        var out: [(Int, Flags)] = []
        for s in specs {
            var first: Int
            switch s.begin {
            case let .index(i): first = i
            case let .keyword(word, from):
                let lower = word.lowercased()
                var found = 0
                let indexes: [Int] = from >= 0 ? Array(stride(from: from, to: argc, by: 1))
                                               : Array(stride(from: argc + from, through: 1, by: -1))
                for i in indexes where i > 0 && i < argc && !word.isEmpty && arg(i).count == word.utf8.count
                    && arg(i).lowercasedString == lower {
                    found = i
                    break
                }
                if found == 0 { continue }
                first = found + 1
            case .unknown: continue
            }
            if first >= argc { continue }
            var last: Int, step: Int
            switch s.find {
            case let .range(lastKey, keyStep, limit):
                step = keyStep
                if lastKey >= 0 {
                    last = first + lastKey
                } else if limit <= 1 {
                    last = argc + lastKey
                } else {
                    last = first + ((argc - first) / limit + lastKey)
                }
            case let .keyNum(index, firstKey, keyStep):
                guard first + index < argc, let n = arg(first + index).redisInteger, n >= 0 else { return nil }
                step = keyStep
                first += firstKey
                // Redis's getKeysUsingKeySpecs: `last = first + (int)numkeys - 1`, the count
                // truncated to a C int and the step applied only while walking.
                last = first + Int(Int32(truncatingIfNeeded: n)) - 1
            case .unknown: continue
            }
            if last < first { continue }
            if last >= argc { return nil }
            for i in stride(from: first, through: last, by: max(step, 1)) { out.append((i, s.flags)) }
        }
        return out
    }

    /// [notes], flags, begin_search, find_keys, as COMMAND INFO shows a spec.
    func write(_ r: ReplyWriter) {
        r.map(notes == nil ? 3 : 4)
        if let n = notes { r.bulk(string: "notes"); r.bulk(string: n) }
        r.bulk(string: "flags")
        r.simpleSet(flags.names(Flags.names))
        r.bulk(string: "begin_search")
        r.map(2)
        r.bulk(string: "type")
        switch begin {
        case let .index(i):
            r.bulk(string: "index"); r.bulk(string: "spec"); r.map(1)
            r.bulk(string: "index"); r.integer(i)
        case let .keyword(word, from):
            r.bulk(string: "keyword"); r.bulk(string: "spec"); r.map(2)
            r.bulk(string: "keyword"); r.bulk(string: word)
            r.bulk(string: "startfrom"); r.integer(from)
        case .unknown:
            r.bulk(string: "unknown"); r.bulk(string: "spec"); r.map(0)
        }
        r.bulk(string: "find_keys")
        r.map(2)
        r.bulk(string: "type")
        switch find {
        case let .range(last, step, limit):
            r.bulk(string: "range"); r.bulk(string: "spec"); r.map(3)
            r.bulk(string: "lastkey"); r.integer(last)
            r.bulk(string: "keystep"); r.integer(step)
            r.bulk(string: "limit"); r.integer(limit)
        case let .keyNum(index, first, step):
            r.bulk(string: "keynum"); r.bulk(string: "spec"); r.map(3)
            r.bulk(string: "keynumidx"); r.integer(index)
            r.bulk(string: "firstkey"); r.integer(first)
            r.bulk(string: "keystep"); r.integer(step)
        case .unknown:
            r.bulk(string: "unknown"); r.bulk(string: "spec"); r.map(0)
        }
    }
}

extension ReplyWriter {
    /// A set of simple strings (flag names): RESP3 `~`, RESP2 an array.
    func simpleSet(_ names: [String]) {
        set(names.count)
        for n in names { simple(string: n) }
    }
}
