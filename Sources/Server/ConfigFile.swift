import Glibc
import RESP

/// Reads `tagcache-server [file.conf] [--directive value ...]` the way redis-server does:
/// the file first, then the command line, each directive checked as it is read.
public enum ConfigFile {
    public struct LoadError: Error, CustomStringConvertible {
        public let line: Int?
        public let text: String
        public let reason: String
        public var description: String {
            var s = "\n*** FATAL CONFIG FILE ERROR (TagCache \(TagCacheVersion.version)) ***\n"
            if let l = line { s += "Reading the configuration file, at line \(l)\n" }
            s += ">>> '\(text)'\n\(reason)\n"
            return s
        }
    }

    /// Applies argv (without the program name) to config.
    public static func load(arguments: [String], into config: Config) throws {
        var args = arguments
        var text = ""
        if let first = args.first, !first.hasPrefix("--") {
            args.removeFirst()
            guard let f = fopen(first, "r") else {
                throw LoadError(line: nil, text: first, reason: "Fatal error, can't open config file '\(first)': \(String(cString: strerror(errno)))")
            }
            defer { fclose(f) }
            var buf = [CChar](repeating: 0, count: 65536)
            while fgets(&buf, Int32(buf.count), f) != nil {
                text += String(cString: buf)
            }
            try apply(text, into: config, fromFile: true)
        }
        // Command-line: "--name v1 v2 --other v" becomes "name v1 v2\nother v\n".
        var lines: [[String]] = []
        for a in args {
            if a.hasPrefix("--") && a.count > 2 {
                lines.append([String(a.dropFirst(2))])
            } else if lines.isEmpty {
                throw LoadError(line: nil, text: a, reason: "Invalid argument: expected --directive value")
            } else {
                lines[lines.count - 1].append(a)
            }
        }
        for words in lines {
            try applyDirective(words, line: nil, text: words.joined(separator: " "), into: config)
        }
    }

    /// Applies the text of a configuration file.
    public static func apply(_ text: String, into config: Config, fromFile: Bool) throws {
        var lineNo = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            let line = raw.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let words = splitConfigLine(line) else {
                throw LoadError(line: lineNo, text: line, reason: "Unbalanced quotes in configuration line")
            }
            if words.isEmpty { continue }
            try applyDirective(words, line: lineNo, text: line, into: config)
        }
    }

    static func applyDirective(_ words: [String], line: Int?, text: String, into config: Config) throws {
        let name = words[0].lowercased()
        guard let d = Config.directive(name) else {
            throw LoadError(line: line, text: text, reason: "Bad directive or wrong number of arguments")
        }
        let value: String
        switch d.kind {
        case .words:
            value = words.dropFirst().joined(separator: " ")
        default:
            guard words.count == 2 else {
                throw LoadError(line: line, text: text, reason: "wrong number of arguments")
            }
            value = words[1]
        }
        if case let .failure(.message(m)) = config.set(d.name, value, atStartup: true) {
            throw LoadError(line: line, text: text, reason: "\(m) for '\(d.name)'")
        }
    }

    /// Splits a configuration line like sdssplitargs (quotes and escapes), nil on bad quotes.
    static func splitConfigLine(_ line: String) -> [String]? {
        let parser = RequestParser(limits: ProtocolLimits(maxInlineLength: Int.max))
        let buf = ByteBuffer()
        buf.append(string: line + "\n")
        switch parser.next(buf) {
        case let .command(args):
            return (0..<args.count).map { args[$0].string }
        case .needMore:
            return []
        case .protocolError:
            return nil
        }
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }
}

/// TagCache's own version and the Redis version it reports to clients (which gate features on it).
public enum TagCacheVersion {
    public static let version = "0.1.0"
    public static let redisVersion = "7.2.4"
}
