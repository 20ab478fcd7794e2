import Glibc

/// A plain mutex (pthread, non-recursive) with explicit lock/unlock so multi-shard commands can
/// take several in ascending order.
public final class ShardLock: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        m = .allocate(capacity: 1)
        pthread_mutex_init(m, nil)
    }

    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }

    @inline(__always) public func lock() { pthread_mutex_lock(m) }
    @inline(__always) public func unlock() { pthread_mutex_unlock(m) }
}
