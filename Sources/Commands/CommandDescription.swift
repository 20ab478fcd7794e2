import RESP
import Store

/// COMMAND INFO and COMMAND DOCS entries of one table row, in Redis 7's layout.
enum CommandDescription {
    /// Redis's ACL categories in the order it lists them.
    static let categoryOrder = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
                                "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
                                "dangerous", "connection", "transaction", "scripting"]

    /// Flag names in Redis's order (may_replicate and the sentinel flags are hidden, as there).
    static let flagOrder: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyoom, "denyoom"), (.admin, "admin"), (.pubsub, "pubsub"),
        (.noscript, "noscript"), (.blocking, "blocking"), (.loading, "loading"), (.stale, "stale"),
        (.skipMonitor, "skip_monitor"), (.skipSlowlog, "skip_slowlog"), (.fast, "fast"), (.noAuth, "no_auth"),
        (.noMandatoryKeys, "no_mandatory_keys"), (.noAsyncLoading, "no_async_loading"), (.noMulti, "no_multi"),
    ]

    /// The table's categories plus those Redis derives from the flags (setImplicitACLCategories).
    static func categories(_ c: CommandSpec) -> [String] {
        var set = Set(c.categories.map { $0.hasPrefix("@") ? String($0.dropFirst()).lowercased() : $0.lowercased() })
        if c.flags.contains(.write) { set.insert("write") }
        if c.flags.contains(.readonly) && !set.contains("scripting") { set.insert("read") }
        if c.flags.contains(.admin) { set.insert("admin"); set.insert("dangerous") }
        if c.flags.contains(.pubsub) { set.insert("pubsub") }
        if c.flags.contains(.fast) { set.insert("fast") }
        if c.flags.contains(.blocking) { set.insert("blocking") }
        if !set.contains("fast") { set.insert("slow") }
        var out = categoryOrder.filter { set.contains($0) }
        out += set.subtracting(categoryOrder).sorted() // TagCache's own categories, if any
        return out
    }

    static func flags(_ c: CommandSpec, _ specs: [KeySpec]) -> [String] {
        var names = flagOrder.filter { c.flags.contains($0.0) }.map { $0.1 }
        let movable = specs.contains {
            if case .index = $0.begin, case .range = $0.find { return false }
            return true
        }
        if movable {
            let at = names.firstIndex(of: "no_multi").map { $0 + 1 } ?? names.count
            names.insert("movablekeys", at: at)
        }
        if c.flags.contains(.allowBusy) { names.append("allow_busy") }
        return names
    }

    private static let parsedRedisKeySpecs: [String: [KeySpec]] = KeySpec.redisKeySpecs.mapValues {
        $0.split(separator: ";").compactMap { KeySpec($0) }
    }

    /// Redis's key specs when it has the command; otherwise derived from first/last/step.
    static func keySpecs(_ c: CommandSpec) -> [KeySpec] {
        if let s = parsedRedisKeySpecs[c.fullName] { return s }
        if c.firstKey <= 0 { return [] }
        let flags = c.flags.contains(.readonly) ? ["RO", "access"] : c.flags.contains(.write) ? ["RW", "update"] : ["RW"]
        let last = c.lastKey < 0 ? c.lastKey : c.lastKey - c.firstKey
        return [KeySpec(flags: flags, begin: .index(c.firstKey), find: .range(lastKey: last, keyStep: max(c.keyStep, 1), limit: 0))]
    }

    /// The positions (in a request of argc arguments) of the keys, with their flags, as Redis's
    /// getKeysUsingKeySpecs finds them; nil when the request does not fit the specs.
    static func keys(_ specs: [KeySpec], argc: Int, _ arg: (Int) -> Bytes) -> [(Int, [String])]? {
        var out: [(Int, [String])] = []
        for s in specs {
            var first: Int
            switch s.begin {
            case let .index(i): first = i
            case let .keyword(word, from):
                let w = Array(word.utf8)
                var found = 0
                let indexes: [Int] = from >= 0 ? Array(stride(from: from, to: argc, by: 1))
                                               : Array(stride(from: argc + from, through: 1, by: -1))
                for i in indexes where i > 0 && i < argc {
                    let a = arg(i)
                    if a.count == w.count && a.lowercasedString == word.lowercased() && !w.isEmpty { found = i; break }
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

    /// [name, arity, [flags], first, last, step, [@categories], [tips], [key specs], [subcommands]]
    static func info(_ c: CommandSpec, _ r: ReplyWriter) {
        let specs = keySpecs(c)
        r.array(10)
        r.bulk(string: c.fullName)
        r.integer(c.arity)
        let flags = flags(c, specs)
        r.set(flags.count)
        for f in flags { r.simple(string: f) }
        r.integer(c.firstKey)
        r.integer(c.lastKey)
        r.integer(c.keyStep)
        let cats = categories(c)
        r.set(cats.count)
        for cat in cats { r.simple(string: "@" + cat) }
        let tips = CommandTips.redisTips[c.fullName] ?? []
        r.set(tips.count)
        for t in tips { r.bulk(string: t) }
        r.set(specs.count)
        for s in specs { keySpec(s, r) }
        // Redis answers an empty set when there are no subcommands, an array otherwise.
        if c.subcommands.isEmpty { r.set(0) } else { r.array(c.subcommands.count) }
        for s in c.subcommands { info(s, r) }
    }

    static func keySpec(_ s: KeySpec, _ r: ReplyWriter) {
        r.map(s.notes == nil ? 3 : 4)
        if let n = s.notes { r.bulk(string: "notes"); r.bulk(string: n) }
        r.bulk(string: "flags")
        r.set(s.flags.count)
        for f in s.flags { r.simple(string: f) }
        r.bulk(string: "begin_search")
        r.map(2)
        r.bulk(string: "type")
        switch s.begin {
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
        switch s.find {
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

    /// summary, since, group, complexity and, for containers, the subcommands' docs.
    static func docs(_ c: CommandSpec, _ r: ReplyWriter) {
        r.map(c.subcommands.isEmpty ? 4 : 5)
        r.bulk(string: "summary"); r.bulk(string: c.summary)
        r.bulk(string: "since"); r.bulk(string: c.since)
        r.bulk(string: "group"); r.bulk(string: c.group)
        r.bulk(string: "complexity"); r.bulk(string: c.complexity)
        if !c.subcommands.isEmpty {
            r.bulk(string: "subcommands")
            r.map(c.subcommands.count)
            for s in c.subcommands {
                r.bulk(string: s.fullName)
                docs(s, r)
            }
        }
    }
}
