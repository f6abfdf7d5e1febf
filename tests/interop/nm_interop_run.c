/* Runs a real client program against a server process:
 *
 *   nm_interop_run SERVER_BINARY CLIENT [ARGS...]
 *
 * starts SERVER_BINARY with nats-server's command line on an ephemeral port
 * (`-a 127.0.0.1 -p -1 --ports_file_dir DIR`), runs CLIENT ARGS... URL, and
 * exits with the client's status. The client is killed after
 * NM_INTEROP_TIMEOUT seconds (default 120). A server that is gone when the
 * client finishes fails the run. Exit 77 (ctest's skip code here) only when
 * the client program cannot be executed at all, e.g. node is not installed.
 *
 *   nm_interop_run --ldm SERVER_BINARY CLIENT [ARGS...]
 *
 * starts two independent servers A and B (not clustered; lame duck grace
 * period 1 s) and runs CLIENT ARGS... URL_A URL_B PID_A: the client connects
 * to A then B, puts A in lame duck mode (SIGUSR2 to PID_A) and must see it
 * and end up on B. The run fails unless A then exits 0 (its lame duck mode
 * done) and B still runs.
 *
 *   nm_interop_run --ports-file SERVER_BINARY
 *
 * checks the ports file instead: present while the server runs, gone after
 * SIGTERM (nats-server removes it on exit). */
#define _GNU_SOURCE /* pipe2 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nm_test_util.h"

#define NM_INTEROP_SKIP 77
#define NM_INTEROP_MAX_ARGS 32
/* Lame duck settings of the --ldm servers: nats-server's shortest duration,
 * a short grace so the client is moved within a second or two. */
#define NM_INTEROP_LDM_CONFIG                                                  \
  "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n"

/* 1 when DIR holds a file ending in _PID.ports. */
static int has_ports_file(const char *dir, pid_t pid) {
  char suffix[32];
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  snprintf(suffix, sizeof(suffix), "_%d.ports", (int)pid);
  if (!d)
    return 0;
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name), k = strlen(suffix);
    if (n > k && strcmp(e->d_name + n - k, suffix) == 0)
      found = 1;
  }
  closedir(d);
  return found;
}

static int check_ports_file(const char *binary) {
  nm_natsserver_t srv;
  pid_t pid;
  int status;
  long long deadline;
  int rc = 0;

  if (nm_server_proc_start(&srv, binary, NULL, NULL) != 0) {
    fprintf(stderr, "nm_interop_run: %s did not start\n", binary);
    return 1;
  }
  pid = srv.pid;
  if (!has_ports_file(srv.dir, pid)) {
    fprintf(stderr, "FAIL: no ports file while running\n");
    rc = 1;
  }
  kill(pid, SIGTERM);
  deadline = nm_test_now_ms() + 5000;
  while (waitpid(pid, &status, WNOHANG) == 0 && nm_test_now_ms() < deadline)
    usleep(5000); /* waiting on a child: waitpid has no timeout */
  srv.pid = 0;
  if (has_ports_file(srv.dir, pid)) {
    fprintf(stderr, "FAIL: %s left its ports file after SIGTERM\n", binary);
    rc = 1;
  } else if (rc == 0) {
    printf("ok: ports file written while running, removed on exit\n");
  }
  nm_natsserver_stop(&srv); /* the process is gone: removes the dir */
  return rc;
}

