import Commands
import Glibc
import RESP
import Store

/// One configuration directive: how its value is parsed, shown and whether CONFIG SET may
/// change it at run time. Values are kept in the form CONFIG GET shows.
public struct Directive: Sendable {
    public enum Kind: Sendable {
        case integer(min: Int, max: Int)
        /// An integer accepted within min...max and then kept within lo...hi (Redis's hz).
        case clampedInteger(min: Int, max: Int, lo: Int, hi: Int)
        /// A byte count: accepts Redis's units (1k, 1kb, 1mb, 1gb...), shown as bytes.
        case memory(min: Int, max: UInt64)
        /// A byte count, or a percentage `N%` with N at most maxPercent (maxmemory-clients).
        case memoryOrPercent(maxPercent: Int, max: Int)
        case bool
        /// yes/no, where "yes" is refused with this reason (a feature TagCache lacks).
        case boolRefusingYes(String)
        case enumeration([String])
        /// Words of which some are synonyms: CONFIG GET shows `shown[word] ?? word`.
        case enumerationWithSynonyms([String], shown: [String: String])
        /// One word, checked by the rule (a configuration file quotes it on rewrite).
        case string(StringRule)
        /// Words separated by spaces, checked by the rule (several words on a config file line).
        case words(WordsRule)
        /// `save` points: pairs of seconds and changes, or empty.
        case savePoints
        /// One printable ASCII character other than space and quotes (stats-prefix-separator).
        case character
    }

    /// How a one-word value is checked.
    public enum StringRule: Sendable {
        case any
        /// A file name without a directory (dbfilename, appendfilename); `allowEmpty` as Redis.
        case baseName(what: String, allowEmpty: Bool, noun: String)
        /// An existing directory, kept as its absolute, resolved path (dir).
        case directory
        /// Keyspace event classes (notify-keyspace-events), kept in Redis's canonical order.
        case keyspaceEvents
        /// proc-title-template: {variables} Redis knows, not empty once expanded.
        case procTitleTemplate
    }

    /// How a multi-word value is checked.
    public enum WordsRule: Sendable {
        case any
        /// `class hard soft seconds` groups; classes not given keep their limits.
        case clientOutputBufferLimit
        /// Exactly three integers within -2000...2000.
        case oomScoreAdjValues
        /// Percentiles within 0...100, shown the way Redis prints them.
        case percentiles
    }

    public let name: String
    /// Redis's second name for the same setting (hash-max-ziplist-entries...): CONFIG GET and
    /// CONFIG SET accept it, and CONFIG GET with a pattern lists it under its own name.
    public let alias: String?
    public let kind: Kind
    public let defaultValue: String
    public let mutable: Bool
    /// Like Redis's PROTECTED_CONFIG (dir, dbfilename): CONFIG SET may change it only when
    /// enable-protected-configs allows.
    public let protected: Bool
    /// A password: the log names it without its value.
    public let secret: Bool
    /// What the directive does, one line (conf/tagcache.conf says more).
    public let summary: String

    public init(_ name: String, alias: String? = nil, _ kind: Kind, _ defaultValue: String, mutable: Bool = true,
                protected: Bool = false, secret: Bool = false, _ summary: String = "") {
        self.name = name
        self.alias = alias
        self.kind = kind
        self.defaultValue = defaultValue
        self.mutable = mutable
        self.protected = protected
        self.secret = secret
        self.summary = summary
    }

