import RESP
import Store

/// Every command TagCache offers, found by case-insensitive name without allocating.
// @unchecked Sendable: filled by standard() before any loop runs, read-only afterwards.
public final class CommandTable: @unchecked Sendable {
    public private(set) var commands: [CommandSpec] = []
    /// All specs including subcommands, indexed by id (for the per-loop counters).
    public private(set) var allSpecs: [CommandSpec] = []
    private var buckets: [Int] = Array(repeating: -1, count: 1024)

    public init(groups: [[CommandSpec]]) {
        for g in groups { for c in g { register(c) } }
    }

    /// The standard table: every command group.
    public static func standard() -> CommandTable {
        CommandTable(groups: [StringCommands.all, KeyCommands.all, ConnectionCommands.all,
                              ServerCommands.all, CommandCommands.all, TransactionCommands.all, HashCommands.all,
                              SetCommands.all, ListCommands.all, ObjectCommands.all, BlockingCommands.all,
                              TagCommands.all, SlowlogCommands.all, DebugCommands.all, ScriptCommands.all, FunctionCommands.all])
    }

    func register(_ c: CommandSpec) {
        c.id = allSpecs.count
        allSpecs.append(c)
        for s in c.subcommands {
            s.id = allSpecs.count
            allSpecs.append(s)
        }
        let idx = commands.count
        commands.append(c)
        var b = Int(nameHash(c.nameBytes.withUnsafeBufferPointer { $0 })) & (buckets.count - 1)
        while buckets[b] >= 0 { b = (b + 1) & (buckets.count - 1) }
        buckets[b] = idx
    }

    @inline(__always)
    func nameHash(_ n: Bytes) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for c in n {
            let l = c >= 65 && c <= 90 ? c | 0x20 : c
            h = (h ^ UInt32(l)) &* 16_777_619
        }
        return h
    }

    /// The command named by n (any case), or nil.
    @inline(__always)
    public func lookup(_ n: Bytes) -> CommandSpec? {
        if n.count == 0 || n.count > 32 { return nil }
        var b = Int(nameHash(n)) & (buckets.count - 1)
        while true {
            let i = buckets[b]
            if i < 0 { return nil }
            let c = commands[i]
            if c.nameBytes.count == n.count {
                var eq = true
                c.nameBytes.withUnsafeBufferPointer { nb in
                    for k in 0..<n.count {
                        let x = n[k]
                        if (x >= 65 && x <= 90 ? x | 0x20 : x) != nb[k] { eq = false; break }
                    }
                }
                if eq { return c }
            }
            b = (b + 1) & (buckets.count - 1)
        }
    }

    /// Looks up a command by lower-case name (slow path: COMMAND INFO, tests).
    public func lookup(name: String) -> CommandSpec? {
        var s = name
        return s.withUTF8 { lookup($0) }
    }
}
