import RESP
import Store

public enum ServerCommands {
    public static let all: [CommandSpec] = []
}