    /// Parses a raw value into its shown form, or returns the reason it is bad (Redis's words).
    /// `current` is the value it replaces: client-output-buffer-limit keeps the classes not
    /// given, and a relative dir is taken from the current one.
    public func normalize(_ raw: String, current: String = "") -> Result<String, ConfigError> {
        switch kind {
        case let .integer(lo, hi):
            guard let v = parseRedisInteger(raw) else { return .failure(.message("argument couldn't be parsed into an integer")) }
            if v < lo || v > hi { return .failure(.message("argument must be between \(lo) and \(hi) inclusive")) }
            return .success(String(v))
        case let .clampedInteger(lo, hi, clampLo, clampHi):
            guard let v = parseRedisInteger(raw) else { return .failure(.message("argument couldn't be parsed into an integer")) }
            if v < lo || v > hi { return .failure(.message("argument must be between \(lo) and \(hi) inclusive")) }
            return .success(String(min(max(v, clampLo), clampHi)))
        case let .memory(lo, hi):
            // Redis parses memory as unsigned and checks bounds on that number.
            guard let v = parseMemory(raw) else { return .failure(.message("argument must be a memory value")) }
            if (lo > 0 && v < UInt64(lo)) || v > hi { return .failure(.message("argument must be between \(lo) and \(hi) inclusive")) }
            return .success(String(v))
        case let .memoryOrPercent(maxPercent, hi):
            if let u = parseMemory(raw) {
                // A byte count that does not fit a signed number reads as a percentage, as in Redis.
                let v = Int(truncatingIfNeeded: u)
                if v < 0 {
                    if v < -maxPercent { return .failure(.message("percentage argument must be less or equal to \(maxPercent)")) }
                    return .success("\(-v)%")
                }
                if v > hi { return .failure(.message("argument must be between \(-maxPercent) and \(hi) inclusive")) }
                return .success(String(v))
            }
            if raw.utf8.count > 1, raw.hasSuffix("%"), let p = parseRedisInteger(String(raw.dropLast())), p >= 0 {
                if p > maxPercent { return .failure(.message("percentage argument must be less or equal to \(maxPercent)")) }
                return .success(p == 0 ? "0" : "\(p)%")
            }
            return .failure(.message("argument must be a memory or percent value"))
        case .bool:
            switch raw.lowercased() {
            case "yes": return .success("yes")
            case "no": return .success("no")
            default: return .failure(.message("argument must be 'yes' or 'no'"))
            }
        case let .boolRefusingYes(reason):
            switch raw.lowercased() {
            case "yes": return .failure(.message(reason))
            case "no": return .success("no")
            default: return .failure(.message("argument must be 'yes' or 'no'"))
            }
        case let .enumeration(options):
            let l = raw.lowercased()
            if options.contains(l) { return .success(l) }
            return .failure(.message("argument(s) must be one of the following: \(options.joined(separator: ", "))"))
        case let .enumerationWithSynonyms(options, shown):
            let l = raw.lowercased()
            if options.contains(l) { return .success(shown[l] ?? l) }
            return .failure(.message("argument(s) must be one of the following: \(options.joined(separator: ", "))"))
        case let .string(rule):
            return RedisCompatibility.check(raw, rule, current: current)
        case let .words(rule):
            return RedisCompatibility.check(raw, rule, current: current)
        case .character:
            guard raw.utf8.count == 1, let b = raw.utf8.first, b > 32, b < 127, b != 34, b != 39 else {
                return .failure(.message("argument must be one printable character other than space and quotes"))
            }
            return .success(raw)
        case .savePoints:
            // Like Redis: the value is split at every single space; seconds >= 1, changes >= 0,
            // each read by strtoll (leading spaces and signs allowed, nothing after the digits).
            let words = splitAtSpaces(raw)
            if words.count % 2 != 0 { return .failure(.message("Invalid save parameters")) }
            var points: [String] = []
            for (i, w) in words.enumerated() {
                guard let (v, whole) = cStrtoll(w, base: 10), whole, v >= (i % 2 == 0 ? 1 : 0) else {
                    return .failure(.message("Invalid save parameters"))
                }
                // Redis keeps the changes count in an int.
                points.append(i % 2 == 0 ? String(v) : String(Int32(truncatingIfNeeded: v)))
            }
            return .success(points.joined(separator: " "))
        }
    }
}

/// A directive the server reads, with the type it reads it as: declared once (name, kind,
/// default, whether CONFIG SET may change it) as a static of Directive.Integer, .Flag or .Text,
/// listed in Config's table, and read as `config[.maxmemory]`, so a misspelt name or a number
/// read as a flag does not compile.
public protocol TypedDirective: Sendable {
    static var reads: Directive.ValueType { get }
    var directive: Directive { get }
    init(checked directive: Directive)
}

