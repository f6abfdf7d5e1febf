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
  nm_natsserver_t srv;
  char url[64];
  char *cargv[NM_INTEROP_MAX_ARGS + 2];
  int pipefd[2];
  int timeout_s = 120;
  long long deadline;
  pid_t pid;
  int status = 0;
  int rc;
  int exec_errno = 0;

  if (argc == 3 && strcmp(argv[1], "--ports-file") == 0)
    return check_ports_file(argv[2]);
  if (argc < 3 || argc - 2 > NM_INTEROP_MAX_ARGS) {
    fprintf(stderr, "usage: %s SERVER_BINARY CLIENT [ARGS...]\n", argv[0]);
    return 2;
  }
  if (getenv("NM_INTEROP_TIMEOUT"))
    timeout_s = atoi(getenv("NM_INTEROP_TIMEOUT"));
  if (nm_server_proc_start(&srv, argv[1], NULL, NULL) != 0) {
    fprintf(stderr, "nm_interop_run: %s did not start\n", argv[1]);
    return 1;
  }
  snprintf(url, sizeof(url), "nats://127.0.0.1:%d", srv.port);
  for (int i = 2; i < argc; i++)
    cargv[i - 2] = argv[i];
  cargv[argc - 2] = url;
  cargv[argc - 1] = NULL;
  fprintf(stderr, "nm_interop_run: %s on %s\n", argv[1], url);

  /* A close-on-exec pipe tells the parent whether exec itself failed. */
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    nm_natsserver_stop(&srv);
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
  if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
    fprintf(stderr, "nm_interop_run: the server exited during the run\n");
    srv.pid = 0;
    rc = 1;
  }
  nm_natsserver_stop(&srv);
  return rc;
}
