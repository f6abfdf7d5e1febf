/* Sockets, the MSG scanner and /proc readings of the load generator. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nm_loadgen.h"

static const char kConnect[] =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,"
    "\"lang\":\"natsmock-loadgen\",\"version\":\"1\",\"protocol\":1}\r\n"
    "PING\r\n";

double nm_lg_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void nm_lg_die(const char *fmt, ...) {
  va_list ap;
  fputs("nm_loadgen: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

int nm_lg_dial(int port) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (fd < 0)
    nm_lg_die("socket: %s", strerror(errno));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    close(fd);
    return -1;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

int nm_lg_write_all(int fd, const void *p, size_t n) {
  const char *q = p;
  while (n > 0) {
    ssize_t w = write(fd, q, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    q += w;
    n -= (size_t)w;
  }
  return 0;
}

/* The size is the last field of a MSG / HMSG line. */
static size_t line_size(const char *l, size_t n) {
  size_t v = 0, m = 1;
  while (n > 0 && l[n - 1] >= '0' && l[n - 1] <= '9') {
    v += (size_t)(l[n - 1] - '0') * m;
    m *= 10;
    n--;
  }
  return v;
}

static void handle_line(nm_lg_conn_t *c, const char *l, size_t n) {
  if (n > 0 && l[n - 1] == '\r')
    n--;
  if (n >= 4 && (memcmp(l, "MSG ", 4) == 0 || memcmp(l, "HMSG", 4) == 0)) {
    c->msgs++;
    c->skip = line_size(l, n) + 2;
  } else if (n == 4 && memcmp(l, "PONG", 4) == 0) {
    c->pongs++;
  } else if (n == 4 && memcmp(l, "PING", 4) == 0) {
    if (nm_lg_write_all(c->fd, "PONG\r\n", 6) < 0)
      nm_lg_die("writing PONG: %s", strerror(errno));
  } else if (n >= 4 && memcmp(l, "-ERR", 4) == 0) {
    c->err = 1;
    fprintf(stderr, "nm_loadgen: server said %.*s\n", (int)n, l);
  }
}

int nm_lg_scan(nm_lg_conn_t *c, const char *p, size_t n) {
  while (n > 0) {
    const char *e;
    size_t k;
    if (c->skip > 0) {
      k = c->skip < n ? c->skip : n;
      c->skip -= k;
      p += k;
      n -= k;
      continue;
    }
    e = memchr(p, '\n', n);
    if (e == NULL) {
      if (c->line_len + n > sizeof(c->line))
        return -1;
      memcpy(c->line + c->line_len, p, n);
      c->line_len += n;
      return 0;
    }
    k = (size_t)(e - p);
    if (c->line_len > 0) {
      if (c->line_len + k > sizeof(c->line))
        return -1;
      memcpy(c->line + c->line_len, p, k);
      handle_line(c, c->line, c->line_len + k);
      c->line_len = 0;
    } else {
      handle_line(c, p, k);
    }
    p = e + 1;
    n -= k + 1;
  }
  return 0;
}

void nm_lg_wait_pongs(nm_lg_conn_t *c, uint64_t pongs) {
  static char buf[64 * 1024];
  while (c->pongs < pongs) {
    ssize_t r = read(c->fd, buf, sizeof(buf));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      nm_lg_die("connection closed by the server while waiting for PONG");
    if (nm_lg_scan(c, buf, (size_t)r) < 0)
      nm_lg_die("control line longer than %d bytes", NM_LG_LINE_MAX);
  }
}

void nm_lg_open(nm_lg_conn_t *c, int port) {
  memset(c, 0, sizeof(*c));
  c->fd = nm_lg_dial(port);
  if (c->fd < 0)
    nm_lg_die("cannot connect to 127.0.0.1:%d: %s", port, strerror(errno));
  /* INFO comes first; the scanner ignores it. */
  if (nm_lg_write_all(c->fd, kConnect, sizeof(kConnect) - 1) < 0)
    nm_lg_die("writing CONNECT: %s", strerror(errno));
  nm_lg_wait_pongs(c, 1);
}

/* ---- /proc ---- */

/* The process's CPU time from its threads' schedstat (nanoseconds on a CPU;
 * utime + stime in /proc/PID/stat come in 10 ms ticks, too coarse for a
 * case that takes a fraction of a second). A thread that ends between two
 * readings takes its time with it, so a multi-threaded server can only come
 * out lower than it was. Returns -1 when schedstat cannot be read. */
static double task_cpu_s(pid_t pid) {
  char path[320];
  struct dirent *d;
  unsigned long long ns, sum = 0;
  int found = 0;
  DIR *dir;
  snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
  if ((dir = opendir(path)) == NULL)
    return -1;
  while ((d = readdir(dir)) != NULL) {
    FILE *f;
    if (d->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid,
             d->d_name);
    if ((f = fopen(path, "r")) == NULL)
      continue; /* the thread ended */
    if (fscanf(f, "%llu", &ns) == 1) {
      sum += ns;
      found = 1;
    }
    fclose(f);
  }
  closedir(dir);
  return found ? (double)sum / 1e9 : -1;
}

double nm_lg_proc_cpu_s(pid_t pid) {
  char path[64], buf[1024], *p;
  unsigned long long ut = 0, st = 0;
  FILE *f;
  size_t n;
  double t;
  if (pid <= 0)
    return 0;
  if ((t = task_cpu_s(pid)) >= 0)
    return t;
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  if ((f = fopen(path, "r")) == NULL)
    nm_lg_die("%s: %s", path, strerror(errno));
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  /* After the command name in parentheses: state is field 3, utime 14,
   * stime 15. */
  p = strrchr(buf, ')');
  if (p == NULL ||
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
             &ut, &st) != 2)
    nm_lg_die("%s: unexpected format", path);
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long nm_lg_proc_status_kb(pid_t pid, const char *key) {
  char path[64], line[256];
  size_t kl = strlen(key);
  long v = -1;
  FILE *f;
  if (pid <= 0)
    return 0;
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  if ((f = fopen(path, "r")) == NULL)
    nm_lg_die("%s: %s", path, strerror(errno));
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
      v = strtol(line + kl + 1, NULL, 10);
      break;
    }
  fclose(f);
  if (v < 0)
    nm_lg_die("%s: no %s", path, key);
  return v;
}

void nm_lg_proc_reset_peak(pid_t pid) {
  char path[64];
  int fd;
  if (pid <= 0)
    return;
  snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
  /* "5" resets the peak resident set size (proc(5)). */
  if ((fd = open(path, O_WRONLY)) < 0 || write(fd, "5", 1) != 1)
    nm_lg_die("%s: %s", path, strerror(errno));
  close(fd);
}
