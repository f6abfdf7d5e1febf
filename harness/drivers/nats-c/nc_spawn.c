/* natsmock-driver-nats-c: worker threads for blocking libnats calls.
 *
 * "Started in order" needs more than a running thread: a flush has started
 * once its PING is in the connection's buffer, a request once its PUB is.
 * libnats says neither, but in both calls the thread then waits on a
 * condition variable, and Linux shows that: /proc/self/task/TID/syscall
 * names the futex call and its op, FUTEX_WAIT_BITSET for a pthread
 * condition wait (a contended mutex waits with plain FUTEX_WAIT, so it is
 * not mistaken for it). The spawner polls for that, or for the call's end,
 * with a bound. Where /proc cannot be read it falls back to "running". */
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "nc_driver.h"
#include "nm_drv_util.h"

typedef struct {
  void (*fn)(void *);
  void *job;
  pid_t tid;
  int started;
  int finished;
  int refs; /* spawner + worker; the last one frees */
} spawn_t;

static void spawn_release(spawn_t *sp) {
  int last;
  pthread_mutex_lock(&nm__nc.mu);
  last = --sp->refs == 0;
  pthread_mutex_unlock(&nm__nc.mu);
  if (last)
    free(sp);
}

static void *worker_main(void *arg) {
  spawn_t *sp = arg;

  pthread_mutex_lock(&nm__nc.mu);
  sp->tid = (pid_t)syscall(SYS_gettid);
  sp->started = 1;
  pthread_cond_broadcast(&nm__nc.cond);
  pthread_mutex_unlock(&nm__nc.mu);
  sp->fn(sp->job);
  pthread_mutex_lock(&nm__nc.mu);
  sp->finished = 1;
  nm__nc.workers--;
  pthread_mutex_unlock(&nm__nc.mu);
  spawn_release(sp);
  /* libnats keeps per-thread error state; give it back before the thread
   * ends. */
  nats_ReleaseThreadMemory();
  return NULL;
}

/* 1: the thread waits on a condition; 0: not (yet); -1: cannot tell. */
static int in_cond_wait(pid_t tid) {
  char path[64], buf[256];
  long nr;
  unsigned long a0, a1;
  ssize_t n;
  int fd;

  snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  /* "running", or "NR 0xARG0 0xARG1 ...". */
  if (sscanf(buf, "%ld 0x%lx 0x%lx", &nr, &a0, &a1) != 3)
    return 0;
  return nr == SYS_futex && (a1 & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET;
}

static void wait_blocked(spawn_t *sp) {
  int64_t deadline = nm_drv_now_us() + (int64_t)NM_NC_START_WAIT_MS * 1000;
  for (;;) {
    struct timespec ts = {0, 50 * 1000};
    int done, r;
    pthread_mutex_lock(&nm__nc.mu);
    done = sp->finished;
    pthread_mutex_unlock(&nm__nc.mu);
    if (done)
      return;
    r = in_cond_wait(sp->tid);
    if (r != 0)
      return; /* blocked, or no way to tell */
    if (nm_drv_now_us() >= deadline) {
      fprintf(stderr, "nats-c driver: a worker did not block within %d ms\n",
              NM_NC_START_WAIT_MS);
      return;
    }
    nanosleep(&ts, NULL);
  }
}

int nm__nc_spawn(void (*fn)(void *), void *job, int until_blocked) {
  spawn_t *sp = calloc(1, sizeof(*sp));
  pthread_t t;
  pthread_attr_t attr;
  int r;

  if (sp == NULL)
    return -1;
  sp->fn = fn;
  sp->job = job;
  sp->refs = 2;
  pthread_mutex_lock(&nm__nc.mu);
  if (nm__nc.workers >= NM_NC_MAX_WORKERS) {
    pthread_mutex_unlock(&nm__nc.mu);
    free(sp);
    return -1;
  }
  nm__nc.workers++;
  pthread_mutex_unlock(&nm__nc.mu);

  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  r = pthread_create(&t, &attr, worker_main, sp);
  pthread_attr_destroy(&attr);
  if (r != 0) {
    pthread_mutex_lock(&nm__nc.mu);
    nm__nc.workers--;
    pthread_mutex_unlock(&nm__nc.mu);
    free(sp);
    return -1;
  }
  pthread_mutex_lock(&nm__nc.mu);
  while (!sp->started)
    pthread_cond_wait(&nm__nc.cond, &nm__nc.mu);
  pthread_mutex_unlock(&nm__nc.mu);
  if (until_blocked)
    wait_blocked(sp);
  spawn_release(sp);
  return 0;
}
