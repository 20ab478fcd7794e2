import RESP
import Store

/// MULTI, EXEC, DISCARD, WATCH, UNWATCH.
public enum TransactionCommands {
    /// Commands that run at once inside MULTI instead of being queued.
    static func runsInsideMulti(_ spec: CommandSpec) -> Bool {
        let n = spec.parent?.name ?? spec.name
        return n == "exec" || n == "discard" || n == "multi" || n == "watch" || n == "quit" || n == "reset"
            || n == "unwatch"
    }

    public static let all: [CommandSpec] = []
}
