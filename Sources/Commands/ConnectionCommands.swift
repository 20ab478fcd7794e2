import RESP
import Store

public enum ConnectionCommands {
    public static let all: [CommandSpec] = []
}
