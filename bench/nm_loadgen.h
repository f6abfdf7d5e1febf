/* The raw-socket load generator of ci/bench (bench/): a publisher that sends
 * pre-encoded PUB frames in large writes, subscribers that count MSG frames
 * with a minimal scanner, and the server's CPU and memory read from /proc.
 * Blocking sockets and one reader thread: the generator must cost less than
 * the server it measures. */
#ifndef NM_LOADGEN_H
#define NM_LOADGEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bound of every wait: a case that does not finish in this time fails. */
#define NM_LG_CASE_TIMEOUT_S 180
/* Longest control line the scanner keeps across reads. */
#define NM_LG_LINE_MAX 4096
/* One read of a subscriber connection. */
#define NM_LG_READ_SIZE (256 * 1024)
/* A pre-encoded publish chunk is at least this large (fewer, larger writes),
 * and the cycle of frames it repeats is at most NM_LG_CYCLE_MAX bytes; past
 * that, frames go out with writev from one shared payload. */
#define NM_LG_CHUNK_MIN (256 * 1024)
#define NM_LG_CYCLE_MAX (8 * 1024 * 1024)
#define NM_LG_MAX_COUNT 100000000L
#define NM_LG_MAX_SIZE (8 * 1024 * 1024)
#define NM_LG_MAX_CONNS 20000
#define NM_LG_MAX_SUBS 1000000

/* One connection as the scanner sees it. */
typedef struct {
  int fd;
  size_t skip;               /* payload bytes (+CRLF) still to pass over */
  size_t line_len;           /* bytes of a control line split across reads */
  char line[NM_LG_LINE_MAX]; /* ...kept here */
  uint64_t msgs;             /* MSG and HMSG frames seen */
  uint64_t pongs;            /* PONG frames seen */
  int err;                   /* a -ERR arrived (printed on stderr) */
} nm_lg_conn_t;

double nm_lg_now(void);
/* Exits with a one-line error naming what failed. */
void nm_lg_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

/* Blocking TCP connection to 127.0.0.1:port with TCP_NODELAY. */
int nm_lg_dial(int port);
/* Connects, reads INFO, sends CONNECT (verbose and pedantic off), PING and
 * waits for the PONG. */
void nm_lg_open(nm_lg_conn_t *c, int port);
int nm_lg_write_all(int fd, const void *p, size_t n);
/* Feeds bytes read from the server: counts MSGs and PONGs, answers PING.
 * Returns 0 or -1 (a line longer than NM_LG_LINE_MAX). */
int nm_lg_scan(nm_lg_conn_t *c, const char *p, size_t n);
/* Reads (blocking) until the connection has seen `pongs` PONGs in all. */
void nm_lg_wait_pongs(nm_lg_conn_t *c, uint64_t pongs);

/* The server process, from /proc (pid 0: none; figures are then 0). */
/* CPU seconds: the threads' schedstat, else utime + stime */
double nm_lg_proc_cpu_s(pid_t pid);
long nm_lg_proc_status_kb(pid_t pid, const char *key); /* VmRSS, VmHWM */
void nm_lg_proc_reset_peak(pid_t pid);                 /* VmHWM := VmRSS */

/* Publishes `count` messages of `size` bytes, cycling over `nsubj`
 * subjects (subject i is made by subj_fn(i, buf, cap)). */
typedef size_t (*nm_lg_subject_fn)(size_t i, char *buf, size_t cap);
void nm_lg_publish(int fd, nm_lg_subject_fn subj_fn, size_t nsubj, long count,
                   size_t size);

/* Cases (loadgen_cases.c); each prints one line of key=value pairs. */
int nm_lg_case_pub(pid_t pid, int port, long count, size_t size);
int nm_lg_case_fan(pid_t pid, int port, long count, size_t size, int nsubs,
                   int queue);
int nm_lg_case_wild(pid_t pid, int port, long count, size_t size);
int nm_lg_case_subs(pid_t pid, int port, long nsubs, int wild, long count,
                    size_t size);
int nm_lg_case_rtt(int port, long rounds);
int nm_lg_case_idle(pid_t pid, int port, long nconns);
int nm_lg_case_startup(const char *bin, int runs);

#endif
