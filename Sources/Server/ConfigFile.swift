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
            text = readAll(f)
            try apply(text, into: config, fromFile: true)
            config.configFile = absolutePath(first)
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
        var savePoints: [String]?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            let line = raw.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let words = splitConfigLine(line) else {
                throw LoadError(line: lineNo, text: line, reason: "Unbalanced quotes in configuration line")
            }
            if words.isEmpty { continue }
            // Like redis.conf, several `save` lines add up (`save ""` clears what came before).
            if words[0].lowercased() == "save" && words.count > 1 {
                let points = words.count == 2 && words[1].isEmpty ? [] : Array(words.dropFirst())
                let total = points.isEmpty ? [] : (savePoints ?? []) + points
                savePoints = total
                try applyDirective(["save", total.joined(separator: " ")], line: lineNo, text: line, into: config)
                continue
            }
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
        case .words, .savePoints:
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

    /// The rest of an open file as text.
    static func readAll(_ f: UnsafeMutablePointer<FILE>) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The absolute form of path (CONFIG REWRITE must find the file whatever the working directory).
    static func absolutePath(_ path: String) -> String {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }

    /// CONFIG REWRITE, the way Redis's rewriteConfig does it: every directive already in the file
    /// gets its current value on the line of its first occurrence (later duplicates are dropped),
    /// directives not in the file are appended only when they differ from their default, and
    /// comments and unknown lines stay as they were. Returns nil, or the error Redis would give.
    public static func rewrite(_ path: String, config: Config) -> String? {
        var original = ""
        if let f = fopen(path, "r") {
            original = readAll(f)
            fclose(f)
        } else if errno != ENOENT {
            return "ERR Rewriting config file: \(String(cString: strerror(errno)))"
        }
        let marker = "# Generated by CONFIG REWRITE"
        var lines: [String] = []
        var written = Set<String>()
        for raw in original.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: " \t\r")
            if trimmed == marker { continue }
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                lines.append(line)
                continue
            }
            guard let words = splitConfigLine(trimmed), let first = words.first,
                  let d = Config.directive(first) else {
                lines.append(line)
                continue
            }
            if written.insert(d.name).inserted { lines.append(configLine(d, config.value(d))) }
        }
        // The file's own trailing newline leaves an empty last element; drop trailing blanks.
        while let last = lines.last, last.trimmingCharacters(in: " \t\r").isEmpty { lines.removeLast() }
        var added: [String] = []
        for d in Config.directives where !written.contains(d.name) {
            let v = config.value(d)
            if v != d.defaultValue { added.append(configLine(d, v)) }
        }
        if !added.isEmpty { lines.append(marker); lines += added }
        let text = lines.joined(separator: "\n") + "\n"
        // Write a sibling file and rename it over the old one, so a crash never leaves half a file.
        let tmp = path + ".tmp-\(getpid())"
        guard let out = fopen(tmp, "w") else {
            return "ERR Rewriting config file: \(String(cString: strerror(errno)))"
        }
        let ok = fputs(text, out) >= 0 && fflush(out) == 0 && fsync(fileno(out)) == 0
        let err = errno
        fclose(out)
        if !ok || rename(tmp, path) != 0 {
            let e = ok ? errno : err
            unlink(tmp)
            return "ERR Rewriting config file: \(String(cString: strerror(e)))"
        }
        return nil
    }

    /// One `name value` line; strings are quoted as Redis's sdscatrepr would.
    static func configLine(_ d: Directive, _ value: String) -> String {
        switch d.kind {
        case .string:
            return "\(d.name) \(quoted(value))"
        case .savePoints, .words:
            return value.isEmpty ? "\(d.name) \"\"" : "\(d.name) \(value)"
        default:
            return "\(d.name) \(value)"
        }
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for b in s.utf8 {
            switch b {
            case 0x5C: out += "\\\\"
            case 0x22: out += "\\\""
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x07: out += "\\a"
            case 0x08: out += "\\b"
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
            }
        }
        return out + "\""
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