extension TypedDirective {
    init(_ name: String, alias: String? = nil, _ kind: Directive.Kind, _ defaultValue: String, mutable: Bool = true,
         protected: Bool = false, secret: Bool = false, _ summary: String) {
        precondition(Self.reads == .text || kind.valueType == Self.reads, "\(name) does not read as \(Self.reads)")
        self.init(checked: Directive(name, alias: alias, kind, defaultValue, mutable: mutable, protected: protected,
                                     secret: secret, summary))
    }

    public var name: String { directive.name }
}

extension Directive {
    /// What a directive's (normalized) value reads as.
    public enum ValueType: Sendable {
        /// Integers and byte counts.
        case integer
        /// yes (true) or no.
        case flag
        /// The text CONFIG GET shows.
        case text
    }

    /// A directive read as a number (integers, byte counts): `config[.maxmemory]` is an Int.
    public struct Integer: TypedDirective {
        public static let reads = ValueType.integer
        public let directive: Directive
        public init(checked directive: Directive) { self.directive = directive }
    }

    /// A directive read as yes or no: `config[.protectedMode]` is a Bool.
    public struct Flag: TypedDirective {
        public static let reads = ValueType.flag
        public let directive: Directive
        public init(checked directive: Directive) { self.directive = directive }
    }

    /// A directive read as the text CONFIG GET shows: `config[.bind]` is a String.
    public struct Text: TypedDirective {
        public static let reads = ValueType.text
        public let directive: Directive
        public init(checked directive: Directive) { self.directive = directive }
    }
}

extension Directive.Kind {
    /// What values of this kind read as.
    public var valueType: Directive.ValueType {
        switch self {
        case .integer, .clampedInteger, .memory: return .integer
        case .bool, .boolRefusingYes: return .flag
        default: return .text
        }
    }
}

public enum ConfigError: Error, Equatable {
    case message(String)
}

/// Parses Redis's memory notation like its memtoull: digits (none reads as 0) with an optional
/// unit b, k, kb, m, mb, g, gb in any case; no sign. The product wraps as C's does.
public func parseMemory(_ s: String) -> UInt64? {
    let bytes = Array(s.utf8)
    var digits = 0
    while digits < bytes.count, bytes[digits] >= 48, bytes[digits] <= 57 { digits += 1 }
    let mul: UInt64
    switch String(decoding: bytes[digits...], as: UTF8.self).lowercased() {
    case "", "b": mul = 1
    case "k": mul = 1000
    case "kb": mul = 1024
    case "m": mul = 1_000_000
    case "mb": mul = 1 << 20
    case "g": mul = 1_000_000_000
    case "gb": mul = 1 << 30
    default: return nil
    }
    // Redis's memtoull: at most 127 digits, read by strtoull, which saturates at UInt64.max
    // (then out of every directive's range but maxmemory's); the unit's product wraps.
    if digits >= 128 { return nil }
    var v: UInt64 = 0
    for b in bytes[..<digits] {
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(b - 48))
        v = o1 || o2 ? UInt64.max : a
    }
    return v &* mul
}

/// C's strtoll: the value (clamped on overflow) and whether the whole string was read.
/// Empty input reads as 0, as strtoll's callers in Redis accept it.
func cStrtoll(_ s: String, base: Int32) -> (Int, Bool)? {
    s.withCString { p -> (Int, Bool)? in
        var end: UnsafeMutablePointer<CChar>?
        let v = strtoll(p, &end, base)
        guard let end else { return nil }
        return (Int(v), end.pointee == 0)
    }
}

/// Splits like Redis's sdssplitlen(value, " "): every single space separates, so two spaces
/// make an empty word; an empty value has no words at all.
func splitAtSpaces(_ s: String) -> [String] {
    if s.isEmpty { return [] }
    return s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
}

private func parseRedisInteger(_ s: String) -> Int? {
    var s = s
    return s.withUTF8 { RESP.parseRedisInteger($0) }
}
