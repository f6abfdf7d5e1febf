/* --server CMD: a real server (nats-server 2.9.10) as a child process on an
 * ephemeral port, for scenarios without fault steps. With --proxy, natsmock's
 * proxy (proxy/) runs in-process on the run's loop in front of it: the
 * drivers connect to the proxy, fault steps go to the proxy's engine, and its
 * observer feeds the timeline as the mock's does. It is started as
 * CMD -a 127.0.0.1 -p -1 --ports_file_dir DIR [-c DIR/server.conf] and its
 * port is read from the ports file it writes (DIR/<name>_<pid>.ports). */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nm_run_int.h"
#include "nm_spawn.h"

/* Size of a ports file or config file text. */
#define NM_REAL_TEXT_MAX 4096
/* Re-read the ports directory at least this often, in case a file-system
 * event is missed. */
#define NM_REAL_RECHECK_MS 50

static void on_real_exit(uv_process_t *p, int64_t status, int sig) {
  nm_run_t *r = p->data;
  r->real.exited = 1;
  if (!r->in_teardown)
    nm__run_fatal(r, "the real server exited (status %lld, signal %d)",
                  (long long)status, sig);
}

static void on_watch(uv_fs_event_t *h, const char *f, int ev, int st) {
  (void)h; /* wakes uv_run; the wait predicate reads the directory */
}

static int read_port(nm_run_t *r, void *arg) {
  char suffix[32], path[NM_RUN_PATH_MAX + 300], text[NM_REAL_TEXT_MAX];
  DIR *d;
  struct dirent *e;
  FILE *f = NULL;
  size_t n;
  cJSON *j;
  const cJSON *url;

  snprintf(suffix, sizeof(suffix), "_%d.ports", r->real.proc.pid);
  d = opendir(r->real.dir);
  if (!d)
    return 0;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name), sl = strlen(suffix);
    if (len > sl && strcmp(e->d_name + len - sl, suffix) == 0) {
      snprintf(path, sizeof(path), "%s/%s", r->real.dir, e->d_name);
      f = fopen(path, "r");
      break;
    }
  }
  closedir(d);
  if (!f)
    return 0;
  n = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[n] = '\0';
  j = cJSON_Parse(text);
  url = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "nats"), 0);
  if (cJSON_IsString(url)) {
    const char *colon = strrchr(url->valuestring, ':');
    r->real.port = colon ? atoi(colon + 1) : 0;
  }
  cJSON_Delete(j);
  return r->real.port > 0;
}

static void duration(char *out, size_t n, uint64_t ms) {
  if (ms == 0)
    snprintf(out, n, "\"1h\""); /* the mock's 0 means never */
  else
    snprintf(out, n, "\"%llums\"", (unsigned long long)ms);
}

/* Writes the scenario's server options as a nats-server config file.
 * Returns 1 when a file was written, 0 when none is needed, -1 on error. */
static int write_config(nm_run_t *r, const cJSON *opts, char *path,
                        size_t plen) {
  char text[NM_REAL_TEXT_MAX], d[32];
  size_t n = 0;
  const cJSON *x;
  const char *user = NULL, *pass = NULL, *token = NULL;
  double auth_timeout = -1;
  FILE *f;

  text[0] = '\0';
  cJSON_ArrayForEach(x, opts) {
    const char *k = x->string;
    uint64_t v = cJSON_IsNumber(x) ? (uint64_t)x->valuedouble : 0;
    if (n >= sizeof(text) - 128)
      return -1;
    if (!strcmp(k, "max_payload") || !strcmp(k, "max_control_line") ||
        !strcmp(k, "max_pending") || !strcmp(k, "max_connections") ||
        !strcmp(k, "ping_max")) {
      n += (size_t)snprintf(text + n, sizeof(text) - n, "%s: %llu\n", k,
                            (unsigned long long)v);
    } else if (!strcmp(k, "ping_interval_ms")) {
      duration(d, sizeof(d), v);
      n += (size_t)snprintf(text + n, sizeof(text) - n, "ping_interval: %s\n",
                            d);
    } else if (!strcmp(k, "write_deadline_ms")) {
      duration(d, sizeof(d), v);
      n += (size_t)snprintf(text + n, sizeof(text) - n, "write_deadline: %s\n",
                            d);
    } else if (!strcmp(k, "user")) {
      user = x->valuestring;
    } else if (!strcmp(k, "pass")) {
      pass = x->valuestring;
    } else if (!strcmp(k, "token")) {
      token = x->valuestring;
    } else if (!strcmp(k, "auth_timeout_ms")) {
      auth_timeout = (double)v / 1000.0;
    }
  }
  if (user || pass || token || auth_timeout >= 0) {
    n += (size_t)snprintf(text + n, sizeof(text) - n, "authorization {\n");
    if (user)
      n += (size_t)snprintf(text + n, sizeof(text) - n, "  user: \"%s\"\n",
                            user);
    if (pass)
      n += (size_t)snprintf(text + n, sizeof(text) - n, "  password: \"%s\"\n",
                            pass);
    if (token)
      n += (size_t)snprintf(text + n, sizeof(text) - n, "  token: \"%s\"\n",
                            token);
    if (auth_timeout >= 0)
      n += (size_t)snprintf(text + n, sizeof(text) - n, "  timeout: %g\n",
                            auth_timeout);
    n += (size_t)snprintf(text + n, sizeof(text) - n, "}\n");
  }
  if (n == 0)
    return 0;
  if (n >= sizeof(text))
    return -1;
  snprintf(path, plen, "%s/server.conf", r->real.dir);
  f = fopen(path, "w");
  if (!f)
    return -1;
  fputs(text, f);
  fclose(f);
  return 1;
}

