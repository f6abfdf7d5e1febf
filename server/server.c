/* The server object: options, the listener and accepting, the connection
 * registry, the once-per-iteration flush of fan-out output, stopping (on the
 * caller's loop or on a thread of its own), and the core side of the fault
 * engine seam (nm_conn_api.h, fault_host.c). No global state. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_server_int.h"
#include "nm_stdfds.h"
#include "reload.h"

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

void nm_server_opts_init(nm_server_opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->host = "127.0.0.1";
  o->port = 0;
  o->auth_timeout_ms = 2000;
  o->max_payload = NM_DEFAULT_MAX_PAYLOAD;
  o->max_control_line = NM_DEFAULT_MAX_CONTROL_LINE;
  o->max_pending = 64 * 1024 * 1024;
  o->max_connections = 65536;
  o->ping_interval_ms = 120000;
  o->ping_max = 2;
  o->write_deadline_ms = 10000;
  o->logtime = 1;
  o->lame_duck_duration_ms = 120000;
  o->lame_duck_grace_ms = 10000;
  o->max_held = (int64_t)128 << 20;
}

uint64_t nm__now_ms(nm_server_t *s) {
  return uv_now(s->loop);
}

/* xorshift64*: queue-group picks and jitter; seeded by opts.seed. */
uint64_t nm__rand(nm_server_t *s) {
  uint64_t x = s->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  s->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

void nm__trace(nm_server_t *s, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "[natsmock:%d] ", s->port);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* nats-server ids are nkeys: 'N' then base32 (A-Z, 2-7). */
void nm__server_id_gen(nm_server_t *s) {
  static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  unsigned char rnd[NM_SERVER_ID_LEN];
  int i;
  if (uv_random(NULL, NULL, rnd, sizeof(rnd), 0, NULL) != 0)
    for (i = 0; i < NM_SERVER_ID_LEN; i++)
      rnd[i] = (unsigned char)(nm__rand(s) >> 32);
  s->server_id[0] = 'N';
  for (i = 1; i < NM_SERVER_ID_LEN; i++)
    s->server_id[i] = b32[rnd[i] & 31];
  s->server_id[NM_SERVER_ID_LEN] = 0;
}

/* ---- flushing fan-out once per loop iteration ---- */

void nm__server_mark_dirty(nm_server_t *s, nm_conn_t *c) {
  c->flags |= NM_CF_DIRTY;
  c->dirty_next = s->dirty;
  s->dirty = c;
}

static void flush_dirty(nm_server_t *s) {
  while (s->dirty) {
    nm_conn_t *c = s->dirty;
    s->dirty = c->dirty_next;
    c->dirty_next = NULL;
    c->flags &= ~NM_CF_DIRTY;
    nm__conn_flush(c);
  }
}

/* Check runs right after the poll phase's I/O callbacks (fan-out from
 * reads); prepare runs before the loop blocks (output queued by timers). */
static void on_check(uv_check_t *h) {
  flush_dirty(h->data);
}

static void on_prepare(uv_prepare_t *h) {
  flush_dirty(h->data);
}

static void on_trim(uv_timer_t *t) {
  nm_server_t *s = t->data;
  nm_conn_t *c;
  for (c = s->head; c; c = c->next)
    nm__conn_trim_idle(c);
  nm__opool_trim(&s->opool);
  nm_buf_shrink(&s->ostage, NM_OUT_STAGE_KEEP);
}

void nm__server_free_dead(nm_server_t *s) {
  while (s->dead) {
    nm__sub_t *d = s->dead;
    s->dead = d->ix_next;
    free(d);
  }
}

/* ---- lifecycle ---- */

int nm_server_new(uv_loop_t *loop, const nm_server_opts_t *o,
                  nm_server_t **out) {
  nm_server_t *s;
  nm_server_opts_t def;
  size_t in_limit;

  if (o == NULL) {
    nm_server_opts_init(&def);
    o = &def;
  }
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NM_ENOMEM;
  s->loop = loop;
  s->opts = *o;
  s->s_host = strdup(o->host ? o->host : "127.0.0.1");
  s->s_name = dup_or_null(o->server_name);
  s->s_user = dup_or_null(o->user);
  s->s_pass = dup_or_null(o->pass);
  s->s_token = dup_or_null(o->token);
  s->s_faults = dup_or_null(o->faults_file);
  s->opts.host = s->s_host;
  s->opts.server_name = s->s_name;
  s->opts.user = s->s_user;
  s->opts.pass = s->s_pass;
  s->opts.token = s->s_token;
  s->opts.faults_file = s->s_faults;
  nm_server_opts_baseline(&s->opts);
  s->info_max_payload = s->opts.max_payload;
  s->rng = o->seed ? o->seed : uv_hrtime() ^ (uintptr_t)s;
  if (s->rng == 0)
    s->rng = 0x9E3779B97F4A7C15ULL;
  /* The users list is copied; the option's pointers are not kept. */
  s->opts.users = NULL;
  s->opts.no_auth_user = NULL;
  s->opts.config_warnings = NULL;
  if (nm__auth_new(o, &s->auth) < 0 ||
      (o->no_auth_user && (s->s_noauth = strdup(o->no_auth_user)) == NULL)) {
    nm_server_free(s);
    return NM_ENOMEM;
  }
  s->opts.no_auth_user = s->s_noauth;
  if (s->s_host == NULL || nm__sublist_init(&s->subs) < 0) {
    nm_server_free(s);
    return NM_ENOMEM;
  }
  nm__server_id_gen(s);
  in_limit = nm__frame_scratch_limit(s->opts.max_payload);
  nm_buf_init(&s->scratch, in_limit);
  nm_buf_init(&s->in_scratch, in_limit);
  nm_buf_init(&s->ostage, (size_t)s->opts.max_pending);
  s->faults = nm_faults_new(s->loop, &nm__server_fault_host, s);
  if (s->faults == NULL) {
    nm_server_free(s);
    return NM_ENOMEM;
  }
  nm_faults_set_held_cap(s->faults,
                         s->opts.max_held > 0 ? (uint64_t)s->opts.max_held : 0);
  nm_faults_set_control(s->faults, !s->opts.no_mock_control);
  *out = s;
  return 0;
}

static void on_connection(uv_stream_t *l, int status);

static int listen_now(nm_server_t *s, int port) {
  struct sockaddr_storage ss;
  struct sockaddr_storage bound;
  int len = sizeof(bound), r;

  memset(&ss, 0, sizeof(ss));
  if (uv_ip4_addr(s->opts.host, port, (struct sockaddr_in *)&ss) != 0 &&
      uv_ip6_addr(s->opts.host, port, (struct sockaddr_in6 *)&ss) != 0) {
    /* A host name (e.g. "localhost"): resolve it, synchronously. */
    uv_getaddrinfo_t req;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET; /* IPv4 first, as Go's listener picks */
    hints.ai_socktype = SOCK_STREAM;
    if (uv_getaddrinfo(s->loop, &req, NULL, s->opts.host, NULL, &hints) != 0) {
      hints.ai_family = AF_UNSPEC;
      if (uv_getaddrinfo(s->loop, &req, NULL, s->opts.host, NULL, &hints) != 0)
        return NM_EINVAL;
    }
    if (req.addrinfo == NULL ||
        req.addrinfo->ai_addrlen > (socklen_t)sizeof(ss)) {
      uv_freeaddrinfo(req.addrinfo);
      return NM_EINVAL;
    }
    memcpy(&ss, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
    uv_freeaddrinfo(req.addrinfo);
    if (ss.ss_family == AF_INET)
      ((struct sockaddr_in *)&ss)->sin_port = htons((unsigned short)port);
    else
      ((struct sockaddr_in6 *)&ss)->sin6_port = htons((unsigned short)port);
  }
  r = uv_tcp_init(s->loop, &s->listener);
  if (r < 0)
    return r;
  s->listener.data = s;
  s->listening = 1;
  s->open_handles++;
  r = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
  if (r == 0)
    r = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
  if (r == 0)
    r = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
  if (r < 0)
    return r;
  s->port = ntohs(bound.ss_family == AF_INET6
                      ? ((struct sockaddr_in6 *)&bound)->sin6_port
                      : ((struct sockaddr_in *)&bound)->sin_port);
  return 0;
}

static int load_faults_file(nm_server_t *s) {
  /* A fault document is small; this bounds what a wrong path can cost. */
  enum { NM_FAULTS_FILE_MAX = 4 * 1024 * 1024 };
  FILE *f = fopen(s->opts.faults_file, "rb");
  nm_buf_t b;
  char err[256] = "";
  size_t n;
  int r;

  if (f == NULL) {
    fprintf(stderr, "natsmock: cannot open %s\n", s->opts.faults_file);
    return NM_EINVAL;
  }
  nm_buf_init(&b, NM_FAULTS_FILE_MAX);
  for (;;) {
    char *p = nm_buf_reserve(&b, 4096);
    if (p == NULL) {
      fclose(f);
      nm_buf_free(&b);
      return NM_ETOOBIG;
    }
    n = fread(p, 1, 4096, f);
    nm_buf_commit(&b, n);
    if (n < 4096)
      break;
  }
  fclose(f);
  if (nm_buf_append(&b, "", 1) < 0) {
    nm_buf_free(&b);
    return NM_ETOOBIG;
  }
  r = nm_faults_apply(s->faults, b.base, NULL, err, sizeof(err));
  if (r < 0)
    fprintf(stderr, "natsmock: %s: %s\n", s->opts.faults_file, err);
  nm_buf_free(&b);
  return r;
}

int nm_server_start(nm_server_t *s) {
  struct sigaction sa;
  int r;

  /* The listener must not become descriptor 0-2 (nm_stdfds.h). */
  if ((r = nm_hold_std_fds()) < 0)
    return r;
  /* libuv writes with write(2): a peer that has gone would kill the host
   * process with SIGPIPE. Ignore it unless the host chose a handler. */
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
  uv_check_init(s->loop, &s->flush_check);
  s->flush_check.data = s;
  uv_check_start(&s->flush_check, on_check);
  uv_unref((uv_handle_t *)&s->flush_check);
  uv_prepare_init(s->loop, &s->flush_prepare);
  s->flush_prepare.data = s;
  uv_prepare_start(&s->flush_prepare, on_prepare);
  uv_unref((uv_handle_t *)&s->flush_prepare);
  uv_timer_init(s->loop, &s->restart_timer);
  s->restart_timer.data = s;
  uv_timer_init(s->loop, &s->ldm_timer);
  s->ldm_timer.data = s;
  uv_timer_init(s->loop, &s->trim_timer);
  s->trim_timer.data = s;
  uv_timer_start(&s->trim_timer, on_trim, NM_OUT_IDLE_MS, NM_OUT_IDLE_MS);
  uv_unref((uv_handle_t *)&s->trim_timer);
  s->open_handles += 5;
  s->started = 1;
  r = listen_now(s, s->opts.port < 0 ? 0 : s->opts.port);
  if (r < 0)
    return r;
  if (s->opts.faults_file && (r = load_faults_file(s)) < 0)
    return r;
  return 0;
}

static void on_connection(uv_stream_t *l, int status) {
  nm_server_t *s = l->data;
  nm_conn_t *c;

  if (status < 0 || s->stopping)
    return;
  c = nm__conn_new(s);
  if (c == NULL)
    return;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
    c->flags |= NM_CF_CLOSING;
    nm__conn_close(c, NM_CLOSE_FIN, "accept failed");
    return;
  }
  c->prev = s->tail;
  if (s->tail)
    s->tail->next = c;
  else
    s->head = c;
  s->tail = c;
  s->nconns++;
  if (s->obs) {
    nm_obs_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = NM_OBS_OPEN;
    ev.conn_id = c->id;
    ev.t_us = uv_hrtime() / 1000;
    s->obs(s->obs_data, &ev);
  }
  if (s->opts.debug)
    nm__trace(s, "[%llu] accepted", (unsigned long long)c->id);
  nm_faults_conn_open(s->faults, (nm_hconn_t *)c);
  if (s->refuse_next > 0) {
    s->refuse_next--;
    nm__conn_close(c, NM_CLOSE_FIN, "refused");
    return;
  }
  nm__conn_start(c);
  /* nats-server sends INFO first, then the -ERR, then closes. */
  if (s->nconns > s->opts.max_connections) {
    nm__conn_send_err(c, "maximum connections exceeded");
    nm__conn_close(c, NM_CLOSE_FLUSH, "maximum connections exceeded");
    return;
  }
  nm__conn_flush(c);
}

static void maybe_stopped(nm_server_t *s) {
  void (*cb)(nm_server_t *, void *) = s->stop_cb;
  if (!s->stopping || s->open_handles > 0 || s->head != NULL || s->stop_done)
    return;
  s->stop_done = 1;
  if (cb)
    cb(s, s->stop_data);
}

void nm__server_conn_closed(nm_server_t *s, nm_conn_t *c) {
  nm_conn_t **pp;
  if (c->prev)
    c->prev->next = c->next;
  else if (s->head == c)
    s->head = c->next;
  if (c->next)
    c->next->prev = c->prev;
  else if (s->tail == c)
    s->tail = c->prev;
  if (c->flags & NM_CF_DIRTY)
    for (pp = &s->dirty; *pp; pp = &(*pp)->dirty_next)
      if (*pp == c) {
        *pp = c->dirty_next;
        break;
      }
  maybe_stopped(s);
}

static void on_server_handle_closed(uv_handle_t *h) {
  nm_server_t *s = h->data;
  if ((uv_handle_t *)h == (uv_handle_t *)&s->listener)
    s->listener_closing = 0;
  s->open_handles--;
  maybe_stopped(s);
}

void nm__server_close_listener(nm_server_t *s) {
  if (!s->listening)
    return;
  s->listening = 0;
  s->listener_closing = 1;
  uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
}

void nm_server_stop(nm_server_t *s, void (*done)(nm_server_t *, void *),
                    void *data) {
  nm_conn_t *c, *n;
  if (s->stopping)
    return;
  s->stopping = 1;
  s->stop_cb = done;
  s->stop_data = data;
  nm_faults_stop(s->faults);
  nm__server_close_listener(s);
  for (c = s->head; c; c = n) {
    n = c->next;
    nm__conn_close(c, NM_CLOSE_FIN, "server shutdown");
  }
  if (s->started) {
    s->started = 0;
    uv_close((uv_handle_t *)&s->flush_check, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->flush_prepare, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->restart_timer, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->ldm_timer, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->trim_timer, on_server_handle_closed);
  }
  maybe_stopped(s);
}

void nm_server_free(nm_server_t *s) {
  if (s == NULL)
    return;
  nm__server_free_dead(s);
  if (s->faults)
    nm_faults_free(s->faults);
  nm__sublist_free(&s->subs);
  nm__auth_free(s->auth);
  nm__ldm_free(s);
  nm__subvec_free(&s->match);
  nm__subvec_free(&s->qgroup);
  nm_buf_free(&s->scratch);
  nm_buf_free(&s->in_scratch);
  nm_buf_free(&s->ostage);
  nm__opool_free(&s->opool);
  free(s->rbuf);
  free(s->s_host);
  free(s->s_name);
  free(s->s_user);
  free(s->s_pass);
  free(s->s_token);
  free(s->s_noauth);
  free(s->s_faults);
  free(s);
}

int nm_server_port(const nm_server_t *s) {
  return s->port;
}

const char *nm_server_url(const nm_server_t *s, char *out, size_t n) {
  snprintf(out, n, "nats://%s:%d", s->opts.host, s->port);
  return out;
}

uv_loop_t *nm_server_loop(nm_server_t *s) {
  return s->loop;
}

int nm_server_num_conns(const nm_server_t *s) {
  return s->nconns;
}

void nm_server_set_observer(nm_server_t *s, nm_obs_cb cb, void *data) {
  s->obs = cb;
  s->obs_data = data;
}

int nm_server_fault(nm_server_t *s, const char *json, nm_buf_t *result,
                    char *err, size_t errlen) {
  return nm_faults_apply(s->faults, json, result, err, errlen);
}

int nm_server_fault_sync(nm_server_t *s, const char *json, nm_buf_t *result,
                         char *err, size_t errlen) {
  return nm_faults_apply_sync(s != NULL ? s->faults : NULL, json, result, err,
                              errlen);
}

/* ---- on a thread of its own ---- */

static void thread_main(void *arg) {
  nm_server_t *s = arg;
  uv_run(s->loop, UV_RUN_DEFAULT);
}

static void on_stop_async(uv_async_t *a) {
  nm_server_t *s = a->data;
  uv_close((uv_handle_t *)a, NULL);
  nm_server_stop(s, NULL, NULL);
}

int nm_server_start_thread(const nm_server_opts_t *o, nm_server_t **out) {
  uv_loop_t *loop = malloc(sizeof(*loop));
  nm_server_t *s = NULL;
  int r;

  if (loop == NULL)
    return NM_ENOMEM;
  /* Nor the loop's own descriptors, which it closes with uv__close. */
  if ((r = nm_hold_std_fds()) < 0) {
    free(loop);
    return r;
  }
  r = uv_loop_init(loop);
  if (r < 0) {
    free(loop);
    return r;
  }
  r = nm_server_new(loop, o, &s);
  if (r == 0)
    r = nm_server_start(s);
  if (r == 0)
    r = uv_async_init(loop, &s->stop_async, on_stop_async);
  if (r == 0) {
    s->stop_async.data = s;
    s->own_loop = loop;
    r = uv_thread_create(&s->thread, thread_main, s);
    if (r < 0)
      uv_close((uv_handle_t *)&s->stop_async, NULL);
  }
  if (r < 0) {
    if (s) {
      nm_server_stop(s, NULL, NULL);
      uv_run(loop, UV_RUN_DEFAULT);
      nm_server_free(s);
    }
    uv_loop_close(loop);
    free(loop);
    return r;
  }
  *out = s;
  return 0;
}

void nm_server_stop_thread(nm_server_t *s) {
  uv_loop_t *loop;
  if (s == NULL || s->own_loop == NULL)
    return;
  loop = s->own_loop;
  uv_async_send(&s->stop_async);
  uv_thread_join(&s->thread);
  nm_server_free(s);
  uv_loop_close(loop);
  free(loop);
}

/* ---- the core side of nm_conn_api.h ---- */

nm_conn_t *nm__server_find_conn(nm_server_t *s, uint64_t conn_id) {
  nm_conn_t *c;
  for (c = s->head; c; c = c->next)
    if (c->id == conn_id)
      return (c->flags & NM_CF_CLOSING) ? NULL : c;
  return NULL;
}

void nm__server_each_conn(nm_server_t *s, void (*fn)(nm_conn_t *, void *),
                          void *data) {
  nm_conn_t *c, *n;
  for (c = s->head; c; c = n) {
    n = c->next;
    if (!(c->flags & NM_CF_CLOSING))
      fn(c, data);
  }
}

void nm__server_observe(nm_server_t *s, const nm_obs_event_t *ev) {
  if (s->obs)
    s->obs(s->obs_data, ev);
}

void nm__server_publish(nm_server_t *s, nm_slice_t subject, nm_slice_t reply,
                        size_t hdr_len, nm_slice_t payload) {
  nm_slice_t none = {NULL, 0};
  nm__route(s, NULL, subject, reply, hdr_len, payload, none, none);
}

static void on_restart_timer(uv_timer_t *t) {
  nm_server_t *s = t->data;
  int r;
  if (s->stopping)
    return;
  if (s->listener_closing) {
    uv_timer_start(&s->restart_timer, on_restart_timer, 1, 0);
    return;
  }
  r = listen_now(s, s->port);
  if (r < 0) {
    if (s->listening)
      nm__server_close_listener(s);
    if (s->opts.debug)
      nm__trace(s, "listener restart failed: %s", uv_strerror(r));
  }
}

int nm__server_restart_listener(nm_server_t *s, uint64_t delay_ms) {
  if (s->stopping || !s->started)
    return NM_ESTATE;
  nm__server_close_listener(s);
  return uv_timer_start(&s->restart_timer, on_restart_timer, delay_ms, 0);
}

void nm__server_refuse_next(nm_server_t *s, int k) {
  s->refuse_next = k < 0 ? 0 : k;
}

/* INFO as nats-server 2.9.10 orders it; `extra` fields replace same-named
 * ones in place or are appended (nm_json_merge_print, the fault engine's
 * rule, which the proxy's INFO follows too). */
int nm__server_info_json(nm_server_t *s, nm_conn_t *c, const char *extra,
                         nm_buf_t *out) {
  cJSON *o = cJSON_CreateObject();

  if (o == NULL)
    return NM_ENOMEM;
  cJSON_AddStringToObject(o, "server_id", s->server_id);
  cJSON_AddStringToObject(o, "server_name",
                          s->opts.server_name ? s->opts.server_name
                                              : s->server_id);
  cJSON_AddStringToObject(o, "version", "2.9.10");
  cJSON_AddNumberToObject(o, "proto", 1);
  cJSON_AddStringToObject(o, "go", "natsmock");
  cJSON_AddStringToObject(o, "host", s->opts.host);
  cJSON_AddNumberToObject(o, "port", s->port);
  cJSON_AddTrueToObject(o, "headers");
  /* With a no_auth_user, INFO says no auth is required (the server still
   * expects a CONNECT in time). */
  if ((s->opts.user || s->opts.token || nm__auth_has_users(s->auth)) &&
      !(nm__auth_has_users(s->auth) && s->opts.no_auth_user))
    cJSON_AddTrueToObject(o, "auth_required");
  cJSON_AddNumberToObject(o, "max_payload", (double)s->info_max_payload);
  if (c) {
    cJSON_AddNumberToObject(o, "client_id", (double)c->id);
    cJSON_AddStringToObject(o, "client_ip", c->ip);
  }
  return nm_json_merge_print(o, extra, out);
}
