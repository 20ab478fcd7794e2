import RESP
import Store

public enum KeyCommands {
    public static let all: [CommandSpec] = []
}
