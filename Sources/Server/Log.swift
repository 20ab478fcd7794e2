import Glibc
import Store
import Synchronization

/// redis-server style log lines: `pid:M 21 Nov 2026 21:11:49.123 * message`.
///
/// Every thread logs through one Log: the level is an atomic (CONFIG SET loglevel changes it
/// while event loops read it), the file descriptor behind a lock. A message below the
/// level costs one relaxed load: its text is an autoclosure that is never evaluated.
public final class Log: Sendable {
    public enum Level: Int, Sendable { case debug = 0, verbose, notice, warning, nothing }

    private let threshold = Atomic<Int>(Level.notice.rawValue)
    /// Standard output unless logfile names a file.
    private let fd = Locked<Int32>(1)

    public init() {}

    public var level: Level {
        get { Level(rawValue: threshold.load(ordering: .relaxed)) ?? .notice }
        set { threshold.store(newValue.rawValue, ordering: .relaxed) }
    }

    /// Whether a message at this level is written (check it before gathering what a message
    /// needs when that takes more than building its text).
    @inline(__always)
    public func enabled(_ l: Level) -> Bool { l.rawValue >= threshold.load(ordering: .relaxed) && l != .nothing }

    /// Appends to the file at path from now on (empty: standard output); false if it cannot be opened.
    public func setFile(_ path: String) -> Bool {
        if path.isEmpty {
            fd.withLock { $0 = 1 }
            return true
        }
        let f = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        if f < 0 { return false }
        let old = fd.withLock { d in
            defer { d = f }
            return d
        }
        if old > 2 { close(old) }
        return true
    }

    public static func parseLevel(_ s: String) -> Level? {
        switch s.lowercased() {
        case "debug": return .debug
        case "verbose": return .verbose
        case "notice": return .notice
        case "warning": return .warning
        case "nothing": return .nothing
        default: return nil
        }
    }

    @inline(__always) public func debug(_ m: @autoclosure () -> String) { if enabled(.debug) { write(.debug, m()) } }
    @inline(__always) public func verbose(_ m: @autoclosure () -> String) { if enabled(.verbose) { write(.verbose, m()) } }
    @inline(__always) public func notice(_ m: @autoclosure () -> String) { if enabled(.notice) { write(.notice, m()) } }
    @inline(__always) public func warning(_ m: @autoclosure () -> String) { if enabled(.warning) { write(.warning, m()) } }

    @inline(never)
    private func write(_ l: Level, _ message: String) {
        let marks = [".", "-", "*", "#"]
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, 64, "%d %b %Y %H:%M:%S", &tmv)
        let stamp = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let ms = Int(tv.tv_usec) / 1000
        let msText = ms < 10 ? "00\(ms)" : (ms < 100 ? "0\(ms)" : "\(ms)")
        var line = "\(getpid()):M \(stamp).\(msText) \(marks[l.rawValue]) \(message)\n"
        fd.withLock { d in
            line.withUTF8 { u in _ = Glibc.write(d, u.baseAddress, u.count) }
        }
    }
}
