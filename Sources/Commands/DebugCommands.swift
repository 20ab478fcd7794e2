import Glibc
import RESP
import Store

/// DEBUG, for tests: refused unless `enable-debug-command` is yes (or local, from a local
/// connection), as in Redis. `DEBUG JUMP <ms>` is TagCache's test clock: it moves the server's
/// clock forward so TTLs, expiry and tag lifetimes behave as if that much time had passed,
/// letting test suites in any language stop sleeping.
public enum DebugCommands {
    public static let all: [CommandSpec] = [
        CommandSpec(.debug, debug),
    ]

    static let help = [
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "JUMP <milliseconds>",
        "    Move the server clock forward (TagCache's test clock): keys expire as if the time had passed.",
        "OBJECT <key>",
        "    Show low-level info about the key and associated value.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background when they are not accessed.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.",
        "HELP",
        "    Print this help.",
    ]

    static func allowed(_ ctx: CommandContext) -> Bool {
        switch ctx.server.debugCommandMode {
        case "yes": return true
        case "local":
            let a = ctx.client.address
            return a.hasPrefix("127.") || a.hasPrefix("[::1]") || a.isEmpty
        default: return false
        }
    }

    static func debug(_ ctx: CommandContext, _ args: Arguments) {
        if !allowed(ctx) {
            ctx.reply.error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
            return
        }
        let sub = args[1]
        if sub.equalsIgnoringCase("help") && args.count == 2 {
            ctx.reply.array(help.count)
            for line in help { ctx.reply.simple(string: line) }
        } else if sub.equalsIgnoringCase("jump") && args.count == 3 {
            guard let ms = args[2].redisInteger, ms >= 0 else {
                ctx.reply.error("ERR milliseconds must be a non-negative integer")
                return
            }
            let clock = ctx.keyspace.clock
            if !clock.advance(Int64(ms)) {
                ctx.reply.error("ERR DEBUG JUMP would move the clock past 9999-12-31 (at most \(max(0, Clock.latestMs - clock.nowMs())) ms ahead)")
                return
            }
            ctx.now = clock.nowMs()
            ctx.reply.ok()
        } else if sub.equalsIgnoringCase("sleep") && args.count == 3 {
            let seconds = args[2].redisDouble ?? 0
            if seconds > 0 { usleep(UInt32(min(seconds, 3600) * 1_000_000)) }
            ctx.reply.ok()
        } else if sub.equalsIgnoringCase("set-active-expire") && args.count == 3 {
            ctx.keyspace.activeExpireEnabled = (args[2].redisInteger ?? 0) != 0
            ctx.reply.ok()
        } else if sub.equalsIgnoringCase("object") && args.count == 3 {
            object(ctx, args[2])
        } else {
            ctx.reply.error("ERR unknown subcommand or wrong number of arguments for '\(sub.string)'. Try DEBUG HELP.")
        }
    }

    static func object(_ ctx: CommandContext, _ key: Bytes) {
        ctx.withKey(key) { k in
            let slot = k.find()
            if slot < 0 {
                ctx.reply.error("ERR no such key")
                return
            }
            let e = k.entry(slot)
            let address = String(UInt(bitPattern: e.raw), radix: 16)
            let encoding: String
            switch e.kind {
            case .string:
                encoding = e.value.redisInteger != nil && e.valueLength <= 20 ? "int" : (e.valueLength <= 44 ? "embstr" : "raw")
            default:
                encoding = e.kind.typeName.description
            }
            ctx.reply.simple(string: "Value at:0x\(address) refcount:1 encoding:\(encoding) serializedlength:\(e.valueLength) lru:0 lru_seconds_idle:0")
        }
    }
}
