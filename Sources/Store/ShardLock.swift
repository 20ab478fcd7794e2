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