int main(int argc, char **argv) {
  nm_natsserver_t srv, srv_b;
  char url[64], url_b[64], pid_a[32];
  char *cargv[NM_INTEROP_MAX_ARGS + 4];
  int ldm = 0, nc;
  int pipefd[2];
  int timeout_s = 120;
  long long deadline;
  pid_t pid;
  int status = 0;
  int rc;
  int exec_errno = 0;

  if (argc == 3 && strcmp(argv[1], "--ports-file") == 0)
    return check_ports_file(argv[2]);
  if (argc > 1 && strcmp(argv[1], "--ldm") == 0) {
    ldm = 1;
    argv++;
    argc--;
  }
  if (argc < 3 || argc - 2 > NM_INTEROP_MAX_ARGS) {
    fprintf(stderr, "usage: %s [--ldm] SERVER_BINARY CLIENT [ARGS...]\n",
            argv[0]);
    return 2;
  }
  if (getenv("NM_INTEROP_TIMEOUT"))
    timeout_s = atoi(getenv("NM_INTEROP_TIMEOUT"));
  if (nm_server_proc_start(&srv, argv[1], ldm ? NM_INTEROP_LDM_CONFIG : NULL,
                           NULL) != 0) {
    fprintf(stderr, "nm_interop_run: %s did not start\n", argv[1]);
    return 1;
  }
  memset(&srv_b, 0, sizeof(srv_b));
  if (ldm &&
      nm_server_proc_start(&srv_b, argv[1], NM_INTEROP_LDM_CONFIG, NULL) != 0) {
    fprintf(stderr, "nm_interop_run: %s (B) did not start\n", argv[1]);
    nm_natsserver_stop(&srv);
    return 1;
  }
  snprintf(url, sizeof(url), "nats://127.0.0.1:%d", srv.port);
  snprintf(url_b, sizeof(url_b), "nats://127.0.0.1:%d", srv_b.port);
  snprintf(pid_a, sizeof(pid_a), "%d", (int)srv.pid);
  for (nc = 0; nc + 2 < argc; nc++)
    cargv[nc] = argv[nc + 2];
  cargv[nc++] = url;
  if (ldm) {
    cargv[nc++] = url_b;
    cargv[nc++] = pid_a;
  }
  cargv[nc] = NULL;
  fprintf(stderr, "nm_interop_run: %s on %s%s%s\n", argv[1], url,
          ldm ? " and " : "", ldm ? url_b : "");

  /* A close-on-exec pipe tells the parent whether exec itself failed. */
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    nm_natsserver_stop(&srv);
    nm_natsserver_stop(&srv_b);
    return 1;
  }
  pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(pipefd[0]);
    execvp(cargv[0], cargv);
    exec_errno = errno;
    if (write(pipefd[1], &exec_errno, sizeof(exec_errno)) < 0)
      _exit(127);
    _exit(127);
  }
  close(pipefd[1]);
  if (pid < 0 ||
      read(pipefd[0], &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno)) {
    close(pipefd[0]);
    if (pid > 0)
      waitpid(pid, &status, 0);
    nm_natsserver_stop(&srv);
    nm_natsserver_stop(&srv_b);
    fprintf(stderr, "nm_interop_run: cannot run %s: %s (skipped)\n", cargv[0],
            strerror(exec_errno));
    return NM_INTEROP_SKIP;
  }
  close(pipefd[0]);

  deadline = nm_test_now_ms() + (long long)timeout_s * 1000;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid)
      break;
    if (nm_test_now_ms() > deadline) {
      fprintf(stderr, "nm_interop_run: client timed out after %d s\n",
              timeout_s);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    usleep(20000); /* waiting on a child: waitpid has no timeout */
  }
  rc = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  if (rc == NM_INTEROP_SKIP)
    rc = 1; /* only a missing interpreter may skip */
  if (ldm) {
    /* A's lame duck mode ends with its exit 0 once its clients are gone. */
    deadline = nm_test_now_ms() + 10000;
    while (waitpid(srv.pid, &status, WNOHANG) != srv.pid) {
      if (nm_test_now_ms() > deadline) {
        fprintf(stderr, "nm_interop_run: A still runs after lame duck\n");
        status = -1;
        rc = 1;
        break;
      }
      usleep(20000); /* waiting on a child: waitpid has no timeout */
    }
    if (status != -1) {
      srv.pid = 0;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "nm_interop_run: A ended with status %d\n", status);
        rc = 1;
      }
    }
    if (waitpid(srv_b.pid, &status, WNOHANG) == srv_b.pid) {
      fprintf(stderr, "nm_interop_run: B exited during the run\n");
      srv_b.pid = 0;
      rc = 1;
    }
  } else if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
    fprintf(stderr, "nm_interop_run: the server exited during the run\n");
    srv.pid = 0;
    rc = 1;
  }
  nm_natsserver_stop(&srv);
  nm_natsserver_stop(&srv_b);
  return rc;
}
