import RESP
import Store

/// OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ / HELP (Redis's object.c). TagCache keeps its
/// own representations, so ENCODING names what Redis 7.0 would use for the same data under the
/// same thresholds; REFCOUNT reports Redis's shared small integers.
public enum ObjectCommands {

    public static let all: [CommandSpec] = [
        CommandSpec(.object, subcommands: [
                CommandSpec(.objectEncoding, encoding),
                CommandSpec(.objectFreq, freq),
                CommandSpec(.objectHelp, help),
                CommandSpec(.objectIdletime, idletime),
                CommandSpec(.objectRefcount, refcount),
            ]),
    ]

    /// Redis shares the string objects of the integers 0..<10000 (OBJ_SHARED_INTEGERS).
    static let sharedIntegers = 10000
    /// REFCOUNT of a shared object (OBJ_SHARED_REFCOUNT).
    static let sharedRefcount = 2_147_483_647
    /// Strings up to this many bytes are embstr (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
    static let embstrLimit = 44

    /// What Redis would know about the value at key: its encoding and, for a string that is a
    /// small integer, that it is shared. nil when the key is missing (the reply is then null).
    struct Facts {
        var encoding: StaticString
        var integer: Int?
        /// Milliseconds since the last access (the access clock) and the LFU counter; each
        /// means something only under the matching kind of policy.
        var idleMs: Int64 = 0
        var frequency = 0
    }

    /// Looks the key up as Redis's objectCommandLookup does (hits and misses counted, the
    /// access record left alone).
    static func facts(_ ctx: CommandContext, _ key: Bytes) -> Facts? {
        ctx.withKey(key) { k -> Facts? in
            let slot = k.findForRead(touch: false)
            if slot < 0 { return nil }
            let e = k.entry(slot)
            var f: Facts
            switch e.kind {
            case .string:
                let v = e.value
                // tryObjectEncoding: integers of up to 20 characters, then embstr by length.
                if let n = v.redisInteger {
                    f = Facts(encoding: "int", integer: n)
                } else {
                    f = Facts(encoding: v.count <= embstrLimit ? "embstr" : "raw", integer: nil)
                }
            case .hash:
                f = Facts(encoding: (e.object as? HashValue)?.encodingName ?? "hashtable", integer: nil)
            case .set:
                f = Facts(encoding: (e.object as? SetValue)?.encodingName ?? "hashtable", integer: nil)
            case .list:
                f = Facts(encoding: (e.object as? ListValue)?.encodingName ?? "quicklist", integer: nil)
            }
            f.idleMs = AccessClock.idleMs(e.accessClock, now: k.now)
            f.frequency = k.shard.frequency(e, now: k.now)
            return f
        }
    }

    static func encoding(_ ctx: CommandContext, _ args: Arguments) {
        guard let f = facts(ctx, args[2]) else {
            ctx.reply.null()
            return
        }
        ctx.reply.bulk(UnsafeRawPointer(f.encoding.utf8Start), count: f.encoding.utf8CodeUnitCount)
    }

    static func refcount(_ ctx: CommandContext, _ args: Arguments) {
        guard let f = facts(ctx, args[2]) else {
            ctx.reply.null()
            return
        }
        if let n = f.integer, n >= 0, n < sharedIntegers, integersShared(ctx) {
            ctx.reply.integer(sharedRefcount)
        } else {
            ctx.reply.integer(1)
        }
    }

    /// Redis stops sharing integers when maxmemory is set with an LRU or LFU policy (each key
    /// then needs its own access clock).
    static func integersShared(_ ctx: CommandContext) -> Bool {
        let policy = ctx.keyspace.evictionPolicy
        return ctx.keyspace.maxmemory.load(ordering: .relaxed) == 0
            || !(policy == .allkeysLRU || policy == .volatileLRU || policy.accessMode == .lfu)
    }

    static func lfuSelected(_ ctx: CommandContext) -> Bool { ctx.keyspace.evictionPolicy.accessMode == .lfu }

    /// Seconds since the key was last read or written (the access clock, 1,024 ms units;
    /// moves with DEBUG JUMP like every other use of time).
    static func idletime(_ ctx: CommandContext, _ args: Arguments) {
        guard let f = facts(ctx, args[2]) else {
            ctx.reply.null()
            return
        }
        if lfuSelected(ctx) {
            ctx.reply.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
            return
        }
        ctx.reply.integer(Int(f.idleMs / 1000))
    }

    static func freq(_ ctx: CommandContext, _ args: Arguments) {
        guard let f = facts(ctx, args[2]) else {
            ctx.reply.null()
            return
        }
        if !lfuSelected(ctx) {
            ctx.reply.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
            return
        }
        ctx.reply.integer(f.frequency)
    }

    static let helpLines = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ]

    static func help(_ ctx: CommandContext, _ args: Arguments) { ConnectionCommands.help(ctx, helpLines) }
}
