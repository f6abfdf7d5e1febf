/* The proxy object: options, the upstream address, the listener, the fault
 * engine it hosts, observation, stopping (on the caller's loop or on a
 * thread of its own). */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_proxy_int.h"
#include "nm_stdfds.h"

void nm_proxy_opts_init(nm_proxy_opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->host = "127.0.0.1";
}

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...) {
  va_list ap;
  if (err != NULL && errlen > 0) {
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* "nats://HOST:PORT", "HOST:PORT" or "[v6]:PORT" into host and port. */
static int parse_upstream(const char *url, char *host, size_t hn, int *port) {
  const char *p = url, *colon;
  char *end;
  long v;
  size_t n;

  if (strncmp(p, "nats://", 7) == 0)
    p += 7;
  else if (strstr(p, "://") != NULL)
    return -1; /* tls://, ws://: not spoken here */
  if (strchr(p, '@') != NULL || strchr(p, '/') != NULL)
    return -1;
  if (*p == '[') {
    const char *rb = strchr(p, ']');
    if (rb == NULL || rb[1] != ':')
      return -1;
    n = (size_t)(rb - p - 1);
    if (n == 0 || n >= hn)
      return -1;
    memcpy(host, p + 1, n);
    host[n] = '\0';
    colon = rb + 1;
  } else {
    colon = strrchr(p, ':');
    if (colon == NULL || colon == p)
      return -1;
    n = (size_t)(colon - p);
    if (n >= hn)
      return -1;
    memcpy(host, p, n);
    host[n] = '\0';
  }
  errno = 0;
  v = strtol(colon + 1, &end, 10);
  if (errno != 0 || *end != '\0' || end == colon + 1 || v < 1 || v > 65535)
    return -1;
  *port = (int)v;
  return 0;
}

static int resolve(nm_proxy_t *px) {
  uv_getaddrinfo_t req;
  struct addrinfo hints;
  char port[16];
  int r;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  snprintf(port, sizeof(port), "%d", px->up_port);
  r = uv_getaddrinfo(px->loop, &req, NULL, px->up_host, port, &hints);
  if (r != 0)
    return r;
  if (req.addrinfo == NULL ||
      req.addrinfo->ai_addrlen > (socklen_t)sizeof(px->up_addr)) {
    uv_freeaddrinfo(req.addrinfo);
    return UV_EAI_NONAME;
  }
  memcpy(&px->up_addr, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
  uv_freeaddrinfo(req.addrinfo);
  return 0;
}

/* The faults file: one document, applied before the first connection. */
static int load_faults(nm_proxy_t *px, char *err, size_t errlen) {
  FILE *f = fopen(px->opts.faults_file, "rb");
  char *text, ferr[512];
  long n;
  int r;

  if (f == NULL)
    return fail(err, errlen, NM_EINVAL, "--faults %s: %s", px->opts.faults_file,
                strerror(errno));
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0 || n > 1024 * 1024) {
    fclose(f);
    return fail(err, errlen, NM_EINVAL, "--faults %s: unreadable or over 1 MiB",
                px->opts.faults_file);
  }
  text = malloc((size_t)n + 1);
  if (text == NULL || fread(text, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(text);
    return fail(err, errlen, NM_EINVAL, "--faults %s: read failed",
                px->opts.faults_file);
  }
  fclose(f);
  text[n] = '\0';
  ferr[0] = '\0';
  r = nm_faults_apply(px->faults, text, NULL, ferr, sizeof(ferr));
  free(text);
  if (r != 0)
    return fail(err, errlen, r, "--faults %s: %s", px->opts.faults_file, ferr);
  return 0;
}

int nm_proxy_new(uv_loop_t *loop, const nm_proxy_opts_t *o, nm_proxy_t **out,
                 char *err, size_t errlen) {
  nm_proxy_t *px;
  int r;

  if (o->upstream == NULL || o->upstream[0] == '\0')
    return fail(err, errlen, NM_EINVAL, "--proxy: an upstream URL is needed");
  if (o->http_port < -1 || o->http_port > 65535)
    return fail(err, errlen, NM_EINVAL,
                "--http_port %d: expected -1 (random), 0 (none) or a port",
                o->http_port);
  px = calloc(1, sizeof(*px));
  if (px == NULL)
    return fail(err, errlen, NM_ENOMEM, "out of memory");
  px->loop = loop;
  px->opts = *o;
  nm__proxy_own_init(px);
  px->s_host = strdup(o->host ? o->host : "127.0.0.1");
  px->s_faults = o->faults_file ? strdup(o->faults_file) : NULL;
  px->opts.host = px->s_host;
  px->opts.faults_file = px->s_faults;
  px->opts.upstream = NULL; /* parsed below; the text is not kept */
  if (px->s_host == NULL || (o->faults_file && px->s_faults == NULL)) {
    nm_proxy_free(px);
    return fail(err, errlen, NM_ENOMEM, "out of memory");
  }
  if (parse_upstream(o->upstream, px->up_host, sizeof(px->up_host),
                     &px->up_port) != 0) {
    nm_proxy_free(px);
    return fail(err, errlen, NM_EINVAL,
                "--proxy %s: expected nats://HOST:PORT (HOST:PORT also "
                "accepted)",
                o->upstream);
  }
  if ((r = resolve(px)) != 0) {
    int e = fail(err, errlen, NM_EINVAL, "--proxy %s: %s", o->upstream,
                 uv_strerror(r));
    nm_proxy_free(px);
    return e;
  }
  px->faults = nm_faults_new(loop, &nm__proxy_fault_host, px);
  if (px->faults == NULL) {
    nm_proxy_free(px);
    return fail(err, errlen, NM_ENOMEM, "out of memory");
  }
  if (px->opts.no_mock_control)
    nm_faults_set_control(px->faults, 0);
  if (px->opts.faults_file && (r = load_faults(px, err, errlen)) != 0) {
    nm_proxy_free(px);
    return r;
  }
  r = uv_timer_init(loop, &px->restart_timer);
  if (r < 0) {
    nm_proxy_free(px);
    return fail(err, errlen, r, "timer: %s", uv_strerror(r));
  }
  px->restart_timer.data = px;
  px->handles++;
  *out = px;
  return 0;
}

static void on_connection(uv_stream_t *l, int status) {
  nm_proxy_t *px = l->data;
  if (status < 0 || px->stopping)
    return;
  nm__pconn_accept(px);
}

static void on_generic_closed(uv_handle_t *h) {
  nm_proxy_t *px = h->data;
  if (h == (uv_handle_t *)&px->listener)
    px->listener_closing = 0;
  nm__proxy_handle_closed(px);
}

void nm__proxy_close_listener(nm_proxy_t *px) {
  if (!px->listening)
    return;
  px->listening = 0;
  px->listener_closing = 1;
  uv_close((uv_handle_t *)&px->listener, on_generic_closed);
}

int nm__proxy_listen(nm_proxy_t *px, int port) {
  struct sockaddr_storage ss;
  int len = sizeof(ss), r;

  /* The listener must not become descriptor 0-2 (nm_stdfds.h). */
  if ((r = nm_hold_std_fds()) < 0)
    return r;
  memset(&ss, 0, sizeof(ss));
  if (uv_ip4_addr(px->opts.host, port, (struct sockaddr_in *)&ss) != 0 &&
      uv_ip6_addr(px->opts.host, port, (struct sockaddr_in6 *)&ss) != 0)
    return UV_EINVAL;
  r = uv_tcp_init(px->loop, &px->listener);
  if (r < 0)
    return r;
  px->listener.data = px;
  px->handles++;
  px->listening = 1;
  r = uv_tcp_bind(&px->listener, (struct sockaddr *)&ss, 0);
  if (r == 0)
    r = uv_listen((uv_stream_t *)&px->listener, 511, on_connection);
  if (r == 0)
    r = uv_tcp_getsockname(&px->listener, (struct sockaddr *)&ss, &len);
  if (r < 0) {
    nm__proxy_close_listener(px);
    return r;
  }
  px->port =
      ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
  return 0;
}

int nm_proxy_start(nm_proxy_t *p) {
  struct sigaction sa;
  /* libuv writes with write(2): a closed peer must not kill the process. */
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
  int r = nm__proxy_listen(p, p->opts.port > 0 ? p->opts.port : 0);
  if (r == 0 && p->opts.http_port != 0)
    r = nm__proxy_http_start(p);
  return r;
}

int nm_proxy_port(const nm_proxy_t *p) {
  return p->port;
}

const char *nm_proxy_url(const nm_proxy_t *p, char *out, size_t n) {
  snprintf(out, n, "nats://%s:%d", p->opts.host, p->port);
  return out;
}

int nm_proxy_num_conns(const nm_proxy_t *p) {
  return p->nconns;
}

void nm__proxy_handle_closed(nm_proxy_t *px) {
  px->handles--;
  if (px->stopping && px->handles == 0 && px->done != NULL) {
    void (*done)(nm_proxy_t *, void *) = px->done;
    px->done = NULL;
    done(px, px->done_data);
  }
}

void nm_proxy_stop(nm_proxy_t *p, void (*done)(nm_proxy_t *, void *),
                   void *data) {
  if (p->stopping)
    return;
  p->stopping = 1;
  p->done = done;
  p->done_data = data;
  p->handles++; /* held until the end of this function */
  nm__proxy_close_listener(p);
  nm__proxy_http_stop(p);
  nm__proxy_own_close(p);
  uv_timer_stop(&p->restart_timer);
  uv_close((uv_handle_t *)&p->restart_timer, on_generic_closed);
  while (p->head != NULL)
    nm__pconn_close(p->head, NM_CLOSE_FIN, "proxy stopping");
  nm_faults_stop(p->faults);
  nm__proxy_handle_closed(p);
}

void nm_proxy_free(nm_proxy_t *p) {
  if (p == NULL)
    return;
  nm_faults_free(p->faults);
  nm__proxy_own_free(p);
  free(p->s_host);
  free(p->s_faults);
  free(p);
}

void nm_proxy_set_observer(nm_proxy_t *p, nm_obs_cb cb, void *data,
                           int upstream_leg) {
  p->obs = cb;
  p->obs_data = data;
  p->obs_upstream = upstream_leg;
}

/* -V: one line per event, both legs: "[id] C->P PUB foo 5" style. */
static void trace_line(nm_proxy_t *px, const nm_obs_event_t *ev) {
  const char *dir = "";
  int n;
  switch (ev->kind) {
  case NM_OBS_OPEN:
    fprintf(stderr, "[%llu] open\n", (unsigned long long)ev->conn_id);
    return;
  case NM_OBS_CLOSE:
    fprintf(stderr, "[%llu] close: %s\n", (unsigned long long)ev->conn_id,
            ev->detail ? ev->detail : "");
    return;
  case NM_OBS_ACTION:
    fprintf(stderr, "[%llu] %s %s%s%s\n", (unsigned long long)ev->conn_id,
            ev->action ? ev->action : "", ev->rule ? ev->rule : "",
            ev->detail ? ": " : "", ev->detail ? ev->detail : "");
    return;
  case NM_OBS_IN:
    dir = ev->leg == NM_OBS_LEG_CLIENT ? "client->proxy" : "server->proxy";
    break;
  case NM_OBS_OUT:
    dir = ev->leg == NM_OBS_LEG_CLIENT ? "proxy->client" : "proxy->server";
    break;
  }
  if (ev->frame != NULL) {
    n = ev->frame->line.n > 200 ? 200 : (int)ev->frame->line.n;
    fprintf(stderr, "[%llu] %s %.*s\n", (unsigned long long)ev->conn_id, dir, n,
            ev->frame->line.p);
  } else {
    fprintf(stderr, "[%llu] %s %zu raw bytes\n",
            (unsigned long long)ev->conn_id, dir, ev->bytes.n);
  }
}

void nm__proxy_observe(nm_proxy_t *px, nm_obs_kind_t kind, nm_obs_leg_t leg,
                       uint64_t id, const nm_frame_t *f, nm_slice_t bytes,
                       const char *rule, const char *action,
                       const char *detail) {
  nm_obs_event_t ev;

  if (px->obs == NULL && !px->opts.trace)
    return;
  nm_obs_event_fill(&ev, kind, id, f, bytes, rule, action, detail);
  ev.leg = leg;
  if (px->opts.trace)
    trace_line(px, &ev);
  if (px->obs != NULL && (leg == NM_OBS_LEG_CLIENT || px->obs_upstream))
    px->obs(px->obs_data, &ev);
}

int nm_proxy_fault(nm_proxy_t *p, const char *json, nm_buf_t *result, char *err,
                   size_t errlen) {
  int r;
  /* Writes the document causes leave together, after it ran. */
  p->in_read++;
  r = nm_faults_apply(p->faults, json, result, err, errlen);
  p->in_read--;
  if (p->in_read == 0)
    nm__proxy_flush_dirty(p);
  return r;
}

int nm_proxy_fault_sync(nm_proxy_t *p, const char *json, nm_buf_t *result,
                        char *err, size_t errlen) {
  return nm_faults_apply_sync(p != NULL ? p->faults : NULL, json, result, err,
                              errlen);
}

/* ---- on a thread of its own ---- */

static void thread_main(void *arg) {
  nm_proxy_t *p = arg;
  uv_run(p->loop, UV_RUN_DEFAULT);
}

static void on_stop_async(uv_async_t *a) {
  nm_proxy_t *p = a->data;
  uv_close((uv_handle_t *)a, NULL);
  nm_proxy_stop(p, NULL, NULL);
}

int nm_proxy_start_thread(const nm_proxy_opts_t *o, nm_proxy_t **out, char *err,
                          size_t errlen) {
  uv_loop_t *loop = malloc(sizeof(*loop));
  nm_proxy_t *p = NULL;
  int r;

  if (loop == NULL)
    return fail(err, errlen, NM_ENOMEM, "out of memory");
  /* Nor the loop's own descriptors, which it closes with uv__close. */
  if ((r = nm_hold_std_fds()) < 0) {
    free(loop);
    return fail(err, errlen, r, "/dev/null: %s", uv_strerror(r));
  }
  r = uv_loop_init(loop);
  if (r < 0) {
    free(loop);
    return fail(err, errlen, r, "loop: %s", uv_strerror(r));
  }
  r = nm_proxy_new(loop, o, &p, err, errlen);
  if (r == 0 && (r = nm_proxy_start(p)) < 0)
    fail(err, errlen, r, "listen on %s:%d: %s", o->host, o->port,
         uv_strerror(r));
  if (r == 0)
    r = uv_async_init(loop, &p->stop_async, on_stop_async);
  if (r == 0) {
    p->stop_async.data = p;
    p->own_loop = loop;
    r = uv_thread_create(&p->thread, thread_main, p);
    if (r < 0)
      uv_close((uv_handle_t *)&p->stop_async, NULL);
  }
  if (r < 0) {
    if (p != NULL) {
      nm_proxy_stop(p, NULL, NULL);
      uv_run(loop, UV_RUN_DEFAULT);
      nm_proxy_free(p);
    }
    uv_loop_close(loop);
    free(loop);
    return r;
  }
  *out = p;
  return 0;
}

void nm_proxy_stop_thread(nm_proxy_t *p) {
  uv_loop_t *loop;
  if (p == NULL || p->own_loop == NULL)
    return;
  loop = p->own_loop;
  uv_async_send(&p->stop_async);
  uv_thread_join(&p->thread);
  nm_proxy_free(p);
  uv_loop_close(loop);
  free(loop);
}
