import RESP
import Store

public enum StringCommands {
    public static let all: [CommandSpec] = []
}
