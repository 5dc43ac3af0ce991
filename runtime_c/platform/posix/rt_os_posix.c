/* POSIX platform: the runtime as a process. Protocol bytes on stdin/stdout, debug log lines
 * on stderr, the call time limit from a one-shot ITIMER_REAL and SIGALRM. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rt_platform.h"

void *rt_os_malloc(size_t size) {
    return malloc(size ? size : 1u);
}
void *rt_os_malloc_growable(size_t size, size_t max) {
    (void)max;
    return rt_os_malloc(size);
}
void *rt_os_malloc_lasting(size_t size) {
    return rt_os_malloc(size);
}
void *rt_os_realloc(void *ptr, size_t size) {
    return realloc(ptr, size ? size : 1u);
}
void rt_os_free(void *ptr) {
    free(ptr);
}

uint64_t rt_os_time_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t rt_os_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Buffered reader over fd 0: poll() for the timeout, read() what is there. */
static uint8_t g_rbuf[4096];
static size_t g_rpos, g_rlen;

int rt_os_read_byte(uint32_t timeout_ms) {
    if (g_rpos < g_rlen) return g_rbuf[g_rpos++];
    struct pollfd p = {0, POLLIN, 0};
    int r;
    do {
        r = poll(&p, 1, (int)(timeout_ms > 0x7FFFFFFFu ? 0x7FFFFFFF : timeout_ms));
    } while (r < 0 && errno == EINTR);
    if (r < 0) return RT_OS_READ_CLOSED;
    if (r == 0) return RT_OS_READ_TIMEOUT;
    ssize_t n;
    do {
        n = read(0, g_rbuf, sizeof g_rbuf);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return RT_OS_READ_CLOSED;
    g_rpos = 1;
    g_rlen = (size_t)n;
    return g_rbuf[0];
}

int rt_os_write(const uint8_t *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(1, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

void rt_os_random(uint8_t *buf, size_t len) {
    static int fd = -2;
    if (fd == -2) fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    while (fd >= 0 && got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    for (; got < len; got++)
        buf[got] = (uint8_t)rand(); /* no /dev/urandom: best effort */
}

void rt_os_log(const char *msg) {
    fprintf(stderr, "rt: %s\n", msg);
}

/* Uploads are not kept across restarts here: the persistence hook only notes each call in the
 * debug log ("persist: <module|model> <name> <first 8 sha256 bytes, hex> <size> bytes"; the
 * tests count these lines). */
void rt_os_persist_upload(uint8_t kind, const char *name, const uint8_t sha256[32],
                          const uint8_t *data, uint32_t size) {
    (void)data;
    char line[160];
    int n = snprintf(line, sizeof line, "persist: %s %s ", kind == 0 ? "module" : "model", name);
    for (int i = 0; i < 8 && n > 0 && (size_t)n + 2 < sizeof line; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, "%02x", sha256[i]);
    if (n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, " %lu bytes", (unsigned long)size);
    rt_os_log(line);
}

static volatile rt_os_deadline_fn g_deadline_fn;

static void on_alarm(int sig) {
    (void)sig;
    rt_os_deadline_fn fn = g_deadline_fn;
    g_deadline_fn = NULL;
    if (fn != NULL) fn(); /* may longjmp out: SA_NODEFER keeps SIGALRM unmasked */
}

void rt_os_deadline_arm(uint32_t ms, rt_os_deadline_fn fn) {
    static int installed;
    if (!installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sa.sa_flags = SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        installed = 1;
    }
    g_deadline_fn = fn;
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)(ms / 1000u);
    it.it_value.tv_usec = (suseconds_t)((ms % 1000u) * 1000u);
    setitimer(ITIMER_REAL, &it, NULL);
}

/* The SIGALRM handler calls fn and returns when fn does: the interrupted code resumes. */
void rt_os_deadline_notify(uint32_t ms, rt_os_deadline_fn fn) {
    rt_os_deadline_arm(ms, fn);
}

void rt_os_deadline_disarm(void) {
    struct itimerval it;
    memset(&it, 0, sizeof it);
    setitimer(ITIMER_REAL, &it, NULL);
    g_deadline_fn = NULL;
}

/* Measurements: the process's stack is not measured (0); the counter is CLOCK_MONOTONIC in
 * nanoseconds, labelled as such (RT_OS_COUNTER_NS), not an instruction count. */
uint32_t rt_os_stack_high_water(void) {
    return 0;
}

void rt_os_stack_reset_peak(void) {}

uint64_t rt_os_counter(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint8_t rt_os_counter_unit(void) {
    return RT_OS_COUNTER_NS;
}
