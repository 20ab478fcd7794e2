#define _GNU_SOURCE
#include "CTagCacheSys.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <math.h>
#include <malloc.h>
#include <time.h>
#include <sys/random.h>

int tc_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int tc_epoll_ctl(int epfd, tc_epoll_op op, int fd, uint32_t events) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.fd = fd;
    int o = op == TC_EPOLL_ADD ? EPOLL_CTL_ADD : (op == TC_EPOLL_MODIFY ? EPOLL_CTL_MOD : EPOLL_CTL_DEL);
    return epoll_ctl(epfd, o, fd, &ev);
}

int tc_epoll_wait(int epfd, tc_event *out, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n;
    do { n = epoll_wait(epfd, evs, max, timeout_ms); } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) { out[i].fd = evs[i].data.fd; out[i].events = evs[i].events; }
    return n;
}

int tc_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
void tc_eventfd_signal(int fd) { uint64_t one = 1; ssize_t r = write(fd, &one, sizeof one); (void)r; }
void tc_eventfd_drain(int fd) { uint64_t v; ssize_t r = read(fd, &v, sizeof v); (void)r; }

int tc_format_long_double(char *buf, size_t len, long double value) {
    if (isinf(value)) {
        if (len < 5) return 0;
        if (value > 0) { memcpy(buf, "inf", 3); return 3; }
        memcpy(buf, "-inf", 4); return 4;
    }
    int l = snprintf(buf, len, "%.17Lf", value);
    if (l < 0 || (size_t)l >= len) return 0;
    if (strchr(buf, '.') != NULL) {
        char *p = buf + l - 1;
        while (*p == '0') { p--; l--; }
        if (*p == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') { buf[0] = '0'; l = 1; }
    return l;
}

int tc_format_double(char *buf, size_t len, double value) {
    if (isinf(value)) {
        if (value > 0) { memcpy(buf, "inf", 3); return 3; }
        memcpy(buf, "-inf", 4); return 4;
    }
    int l = snprintf(buf, len, "%.17g", value);
    if (l < 0 || (size_t)l >= len) return 0;
    return l;
}

int tc_parse_long_double(const char *s, size_t slen, long double *out) {
    char buf[5 * 1024];
    if (slen == 0 || slen >= sizeof buf) return 0;
    memcpy(buf, s, slen); buf[slen] = 0;
    char *eptr; errno = 0;
    long double v = strtold(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || (size_t)(eptr - buf) != slen ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        errno == EINVAL || isnan(v)) return 0;
    *out = v;
    return 1;
}

int tc_parse_double(const char *s, size_t slen, double *out) {
    char buf[5 * 1024];
    if (slen == 0 || slen >= sizeof buf) return 0;
    memcpy(buf, s, slen); buf[slen] = 0;
    char *eptr; errno = 0;
    double v = strtod(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || (size_t)(eptr - buf) != slen ||
        (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) ||
        errno == EINVAL || isnan(v)) return 0;
    *out = v;
    return 1;
}

int tc_listen(const char *host, int port, int backlog, int *bound_port) {
    struct addrinfo hints, *res, *p;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) return -EINVAL;
    int fd = -1, err = EADDRNOTAVAIL;
    for (p = res; p != NULL; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) { err = errno; continue; }
        int yes = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        if (p->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof yes);
        if (bind(fd, p->ai_addr, p->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
            err = errno; close(fd); fd = -1; continue;
        }
        break;
    }
    freeaddrinfo(res);
    if (fd < 0) return -err;
    struct sockaddr_storage ss; socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (ss.ss_family == AF_INET) *bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else *bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static void fmt_addr(struct sockaddr_storage *ss, char *addrbuf, size_t addrlen, int *port) {
    if (ss->ss_family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s->sin_addr, addrbuf, addrlen);
        *port = ntohs(s->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, addrbuf, addrlen);
        *port = ntohs(s->sin6_port);
    } else {
        snprintf(addrbuf, addrlen, "?");
        *port = 0;
    }
}

int tc_accept(int fd, char *addrbuf, size_t addrlen, int *port) {
    struct sockaddr_storage ss; socklen_t sl = sizeof ss;
    int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return -errno;
    int yes = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    fmt_addr(&ss, addrbuf, addrlen, port);
    return c;
}

int tc_sock_name(int fd, int peer, char *addrbuf, size_t addrlen, int *port) {
    struct sockaddr_storage ss; socklen_t sl = sizeof ss;
    int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &sl) : getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (r < 0) return -errno;
    fmt_addr(&ss, addrbuf, addrlen, port);
    return 0;
}

int tc_set_keepalive(int fd, int seconds) {
    int yes = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof yes) < 0) return -1;
    int idle = seconds, intvl = seconds / 3, cnt = 3;
    if (intvl == 0) intvl = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    return 0;
}

int64_t tc_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long size = 0, rss = 0;
    if (fscanf(f, "%ld %ld", &size, &rss) != 2) rss = 0;
    fclose(f);
    return (int64_t)rss * sysconf(_SC_PAGESIZE);
}

int64_t tc_malloc_used(void) {
    struct mallinfo2 mi = mallinfo2();
    return (int64_t)(mi.uordblks + mi.hblkhd);
}

size_t tc_malloc_usable(void *p) { return malloc_usable_size(p); }
int tc_malloc_trim(void) { return malloc_trim(0); }

double tc_cpu_user_seconds(void) {
    struct rusage ru; getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
}
double tc_cpu_sys_seconds(void) {
    struct rusage ru; getrusage(RUSAGE_SELF, &ru);
    return ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

double tc_ticks_per_us(void) {
    static double rate = 0;
    if (rate > 0) return rate;
#if defined(__x86_64__)
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    uint64_t t0 = tc_ticks();
    do { clock_gettime(CLOCK_MONOTONIC, &b); } while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 2000000L); /* 2 ms: ~0.05% error, and start-up stays fast */
    uint64_t t1 = tc_ticks();
    double us = ((b.tv_sec - a.tv_sec) * 1000000000.0 + (b.tv_nsec - a.tv_nsec)) / 1000.0;
    rate = (double)(t1 - t0) / us;
#else
    rate = 1000.0;
#endif
    return rate;
}

static __thread uint64_t tc_rng[4];
static __thread int tc_rng_seeded;

static inline uint64_t tc_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tc_random(void) {
    uint64_t *s = tc_rng;
    if (!tc_rng_seeded) {
        if (getrandom(s, sizeof tc_rng, 0) != (ssize_t)sizeof tc_rng || (s[0] | s[1] | s[2] | s[3]) == 0) {
            /* No entropy source: splitmix64 from the time and this thread's state address. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)s;
            for (int i = 0; i < 4; i++) {
                uint64_t z = (x += 0x9E3779B97F4A7C15ull);
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
                s[i] = z ^ (z >> 31);
            }
        }
        tc_rng_seeded = 1;
    }
    uint64_t result = tc_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = tc_rotl(s[3], 45);
    return result;
}

#include <sched.h>
int tc_affinity_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}
