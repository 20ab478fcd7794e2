import Glibc
import Store
import Synchronization

/// redis-server style log lines: `pid:M 21 Nov 2026 21:11:49.123 * message`.
public final class Log: Sendable {
    public enum Level: Int, Sendable { case debug = 0, verbose, notice, warning, nothing }

    /// loglevel: CONFIG SET changes it while every loop logs.
    public var level: Level {
        get { Level(rawValue: levelValue.load(ordering: .relaxed)) ?? .notice }
        set { levelValue.store(newValue.rawValue, ordering: .relaxed) }
    }
    private let levelValue = Atomic<Int>(Level.notice.rawValue)
    /// Standard output unless logfile names a file; held while a line is written.
    private let fd = Locked<Int32>(1)

    public init() {}

    public func setFile(_ path: String) -> Bool {
        if path.isEmpty {
            fd.withLock { $0 = 1 }
            return true
        }
        let f = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        if f < 0 { return false }
        fd.withLock { $0 = f }
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

    public func debug(_ m: @autoclosure () -> String) { write(.debug, m) }
    public func verbose(_ m: @autoclosure () -> String) { write(.verbose, m) }
    public func notice(_ m: @autoclosure () -> String) { write(.notice, m) }
    public func warning(_ m: @autoclosure () -> String) { write(.warning, m) }

    private func write(_ l: Level, _ m: () -> String) {
        let level = self.level
        guard l.rawValue >= level.rawValue, level != .nothing else { return }
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
        let line = "\(getpid()):M \(stamp).\(msText) \(marks[l.rawValue]) \(m())\n"
        var l = line
        fd.withLock { f in l.withUTF8 { u in _ = Glibc.write(f, u.baseAddress, u.count) } }
    }
}
