#include "nm_test_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long nm_test_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int nm_test_connect(int port) {
  struct sockaddr_in sa;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0)
    return -1;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

int nm_test_send(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

int nm_test_send_str(int fd, const char *s) {
  return nm_test_send(fd, s, strlen(s));
}

size_t nm_test_read(int fd, char *buf, size_t cap, const char *needle,
                    int timeout_ms, int settle_ms, nm_peer_state_t *state) {
  size_t len = 0;
  long long deadline = nm_test_now_ms() + timeout_ms;
  int found = 0;
  nm_peer_state_t st = NM_PEER_OPEN;

  buf[0] = '\0';
  for (;;) {
    long long now = nm_test_now_ms();
    int wait;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ssize_t r;

    if (now >= deadline)
      break;
    wait = (int)(deadline - now);
    if (poll(&pfd, 1, wait) <= 0)
      break;
    if (len + 1 >= cap) {
      /* Buffer full: drain and discard so the peer's close is still seen. */
      char sink[4096];
      r = recv(fd, sink, sizeof(sink), 0);
    } else {
      r = recv(fd, buf + len, cap - 1 - len, 0);
    }
    if (r == 0) {
      st = NM_PEER_EOF;
      break;
    }
    if (r < 0) {
      if (errno == EINTR)
        continue;
      st = errno == ECONNRESET ? NM_PEER_RST : NM_PEER_EOF;
      break;
    }
    if (len + 1 < cap) {
      len += (size_t)r;
      buf[len] = '\0';
    }
    if (!found && needle && strstr(buf, needle)) {
      found = 1;
      if (settle_ms <= 0)
        break;
      deadline = nm_test_now_ms() + settle_ms;
    }
  }
  if (state)
    *state = st;
  return len;
}

ssize_t nm_test_read_line(int fd, char *buf, size_t cap, int timeout_ms) {
  size_t len = 0;
  long long deadline = nm_test_now_ms() + timeout_ms;
  while (len + 1 < cap) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    long long now = nm_test_now_ms();
    if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
      return -1;
    if (recv(fd, buf + len, 1, 0) != 1)
      return -1;
    len++;
    if (buf[len - 1] == '\n') {
      buf[len] = '\0';
      return (ssize_t)len;
    }
  }
  return -1;
}

int nm_natsserver_available(void) {
  return system("command -v nats-server >/dev/null 2>&1") == 0;
}

/* The ports file is DIR/<program>_<pid>.ports (nats-server names it
 * nats-server_<pid>.ports); its text is {"nats":["nats://127.0.0.1:PORT"]}.
 * Any program name is accepted so one helper serves every server binary. */
static int read_ports_file(const char *dir, pid_t pid) {
  char suffix[32];
  char path[600];
  char text[512];
  DIR *d;
  struct dirent *e;
  FILE *f = NULL;
  size_t n;
  char *p;
  char *end;

  snprintf(suffix, sizeof(suffix), "_%d.ports", (int)pid);
  d = opendir(dir);
  if (!d)
    return -1;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    size_t slen = strlen(suffix);
    if (len > slen && strcmp(e->d_name + len - slen, suffix) == 0) {
      snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
      f = fopen(path, "r");
      break;
    }
  }
  closedir(d);
  if (!f)
    return -1;
  n = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[n] = '\0';
  /* The port follows the last ':' of the first URL in the "nats" list. */
  p = strstr(text, "\"nats\"");
  if (!p || !(p = strchr(p, '[')) || !(p = strchr(p, '"')) ||
      !(end = strchr(p + 1, '"')))
    return -1;
  *end = '\0';
  if (!(p = strrchr(p, ':')))
    return -1;
  return atoi(p + 1);
}

int nm_natsserver_start(nm_natsserver_t *ns, const char *config,
                        const char *const *extra_args) {
  return nm_server_proc_start(ns, "nats-server", config, extra_args);
}

int nm_server_proc_start(nm_natsserver_t *ns, const char *binary,
                         const char *config, const char *const *extra_args) {
  const char *argv[64];
  int argc = 0;
  char conf_path[300];
  char log_path[300];
  long long deadline;

  memset(ns, 0, sizeof(*ns));
  snprintf(ns->dir, sizeof(ns->dir), "/tmp/nm-natsserver-XXXXXX");
  if (!mkdtemp(ns->dir))
    return -1;
  argv[argc++] = binary;
  argv[argc++] = "-a";
  argv[argc++] = "127.0.0.1";
  argv[argc++] = "-p";
  argv[argc++] = "-1";
  argv[argc++] = "--ports_file_dir";
  argv[argc++] = ns->dir;
  if (config) {
    FILE *f;
    snprintf(conf_path, sizeof(conf_path), "%s/server.conf", ns->dir);
    f = fopen(conf_path, "w");
    if (!f)
      return -1;
    fputs(config, f);
    fclose(f);
    argv[argc++] = "-c";
    argv[argc++] = conf_path;
  }
  for (int i = 0; extra_args && extra_args[i] && argc < 62; i++)
    argv[argc++] = extra_args[i];
  argv[argc] = NULL;
  snprintf(log_path, sizeof(log_path), "%s/server.log", ns->dir);

  ns->pid = fork();
  if (ns->pid < 0)
    return -1;
  if (ns->pid == 0) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    /* A test that dies (Check's timeout kills it) takes its server along. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execvp(binary, (char *const *)argv);
    _exit(127);
  }
  deadline = nm_test_now_ms() + 10000;
  while (nm_test_now_ms() < deadline) {
    int status;
    if (waitpid(ns->pid, &status, WNOHANG) == ns->pid) {
      ns->pid = 0;
      return -1;
    }
    ns->port = read_ports_file(ns->dir, ns->pid);
    /* No probe connection: both servers write the ports file only once
     * the listener is bound (nats-server 2.9.10's logPorts waits for its
     * listeners; natsmock renames the file into place after listen), so a
     * connect from here on lands in the backlog. A probe used to take a
     * max_connections slot that nats-server frees a little after it closes
     * the socket, which made max_connections_1 fail now and then. The
     * partial file of a write in progress parses as no port. */
    if (ns->port > 0)
      return 0;
    usleep(5000); /* polling for a child's ports file: no event to await */
  }
  nm_natsserver_stop(ns);
  return -1;
}

void nm_natsserver_stop(nm_natsserver_t *ns) {
  char cmd[400];
  if (ns->pid > 0) {
    int status;
    long long deadline = nm_test_now_ms() + 5000;
    kill(ns->pid, SIGTERM);
    while (waitpid(ns->pid, &status, WNOHANG) == 0) {
      if (nm_test_now_ms() > deadline) {
        kill(ns->pid, SIGKILL);
        waitpid(ns->pid, &status, 0);
        break;
      }
      usleep(2000);
    }
    ns->pid = 0;
  }
  if (ns->dir[0]) {
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ns->dir);
    if (system(cmd) != 0) {
      /* best effort */
    }
    ns->dir[0] = '\0';
  }
}

int nm_test_shell(const char *cmd, char *out, size_t cap) {
  FILE *p = popen(cmd, "r");
  size_t n;
  int st;
  if (!p)
    return -1;
  n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  /* Read to the end, so the command never blocks on a full pipe. */
  while (n == cap - 1 && fgetc(p) != EOF) {
  }
  st = pclose(p);
  return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int nm_test_write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  FILE *f;
  int ok;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (!(f = fopen(path, "w")))
    return -1;
  ok = fputs(text, f) >= 0;
  return fclose(f) == 0 && ok ? 0 : -1;
}

int nm_test_count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
    n++;
  return n;
}
