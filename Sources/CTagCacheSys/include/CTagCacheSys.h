#ifndef CTAGCACHESYS_H
#define CTAGCACHESYS_H
#include <stdint.h>
#include <stddef.h>

/// One ready event from epoll, unpacked (the kernel's struct is packed on x86_64,
/// which Swift cannot import as a plain struct).
typedef struct tc_event {
    int32_t fd;
    uint32_t events;
} tc_event;

enum {
    TC_EPOLLIN = 0x001,
    TC_EPOLLOUT = 0x004,
    TC_EPOLLERR = 0x008,
    TC_EPOLLHUP = 0x010,
    TC_EPOLLRDHUP = 0x2000,
};

/// tc_epoll_ctl's operations.
typedef enum tc_epoll_op {
    TC_EPOLL_ADD = 0,
    TC_EPOLL_MODIFY = 1,
    TC_EPOLL_DELETE = 2,
} tc_epoll_op;

int tc_epoll_create(void);
/// Adds, modifies or deletes fd's registration (events, data = fd).
int tc_epoll_ctl(int epfd, tc_epoll_op op, int fd, uint32_t events);
/// Waits for events and unpacks up to max of them into out. Returns count or -1.
int tc_epoll_wait(int epfd, tc_event *out, int max, int timeout_ms);

int tc_eventfd(void);
void tc_eventfd_signal(int fd);
void tc_eventfd_drain(int fd);

/// Formats like Redis's ld2string(LD_STR_HUMAN): %.17Lf with trailing zeros removed.
/// Returns the length, or 0 when the value does not fit.
int tc_format_long_double(char *buf, size_t len, long double value);
/// Formats like Redis's "%.17g".
int tc_format_double(char *buf, size_t len, double value);
/// Parses like Redis's string2ld: whole string, no spaces, not NaN. Returns 1 on success.
int tc_parse_long_double(const char *s, size_t len, long double *out);
/// Parses like Redis's string2d (strtod, whole string, no leading space, not NaN). 1 on success.
int tc_parse_double(const char *s, size_t len, double *out);

/// Sets up a listening TCP socket. Returns fd or -errno.
int tc_listen(const char *host, int port, int backlog, int *bound_port);
int tc_accept(int fd, char *addrbuf, size_t addrlen, int *port);
int tc_set_keepalive(int fd, int seconds);
int tc_sock_name(int fd, int peer, char *addrbuf, size_t addrlen, int *port);

/// Resident set size of this process in bytes (from /proc/self/statm).
int64_t tc_rss_bytes(void);
/// Bytes handed out by malloc right now (mallinfo2).
int64_t tc_malloc_used(void);
/// Size of a malloc'd block as malloc sees it.
size_t tc_malloc_usable(void *p);
/// Gives free heap pages back to the kernel (malloc_trim(0)); glibc keeps them otherwise, so
/// RSS would stay high after a mass expiry or FLUSHALL.
int tc_malloc_trim(void);
double tc_cpu_user_seconds(void);
double tc_cpu_sys_seconds(void);
/// CPUs this process may run on (sched_getaffinity), 0 when unknown.
int tc_affinity_cpus(void);

/// Counters written by one thread and read by others (INFO): relaxed atomics, no lock prefix.
static inline int64_t tc_counter_load(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void tc_counter_add(int64_t *p, int64_t v) {
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}
static inline void tc_counter_store(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

/// Home-slot prefetching (Store/HomeCells.swift). A cell holds a table's slot array address in
/// its low 48 bits and log2 of its capacity above, published with a relaxed atomic store under
/// the shard's lock. A reader on another thread loads it without the lock and prefetches the
/// key's home slot: a stale address is harmless, since a prefetch never faults nor changes
/// memory, and the command that follows reads the slot under the lock.
static inline void tc_home_cell_store(uintptr_t *cell, uintptr_t v) { __atomic_store_n(cell, v, __ATOMIC_RELAXED); }
static inline void tc_prefetch_home(const uintptr_t *cell, uint32_t hash) {
    uintptr_t v = __atomic_load_n(cell, __ATOMIC_RELAXED);
    if (v == 0) return;
    uintptr_t mask = ((uintptr_t)1 << (v >> 48)) - 1;
    __builtin_prefetch((const void *)((v & (((uintptr_t)1 << 48) - 1)) + ((uintptr_t)(hash & mask) << 3)));
}
/// Prefetches the cache line at p (an entry whose slot word was just read under the lock).
static inline void tc_prefetch(const void *p) { __builtin_prefetch(p); }

/// A cheap timestamp for per-command timing: the CPU's time-stamp counter where there is one
/// (a few ns, no syscall), else the monotonic clock in ns. tc_ticks_per_us converts.
#if defined(__x86_64__)
static inline uint64_t tc_ticks(void) { return __builtin_ia32_rdtsc(); }
#else
#include <time.h>
static inline uint64_t tc_ticks(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
#endif
/// Ticks of tc_ticks per microsecond, measured once against the monotonic clock.
double tc_ticks_per_us(void);

/// A fast random number for sampling (random members, eviction candidates): a per-thread
/// xoshiro256** seeded from getrandom(2) on the thread's first call. Not for secrets.
uint64_t tc_random(void);

#endif
