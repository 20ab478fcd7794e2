import CTagCacheSys
import Glibc

/// The cores TagCache may actually use: the CPUs its affinity mask allows (`taskset`, a
/// container's cpuset), capped by a cgroup CPU quota (`docker run --cpus`, a Kubernetes limit),
/// rather than the machine's online count, which counts cores the server will never get.
enum UsableCores {
    /// `event-loops 0`: one loop per two usable cores (at least one, at most 32). The clients
    /// usually share the machine (a sidecar, a test suite, an app server), and every request
    /// costs them about what it costs the server. Measured on 2 cores with redis-benchmark on
    /// the same machine (Tests/bench/benchmark.py, 3 ABBA rounds, TagCache/Redis medians), one
    /// loop against two: `-c 50` 0.98-1.32 against 0.89-1.12, `-c 50 -P 16` 1.12-1.91 against
    /// 0.85-1.40, and half the CPU per MSET (two loops contend for the same shard locks and for
    /// the cores the client needs). A machine that serves only remote clients may set
    /// event-loops to its core count.
    static func defaultEventLoops() -> Int { min(max(count() / 2, 1), 32) }

    static func count() -> Int {
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        var n = Int(tc_affinity_cpus())
        if n <= 0 { n = max(online, 1) }
        if let quota = cgroupQuota() { n = min(n, quota) }
        return max(n, 1)
    }

    /// The CPU quota in whole cores, rounded up: cgroup v2 `cpu.max` ("max 100000" or
    /// "150000 100000"), or v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`; nil when unlimited.
    static func cgroupQuota(root: String = "/sys/fs/cgroup") -> Int? {
        if let line = read("\(root)/cpu.max") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let q = Int(parts[0]), let p = Int(parts[1]) else { return nil }
            return cores(quota: q, period: p)
        }
        guard let q = read("\(root)/cpu/cpu.cfs_quota_us").flatMap({ Int($0) }),
              let p = read("\(root)/cpu/cpu.cfs_period_us").flatMap({ Int($0) }) else { return nil }
        return cores(quota: q, period: p)
    }

    static func cores(quota: Int, period: Int) -> Int? {
        guard quota > 0, period > 0 else { return nil }
        return max(1, (quota + period - 1) / period)
    }

    static func read(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 128)
        guard fgets(&buf, Int32(buf.count), f) != nil else { return nil }
        let bytes = buf.prefix { $0 != 0 && $0 != 10 && $0 != 13 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
