import Glibc

/// maxclients against the process's open-file limit, as Redis's adjustOpenFilesLimit: raise
/// RLIMIT_NOFILE to maxclients plus the descriptors the server needs for itself where the OS
/// allows, else lower maxclients to what fits and say so in Redis's words.
enum FileLimits {
    /// Redis's CONFIG_MIN_RESERVED_FDS: listeners, log file, and what else the server opens.
    static let minReserved = 32

    /// Descriptors kept for the server itself. Redis's 32 cover TagCache's listeners, log,
    /// spare descriptor and Dispatch's own with up to 8 event loops (each holds an epoll and an
    /// eventfd); more loops and the metrics endpoint's clients (up to 64) come on top.
    static func reserved(eventLoops: Int, metrics: Bool) -> Int {
        minReserved + max(0, 2 * eventLoops - 16) + (metrics ? MetricsEndpoint.maxClients + 2 : 0)
    }

    /// Descriptors never handed to clients at run time, whatever maxclients says: libdispatch
    /// opens /proc files (its worker-pool monitor) and timerfds on its own threads and traps when
    /// it cannot, so the process must never sit at its limit. At start maxclients leaves
    /// `reserved` free; this matters when the limit is lowered under a running server.
    static let headroom = 16

    /// The highest descriptor a client may have under the current limit (Int.max when unknown).
    static func clientCeiling() -> Int {
        guard let soft = current()?.soft, soft < UInt64(Int32.max) else { return Int.max }
        return Int(soft) - headroom - 1
    }

    struct Outcome: Equatable {
        /// The maxclients that fits (the one asked for when the limit is, or could be made, enough).
        var maxClients: Int
        /// Warnings to log (empty when nothing was lowered).
        var warnings: [String] = []
        /// A notice when the limit was raised.
        var notice: String?
        /// The limit is too low to run at all (Redis exits).
        var fatal: String?
    }

    /// The current soft and hard RLIMIT_NOFILE, or nil when unreadable.
    static func current() -> (soft: UInt64, hard: UInt64)? {
        var l = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &l) == 0 else { return nil }
        return (UInt64(l.rlim_cur), UInt64(l.rlim_max))
    }

    /// Raises the limit toward maxClients + reserved (trying 16 less at a time, as Redis does)
    /// and returns the maxclients that fits.
    static func adjust(maxClients: Int, reserved: Int) -> Outcome {
        adjust(maxClients: maxClients, reserved: reserved, current: current(), setLimit: { soft, hard in
            var l = rlimit(rlim_cur: rlim_t(soft), rlim_max: rlim_t(hard))
            return setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &l) == 0 ? 0 : errno
        })
    }

    /// The decision, with the system calls given (unit tests pass their own).
    /// `setLimit(soft, hard)` returns 0 or the errno of the failure.
    static func adjust(maxClients: Int, reserved: Int, current: (soft: UInt64, hard: UInt64)?,
                       setLimit: (UInt64, UInt64) -> Int32) -> Outcome {
        let wanted = UInt64(maxClients) + UInt64(reserved)
        guard let (old, hard) = current else {
            let fits = 1024 - reserved
            return Outcome(maxClients: fits, warnings: [
                "Unable to obtain the current NOFILE limit (\(String(cString: strerror(errno)))), assuming 1024 and setting the max clients configuration accordingly.",
            ])
        }
        if old >= wanted { return Outcome(maxClients: maxClients) }
        // Redis tries wanted, wanted - 16, wanted - 32... down to the old limit, one system call
        // each: `CONFIG SET maxclients 4294967295` would make 268 million calls, stalling the
        // server for minutes. A limit that can be set makes every lower one settable, so the
        // first candidate that works is found by bisection, in about 30 calls, with the same
        // result. The limit last set successfully is the answer's: later calls only fail.
        let candidates = (wanted - old - 1) / 16 // candidate k is wanted - 16k, all above old
        var failure: Int32 = 0
        // The hard limit is kept when it is already higher: lowering it cannot be undone.
        func attempt(_ limit: UInt64) -> Bool {
            let e = setLimit(limit, max(limit, hard))
            if e != 0 { failure = e }
            return e == 0
        }
        var low: UInt64 = 1, high = candidates + 1 // high: the first candidate known to work
        if attempt(wanted) { high = 0 }
        while low < high {
            let k = low + (high - low) / 2
            if attempt(wanted - 16 * k) { high = k } else { low = k + 1 }
        }
        let best = high <= candidates ? wanted - 16 * high : old
        if best >= wanted {
            return Outcome(maxClients: maxClients,
                           notice: "Increased maximum number of open files to \(wanted) (it was originally set to \(old)).")
        }
        if best <= UInt64(reserved) {
            return Outcome(maxClients: maxClients, fatal: "Your current 'ulimit -n' of \(old) is not enough for the server to start. Please increase your open file limit to at least \(wanted). Exiting.")
        }
        let fits = Int(best) - reserved
        return Outcome(maxClients: fits, warnings: [
            "You requested maxclients of \(maxClients) requiring at least \(wanted) max file descriptors.",
            "Server can't set maximum open files to \(wanted) because of OS error: \(String(cString: strerror(failure))).",
            "Current maximum open files is \(best). maxclients has been reduced to \(fits) to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
        ])
    }
}