static int start_proxy(nm_run_t *r) {
  nm_proxy_opts_t o;
  char err[512];
  int e;

  nm_proxy_opts_init(&o);
  o.upstream = r->url;
  o.port = 0;
  o.seed = (uint64_t)r->res->seed;
  if (nm_proxy_new(&r->loop, &o, &r->real.proxy, err, sizeof(err)) != 0) {
    nm__run_fatal(r, "proxy: %s", err);
    return -1;
  }
  /* Both legs: the server leg goes into the timeline as from_server /
   * to_server entries, which the invariants do not read. */
  nm_proxy_set_observer(r->real.proxy, nm__run_on_obs, r, 1);
  if ((e = nm_proxy_start(r->real.proxy)) < 0) {
    nm__run_fatal(r, "proxy: listen: %s", uv_strerror(e));
    return -1;
  }
  nm_proxy_url(r->real.proxy, r->url, sizeof(r->url));
  return 0;
}

static void on_proxy_stopped(nm_proxy_t *p, void *data) {
  ((nm_run_t *)data)->real.proxy_done = 1;
}

static int proxy_stopped(nm_run_t *r, void *arg) {
  return r->real.proxy_done;
}

int nm__realsrv_start(nm_run_t *r, const char *cmd, const cJSON *opts) {
  char conf[NM_RUN_PATH_MAX + 32], *script;
  uv_stdio_container_t stdio[3];
  uint64_t limit;
  int c, e;

  snprintf(r->real.dir, sizeof(r->real.dir), "/tmp/nm-harness-XXXXXX");
  if (!mkdtemp(r->real.dir)) {
    r->real.dir[0] = '\0';
    return -1;
  }
  c = write_config(r, opts, conf, sizeof(conf));
  if (c < 0)
    return -1;
  if (asprintf(&script, "exec %s -a 127.0.0.1 -p -1 --ports_file_dir %s%s%s",
               cmd, r->real.dir, c ? " -c " : "", c ? conf : "") < 0)
    return -1;
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_IGNORE;
  stdio[2].flags = UV_IGNORE;
  r->real.proc.data = r;
  e = nm__spawn_sh(&r->loop, &r->real.proc, script, on_real_exit, stdio);
  free(script);
  if (e < 0)
    return -1;
  r->real.spawned = 1;
  if (uv_fs_event_init(&r->loop, &r->real.watch) == 0 &&
      uv_fs_event_start(&r->real.watch, on_watch, r->real.dir, 0) == 0)
    r->real.watching = 1;
  limit = nm__run_now(r) + NM_RUN_REAL_START_MS * 1000;
  while (!read_port(r, NULL) && !r->fatal && nm__run_now(r) < limit)
    nm__run_wait(r, read_port, NULL,
                 nm__run_now(r) + NM_REAL_RECHECK_MS * 1000);
  if (r->real.port <= 0) {
    nm__run_fatal(r, "%s wrote no ports file within %d ms", cmd,
                  NM_RUN_REAL_START_MS);
    return -1;
  }
  snprintf(r->url, sizeof(r->url), "nats://127.0.0.1:%d", r->real.port);
  return r->o->proxy ? start_proxy(r) : 0;
}

static int real_exited(nm_run_t *r, void *arg) {
  return r->real.exited;
}

static void rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[NM_RUN_PATH_MAX + 300];
  if (!d)
    return;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

void nm__realsrv_stop(nm_run_t *r) {
  if (r->real.proxy) {
    nm_proxy_stop(r->real.proxy, on_proxy_stopped, r);
    nm__run_wait(r, proxy_stopped, NULL,
                 nm__run_now(r) + NM_RUN_EXIT_MS * 1000);
    /* Freed only once its handles closed; else left to close_loop's walk
     * (a leak beats a use after free). */
    if (r->real.proxy_done)
      nm_proxy_free(r->real.proxy);
    r->real.proxy = NULL;
  }
  if (r->real.watching) {
    uv_fs_event_stop(&r->real.watch);
    uv_close((uv_handle_t *)&r->real.watch, NULL);
    r->real.watching = 0;
  }
  if (r->real.spawned && !r->real.exited) {
    uv_process_kill(&r->real.proc, SIGTERM);
    if (nm__run_wait(r, real_exited, NULL,
                     nm__run_now(r) + NM_RUN_EXIT_MS * 1000) != 1) {
      uv_process_kill(&r->real.proc, SIGKILL);
      nm__run_wait(r, real_exited, NULL,
                   nm__run_now(r) + NM_RUN_EXIT_MS * 1000);
    }
  }
  if (r->real.spawned && !r->real.closed) {
    uv_close((uv_handle_t *)&r->real.proc, NULL);
    r->real.closed = 1;
  }
  if (r->real.dir[0]) {
    rm_dir(r->real.dir);
    r->real.dir[0] = '\0';
  }
}
