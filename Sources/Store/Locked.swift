import Glibc

/// A value reachable only while its lock is held (`withLock`): the type the server's shared
/// mutable state lives in. A pthread mutex rather than Synchronization's Mutex because
/// ThreadSanitizer intercepts pthread locks but not, on Linux, Mutex's futex (Swift 6.3): under
/// `--sanitize=thread` every Mutex-guarded access was reported as a race. Not recursive, so a
/// body must not take the same lock again; bodies here take no other lock than leaf ones.
// @unchecked Sendable: `value` is touched only inside withLock, between lock and unlock of `m`.
public final class Locked<Value>: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        m = .allocate(capacity: 1)
        pthread_mutex_init(m, nil)
    }

    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }

    @inline(__always)
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body(&value)
    }
}
