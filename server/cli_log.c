#include "cli_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Longest -l path kept for reopening. */
#define NM_LOG_PATH_MAX 4096

static FILE *log_file;
static char log_path[NM_LOG_PATH_MAX];
static int log_time = 1;

static FILE *open_append(const char *path, char *err, size_t errlen) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);
  char eb[128];
  FILE *f;
  if (fd < 0 || (f = fdopen(fd, "a")) == NULL) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    snprintf(err, errlen, "open %s: %s", path,
             nm_go_strerror(e, eb, sizeof(eb)));
    return NULL;
  }
  setvbuf(f, NULL, _IOLBF, 0);
  return f;
}

int nm_log_open(const char *path, char *err, size_t errlen) {
  FILE *f;
  if (strlen(path) >= sizeof(log_path)) {
    snprintf(err, errlen, "open %s: file name too long", path);
    return -1;
  }
  if ((f = open_append(path, err, errlen)) == NULL)
    return -1;
  nm_log_close();
  log_file = f;
  snprintf(log_path, sizeof(log_path), "%s", path);
  return 0;
}

int nm_log_reopen(char *err, size_t errlen) {
  FILE *f;
  if (log_file == NULL)
    return 0;
  if ((f = open_append(log_path, err, errlen)) == NULL)
    return -1;
  fclose(log_file);
  log_file = f;
  return 0;
}

void nm_log_close(void) {
  if (log_file)
    fclose(log_file);
  log_file = NULL;
}

void nm_log_set_time(int on) {
  log_time = on;
}

void nm_log(const char *level, const char *fmt, ...) {
  FILE *out = log_file ? log_file : stderr;
  va_list ap;
  if (log_time) {
    struct timeval tv;
    struct tm tm;
    char ts[32];
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y/%m/%d %H:%M:%S", &tm);
    fprintf(out, "[%d] %s.%06ld [%s] ", (int)getpid(), ts, (long)tv.tv_usec,
            level);
  } else {
    fprintf(out, "[%d] [%s] ", (int)getpid(), level);
  }
  va_start(ap, fmt);
  vfprintf(out, fmt, ap);
  va_end(ap);
  fputc('\n', out);
}
