#include "cli_signal.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "cli_log.h"

/* Longest command, pid or pid-file text read. */
#define NM_SIGNAL_ARG_MAX 4096
/* Processes listed when several match. */
#define NM_SIGNAL_PIDS_MAX 64

/* The pids of processes whose name is prog (as pgrep finds them; the kernel
 * keeps 15 characters of a name), this one left out. */
static int find_pids(const char *prog, int *pids, int max) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  int n = 0;
  char name[16];
  snprintf(name, sizeof(name), "%s", prog);
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL && n < max) {
    char path[300], comm[64];
    FILE *f;
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0 || pid == (long)getpid())
      continue;
    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    if ((f = fopen(path, "r")) == NULL)
      continue;
    if (fgets(comm, sizeof(comm), f)) {
      comm[strcspn(comm, "\n")] = 0;
      if (!strcmp(comm, name))
        pids[n++] = (int)pid;
    }
    fclose(f);
  }
  closedir(d);
  return n;
}

/* Go's strconv.Atoi: optional sign, decimal digits, nothing else. */
static int go_atoi(const char *s, long *out) {
  char *end;
  if (*s == 0 || *s == ' ' || *s == '\t' || *s == '\n')
    return -1;
  errno = 0;
  *out = strtol(s, &end, 10);
  return (*end || errno) ? -1 : 0;
}

int nm_cli_signal(const char *spec, const char *prog, char *err,
                  size_t errlen) {
  char cmd[NM_SIGNAL_ARG_MAX], pidtxt[NM_SIGNAL_ARG_MAX], eb[128];
  const char *eq = strchr(spec, '=');
  int have_pid = 0, sig;
  long pid = 0;

  snprintf(cmd, sizeof(cmd), "%.*s", eq ? (int)(eq - spec) : (int)strlen(spec),
           spec);
  if (eq) {
    const char *rest = eq + 1;
    FILE *f;
    if (strchr(rest, '=')) {
      /* Go prints the extra parts as a list: [a b]. */
      char list[NM_SIGNAL_ARG_MAX];
      size_t k = 0;
      for (const char *p = rest; *p && k + 1 < sizeof(list); p++)
        list[k++] = *p == '=' ? ' ' : *p;
      list[k] = 0;
      snprintf(err, errlen, "invalid signal parameters: [%s]",
               strchr(list, ' ') + 1);
      return -1;
    }
    /* A pid file when it can be read, else the pid itself. */
    if ((f = fopen(rest, "r")) != NULL) {
      size_t n = fread(pidtxt, 1, sizeof(pidtxt) - 1, f);
      pidtxt[n] = 0;
      fclose(f);
    } else {
      snprintf(pidtxt, sizeof(pidtxt), "%s", rest);
    }
    have_pid = 1;
  }
  if (!have_pid) {
    int pids[NM_SIGNAL_PIDS_MAX];
    int n = find_pids(prog, pids, NM_SIGNAL_PIDS_MAX);
    if (n < 0) {
      snprintf(err, errlen, "unable to resolve pid, try providing one");
      return -1;
    }
    if (n == 0) {
      snprintf(err, errlen, "no %s processes running", prog);
      return -1;
    }
    if (n > 1) {
      size_t k =
          (size_t)snprintf(err, errlen, "multiple %s processes running:", prog);
      for (int i = 0; i < n && k < errlen; i++)
        k += (size_t)snprintf(err + k, errlen - k, "\n%d", pids[i]);
      return -1;
    }
    pid = pids[0];
  } else if (go_atoi(pidtxt, &pid) < 0) {
    snprintf(err, errlen, "invalid pid: %s", pidtxt);
    return -1;
  }
  if (!strcmp(cmd, "stop"))
    sig = SIGKILL;
  else if (!strcmp(cmd, "quit"))
    sig = SIGINT;
  else if (!strcmp(cmd, "reopen"))
    sig = SIGUSR1;
  else if (!strcmp(cmd, "reload"))
    sig = SIGHUP;
  else if (!strcmp(cmd, "ldm"))
    sig = SIGUSR2;
  else if (!strcmp(cmd, "term"))
    sig = SIGTERM;
  else {
    snprintf(err, errlen, "unknown signal \"%s\"", cmd);
    return -1;
  }
  if (kill((pid_t)pid, sig) != 0) {
    snprintf(err, errlen, "%s", nm_go_strerror(errno, eb, sizeof(eb)));
    return -1;
  }
  return 0;
}
