/* The console's progress: a live status line on a terminal, plain lines
 * otherwise (nm_progress.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "nm_progress.h"
#include "nm_report.h"

/* Runs shown as running at once (the harness runs at most 64 in parallel). */
#define NM_PROGRESS_RUNNING 64
#define NM_PROGRESS_LABEL 96
/* The status line never grows past this, whatever the terminal's width. */
#define NM_PROGRESS_LINE 512
/* The line is redrawn at least this often (elapsed and ETA move). */
#define NM_PROGRESS_TICK_MS 1000

typedef struct {
  size_t slot;
  int used;
  char label[NM_PROGRESS_LABEL];
} running_t;

struct nm_progress_s {
  FILE *f;
  int live, verbose, stop;
  size_t total, done, pass, fail, xfail, skip;
  struct timespec t0;
  running_t run[NM_PROGRESS_RUNNING];
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t ticker;
  int have_ticker;
};

static double since(const struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t0->tv_sec) +
         (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void fmt_time(char *buf, size_t n, double s) {
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static size_t term_width(FILE *f) {
  struct winsize ws;
  size_t w = 80;
  if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    w = ws.ws_col;
  /* One column short: a line that fills the last column wraps on some
   * terminals, and \r would then redraw only its second half. */
  w = w > 1 ? w - 1 : 1;
  return w < NM_PROGRESS_LINE ? w : NM_PROGRESS_LINE - 1;
}

/* Called with mu held. */
static void draw(nm_progress_t *p) {
  char line[NM_PROGRESS_LINE], el[32], left[32];
  double t = since(&p->t0);
  size_t n, width = term_width(p->f);
  if (p->done > 0 && p->done < p->total) {
    fmt_time(left, sizeof(left), t * (double)(p->total - p->done) / p->done);
  } else {
    snprintf(left, sizeof(left), p->done ? "0:00" : "?");
  }
  fmt_time(el, sizeof(el), t);
  n = (size_t)snprintf(line, sizeof(line),
                       "[%zu/%zu] pass %zu fail %zu xfail %zu skip %zu | "
                       "%s, ~%s left |",
                       p->done, p->total, p->pass, p->fail, p->xfail, p->skip,
                       el, left);
  for (int i = 0, first = 1; i < NM_PROGRESS_RUNNING && n < sizeof(line); i++)
    if (p->run[i].used) {
      n += (size_t)snprintf(line + n, sizeof(line) - n, "%s %s",
                            first ? "" : ",", p->run[i].label);
      first = 0;
    }
  if (n >= sizeof(line))
    n = sizeof(line) - 1;
  if (n > width) {
    n = width;
    if (n >= 3)
      memcpy(line + n - 3, "...", 3);
  }
  line[n] = '\0';
  fprintf(p->f, "\r\033[K%s", line);
  fflush(p->f);
}

static void *tick(void *arg) {
  nm_progress_t *p = arg;
  pthread_mutex_lock(&p->mu);
  while (!p->stop) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += NM_PROGRESS_TICK_MS / 1000;
    pthread_cond_timedwait(&p->cv, &p->mu, &until);
    if (!p->stop)
      draw(p);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

static int want_live(FILE *f) {
  const char *term = getenv("TERM"), *mode = getenv("NM_PROGRESS");
  if (mode && strcmp(mode, "plain") == 0)
    return 0;
  if (mode && strcmp(mode, "live") == 0)
    return 1;
  return isatty(fileno(f)) && !(term && strcmp(term, "dumb") == 0);
}

nm_progress_t *nm_progress_new(FILE *f, size_t total, int live, int verbose) {
  nm_progress_t *p = calloc(1, sizeof(*p));
  pthread_condattr_t ca;
  if (!p)
    return NULL;
  p->f = f;
  p->total = total;
  p->verbose = verbose;
  p->live = live < 0 ? want_live(f) : live;
  clock_gettime(CLOCK_MONOTONIC, &p->t0);
  pthread_mutex_init(&p->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (p->live) {
    pthread_mutex_lock(&p->mu);
    draw(p);
    pthread_mutex_unlock(&p->mu);
    p->have_ticker = pthread_create(&p->ticker, NULL, tick, p) == 0;
  }
  return p;
}

void nm_progress_start(nm_progress_t *p, size_t slot, const char *label) {
  if (!p || !p->live)
    return;
  pthread_mutex_lock(&p->mu);
  for (int i = 0; i < NM_PROGRESS_RUNNING; i++)
    if (!p->run[i].used) {
      p->run[i].used = 1;
      p->run[i].slot = slot;
      snprintf(p->run[i].label, sizeof(p->run[i].label), "%s", label);
      break;
    }
  draw(p);
  pthread_mutex_unlock(&p->mu);
}

void nm_progress_done(nm_progress_t *p, size_t slot, const nm_result_t *r) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->done++;
  switch (r->status) {
  case NM_ST_PASS:
  case NM_ST_XPASS:
    p->pass++;
    break;
  case NM_ST_XFAIL:
    p->xfail++;
    break;
  case NM_ST_SKIP:
    p->skip++;
    break;
  default:
    p->fail++;
  }
  if (!p->live) {
    nm_report_console(p->f, r, p->done, p->total, p->verbose);
    fflush(p->f);
    pthread_mutex_unlock(&p->mu);
    return;
  }
  for (int i = 0; i < NM_PROGRESS_RUNNING; i++)
    if (p->run[i].used && p->run[i].slot == slot)
      p->run[i].used = 0;
  /* What did not simply pass stays on the screen, above the status line. */
  if (r->status != NM_ST_PASS) {
    fputs("\r\033[K", p->f);
    nm_report_console(p->f, r, p->done, p->total, p->verbose);
  }
  draw(p);
  pthread_mutex_unlock(&p->mu);
}

void nm_progress_free(nm_progress_t *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  if (p->have_ticker)
    pthread_join(p->ticker, NULL);
  if (p->live) {
    fputs("\r\033[K", p->f);
    fflush(p->f);
  }
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p);
}
