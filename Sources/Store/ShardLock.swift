import Glibc

/// A pthread mutex with explicit lock/unlock so multi-shard commands can take several in
/// ascending order. Recursive: EXEC holds every shard while its commands run, and a command
/// inside it (INFO, DBSIZE, FLUSHALL) may lock a shard again on the same thread.
// @unchecked Sendable: a pthread mutex, made to be shared between threads; the pointer never changes.
public final class ShardLock: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        m = .allocate(capacity: 1)
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(m, &attr)
        pthread_mutexattr_destroy(&attr)
    }

    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }

    @inline(__always) public func lock() { pthread_mutex_lock(m) }
    @inline(__always) public func unlock() { pthread_mutex_unlock(m) }
}

/// A value only reachable through its lock, for state several threads share (settings,
/// registries, pools). Built on a pthread mutex rather than Synchronization's `Mutex` because
/// ThreadSanitizer sees pthread locking but not `Mutex`'s raw futex calls: with `Mutex`, every
/// access it guards is reported as a race and real races drown in the noise.
public final class Locked<Value>: @unchecked Sendable { // the value is touched only under `lock`
    private let lock = ShardLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    /// Runs body with the value, holding the lock.
    @inline(__always)
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
