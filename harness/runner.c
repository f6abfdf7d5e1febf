/* One scenario run: set-up (server, drivers, hello), the steps (steps.c),
 * bounded teardown, invariants. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "nm_invariants.h"
#include "nm_run_int.h"

uint64_t nm__run_now(const nm_run_t *r) {
  return (uv_hrtime() - r->t0_ns) / 1000;
}

void nm__run_fatal(nm_run_t *r, const char *fmt, ...) {
  va_list ap;
  if (r->fatal)
    return;
  r->fatal = 1;
  va_start(ap, fmt);
  vsnprintf(r->fatal_msg, sizeof(r->fatal_msg), fmt, ap);
  va_end(ap);
}

static void on_timer(uv_timer_t *t) {
  (void)t; /* only wakes uv_run up */
}

int nm__run_wait(nm_run_t *r, int (*pred)(nm_run_t *, void *), void *arg,
                 uint64_t deadline_us) {
  for (;;) {
    uint64_t now, until;
    if (pred && pred(r, arg))
      return 1;
    if (r->fatal && !r->in_teardown)
      return -1;
    now = nm__run_now(r);
    if (!r->in_teardown && now >= r->deadline_us) {
      nm__run_fatal(r, "the run exceeded its timeout_ms (%llu ms)",
                    (unsigned long long)r->sc->timeout_ms);
      return -1;
    }
    if (now >= deadline_us)
      return 0;
    until = deadline_us;
    if (!r->in_teardown && r->deadline_us < until)
      until = r->deadline_us;
    uv_timer_start(&r->timer, on_timer, (until - now + 999) / 1000, 0);
    uv_run(&r->loop, UV_RUN_ONCE);
  }
}

/* ---- the server's view ---- */

static void set_owner_from_connect(nm_run_t *r, uint64_t conn,
                                   const nm_frame_t *f) {
  cJSON *j = cJSON_ParseWithLength(f->json.p, f->json.n);
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
  if (cJSON_IsString(name)) {
    int c = -1;
    for (int i = 0; i < r->sc->nclients && c < 0; i++)
      if (strcmp(r->conn_name[i], name->valuestring) == 0)
        c = i;
    if (c < 0)
      c = nm_tl_client_index(r->tl, name->valuestring);
    if (c >= 0)
      nm_tl_set_owner(r->tl, conn, c);
  }
  cJSON_Delete(j);
}

static void on_obs(void *data, const nm_obs_event_t *ev) {
  nm_run_t *r = data;
  uint64_t base = r->t0_ns / 1000;
  uint64_t t = ev->t_us > base ? ev->t_us - base : 0;
  nm_tl_ev_t *e = NULL;

  if (ev->leg == NM_OBS_LEG_UPSTREAM) {
    /* The proxy's leg to the real server: its frames, for the reports. */
    if (ev->kind == NM_OBS_IN || ev->kind == NM_OBS_OUT) {
      e = nm_tl_add_frame(
          r->tl, ev->kind == NM_OBS_IN ? NM_TL_UP_IN : NM_TL_UP_OUT, t,
          ev->conn_id, ev->frame, ev->bytes.n, ev->rule, ev->action);
      if (e)
        e->conn = ev->conn_id;
    }
    return;
  }
  if (ev->kind == NM_OBS_OPEN || ev->kind == NM_OBS_IN ||
      ev->kind == NM_OBS_CLOSE) {
    /* What a client did reaches us on two channels: its driver's stdout and
     * its socket. libuv may serve the socket first in a turn of the loop,
     * so the lines its driver printed before sending are taken now: an
     * on_msg action's `action` line then precedes the PUB and PING it
     * caused (see nm__drv_drain). */
    for (int i = 0; i < r->ndrv; i++)
      nm__drv_drain(&r->drv[i]);
    if (r->tl->n && r->tl->v[r->tl->n - 1].t_us > t)
      t = r->tl->v[r->tl->n - 1].t_us;
  }

  switch (ev->kind) {
  case NM_OBS_OPEN:
    e = nm_tl_append(r->tl, NM_TL_OPEN, t);
    break;
  case NM_OBS_IN:
  case NM_OBS_OUT:
    e = nm_tl_add_frame(r->tl, ev->kind == NM_OBS_IN ? NM_TL_IN : NM_TL_OUT, t,
                        ev->conn_id, ev->frame, ev->bytes.n, ev->rule,
                        ev->action);
    if (e && !ev->frame && ev->bytes.n) {
      /* Raw bytes the mock wrote with no frame (send_raw, split pieces). */
      size_t n =
          ev->bytes.n < NM_TL_MAX_PAYLOAD ? ev->bytes.n : NM_TL_MAX_PAYLOAD;
      e->payload = nm_tl_strndup(ev->bytes.p, n);
      e->payload_len = n;
      e->payload_size = ev->bytes.n;
    }
    if (ev->kind == NM_OBS_IN && ev->frame && ev->frame->op == NM_OP_CONNECT)
      set_owner_from_connect(r, ev->conn_id, ev->frame);
    break;
  case NM_OBS_CLOSE:
    e = nm_tl_append(r->tl, NM_TL_CLOSE, t);
    if (e && ev->action)
      e->action = strdup(ev->action); /* "fin" or "reset" */
    break;
  case NM_OBS_ACTION:
    /* With the frame the rule took, if any. */
    e = nm_tl_add_frame(r->tl, NM_TL_ACTION, t, ev->conn_id, ev->frame,
                        ev->bytes.n, ev->rule, ev->action);
    break;
  }
  if (!e)
    return;
  e->conn = ev->conn_id;
  if (ev->detail && !e->detail)
    e->detail = strdup(ev->detail);
}

void nm__run_on_obs(void *data, const nm_obs_event_t *ev) {
  on_obs(data, ev);
}

/* ---- drivers ---- */

/* Notes that command `id` of `client` was sent (for check_line). */
void nm__run_sent(nm_run_t *r, int client, int64_t id) {
  nm_buf_t *b = &r->answered[client];
  if (id < 0 || (size_t)id >= NM_RUN_MAX_CMDS)
    return;
  while (b->len <= (size_t)id)
    if (nm_buf_append(b, "", 1) != 0)
      return;
}

/* DRIVER-PROTOCOL.md: every line has "ev"; every command ends with exactly
 * one ok or err, for an id the harness sent. A driver that breaks this is
 * reported (the scenario fails), since its lines cannot be trusted. */
static void check_line(nm_run_t *r, int client, const cJSON *j) {
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "ev");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
  nm_buf_t *b = &r->answered[client];
  size_t at = r->tl->n; /* the index this line will get */
  const char *bad = NULL;
  int64_t n;

  if (!cJSON_IsString(ev)) {
    bad = "a line without \"ev\"";
  } else if (!strcmp(ev->valuestring, "ok") ||
             !strcmp(ev->valuestring, "err")) {
    n = cJSON_IsNumber(id) ? (int64_t)id->valuedouble : -1;
    if (n < 0 || (size_t)n >= b->len)
      bad = "a result for a command that was never sent";
    else if (b->base[n])
      bad = "a second result for one command";
    else
      b->base[n] = 1;
  }
  if (bad)
    nm_fails_add(&r->res->fails, "driver protocol", r->tl, &at, 1,
                 "driver for client %s printed %s", r->sc->clients[client],
                 bad);
}

static void on_drv_line(nm_drv_t *d, const char *line, size_t len) {
  nm_run_t *r = d->data;
  cJSON *j = line ? cJSON_ParseWithLength(line, len) : NULL;
  const cJSON *ev;

  if (!cJSON_IsObject(j)) {
    char snip[80];
    size_t n = line ? (len < sizeof(snip) - 1 ? len : sizeof(snip) - 1) : 0;
    memcpy(snip, line ? line : "", n);
    snip[n] = '\0';
    cJSON_Delete(j);
    if (!r->in_teardown)
      nm__run_fatal(r,
                    "driver for client %s printed a line that is not a JSON "
                    "object (%s%s)",
                    r->sc->clients[d->client], line ? snip : "over the limit",
                    line && len > n ? "..." : "");
    return;
  }
  ev = cJSON_GetObjectItemCaseSensitive(j, "ev");
  if (cJSON_IsString(ev) && strcmp(ev->valuestring, "hello") == 0 &&
      !r->hello[d->client]) {
    r->hello[d->client] = cJSON_Duplicate(j, 1);
  }
  if (!r->in_teardown)
    check_line(r, d->client, j);
  if (cJSON_IsString(ev) && strcmp(ev->valuestring, "action") == 0)
    nm__run_action_started(r, d->client, j);
  nm_tl_add_line(r->tl, nm__run_now(r), d->client, j);
}

static void on_drv_exit(nm_drv_t *d) {
  nm_run_t *r = d->data;
  if (r->in_teardown)
    return;
  nm__run_fatal(r,
                "driver for client %s exited during the run (status %lld, "
                "signal %d)",
                r->sc->clients[d->client], (long long)d->exit_status,
                d->term_signal);
}

static int all_hello(nm_run_t *r, void *arg) {
  for (int i = 0; i < r->ndrv; i++)
    if (!r->hello[i])
      return 0;
  return 1;
}

static int all_exited(nm_run_t *r, void *arg) {
  for (int i = 0; i < r->ndrv; i++)
    if (r->drv[i].spawned && !r->drv[i].exited)
      return 0;
  return 1;
}

static int srv_stopped(nm_run_t *r, void *arg) {
  return r->srv_done;
}

static void on_srv_stopped(nm_server_t *s, void *data) {
  nm_run_t *r = data;
  r->srv_done = 1;
}

static int has_feature(const cJSON *hello, const char *f) {
  const cJSON *x;
  cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(hello, "features")) {
    if (cJSON_IsString(x) && strcmp(x->valuestring, f) == 0)
      return 1;
  }
  return 0;
}

/* Returns 0 to go on, 1 when the run is skipped or failed. */
static int check_hello(nm_run_t *r) {
  char missing[512] = "";
  const cJSON *x, *h = r->hello[0];
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(h, "protocol");
  const cJSON *cl = cJSON_GetObjectItemCaseSensitive(h, "client");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(h, "version");
  char name[256];

  snprintf(name, sizeof(name), "%s %s",
           cJSON_IsString(cl) ? cl->valuestring : "?",
           cJSON_IsString(ver) ? ver->valuestring : "?");
  r->res->driver_name = strdup(name);
  /* Version 2 added batch, on_msg, info and the action event, each a
   * feature: a version 1 driver simply lacks them (docs/DRIVER-PROTOCOL.md,
   * "What changed"). */
  if (!cJSON_IsNumber(p) || (p->valuedouble != 1 && p->valuedouble != 2)) {
    nm__run_fatal(r,
                  "the driver speaks driver protocol %g; the harness "
                  "speaks 1 and 2",
                  cJSON_IsNumber(p) ? p->valuedouble : -1.0);
    return 1;
  }
  cJSON_ArrayForEach(x, r->sc->requires) {
    if (!has_feature(h, x->valuestring)) {
      size_t n = strlen(missing);
      snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? ", " : "",
               x->valuestring);
    }
  }
  if (missing[0]) {
    r->res->status = NM_ST_SKIP;
    if (asprintf(&r->res->reason, "driver lacks: %s", missing) < 0)
      r->res->reason = NULL;
    return 1;
  }
  return 0;
}

/* Server options from the scenario's "server" object. */
static void server_opts(const cJSON *srv, nm_server_opts_t *o) {
  const cJSON *x;
  cJSON_ArrayForEach(x, srv) {
    const char *k = x->string;
    uint64_t v = cJSON_IsNumber(x) ? (uint64_t)x->valuedouble : 0;
    if (!strcmp(k, "server_name"))
      o->server_name = x->valuestring;
    else if (!strcmp(k, "user"))
      o->user = x->valuestring;
    else if (!strcmp(k, "pass"))
      o->pass = x->valuestring;
    else if (!strcmp(k, "token"))
      o->token = x->valuestring;
    else if (!strcmp(k, "auth_timeout_ms"))
      o->auth_timeout_ms = v;
    else if (!strcmp(k, "max_payload"))
      o->max_payload = (int64_t)v;
    else if (!strcmp(k, "max_control_line"))
      o->max_control_line = (size_t)v;
    else if (!strcmp(k, "max_pending"))
      o->max_pending = (int64_t)v;
    else if (!strcmp(k, "max_connections"))
      o->max_connections = (int)v;
    else if (!strcmp(k, "ping_interval_ms"))
      o->ping_interval_ms = v;
    else if (!strcmp(k, "ping_max"))
      o->ping_max = (int)v;
    else if (!strcmp(k, "write_deadline_ms"))
      o->write_deadline_ms = v;
    else if (!strcmp(k, "trace"))
      o->trace = cJSON_IsTrue(x);
    else if (!strcmp(k, "debug"))
      o->debug = cJSON_IsTrue(x);
  }
}

static int start_mock(nm_run_t *r) {
  nm_server_opts_t o;
  int e;
  nm_server_opts_init(&o);
  o.host = "127.0.0.1";
  o.port = 0;
  o.seed = (uint64_t)r->res->seed;
  server_opts(r->sc->server, &o);
  if ((e = nm_server_new(&r->loop, &o, &r->srv)) < 0) {
    nm__run_fatal(r, "mock server: nm_server_new failed (%d)", e);
    return e;
  }
  nm_server_set_observer(r->srv, on_obs, r);
  if ((e = nm_server_start(r->srv)) < 0) {
    nm__run_fatal(r, "mock server: start failed (%d)", e);
    return e;
  }
  nm_server_url(r->srv, r->url, sizeof(r->url));
  return 0;
}

/* Has every connection of a client that reported `closed` a close record? */
static int closes_recorded(nm_run_t *r, void *arg) {
  const nm_tl_t *tl = r->tl;
  int closed[NM_TL_MAX_CLIENTS] = {0};
  (void)arg;
  for (size_t i = 0; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    if (e->kind == NM_TL_EV && e->client >= 0 &&
        e->client < NM_TL_MAX_CLIENTS && !strcmp(e->ev, "closed"))
      closed[e->client] = 1;
  }
  for (size_t i = 0; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    int owner, done = 0;
    if (e->kind != NM_TL_OPEN)
      continue;
    owner = nm_tl_owner(tl, e->conn);
    if (owner < 0 || owner >= NM_TL_MAX_CLIENTS || !closed[owner])
      continue;
    for (size_t k = i + 1; k < tl->n && !done; k++)
      done = tl->v[k].kind == NM_TL_CLOSE && tl->v[k].conn == e->conn;
    if (!done)
      return 0;
  }
  return 1;
}

static void teardown(nm_run_t *r) {
  r->in_teardown = 1;
  r->tl->frozen = 1;
  for (int i = 0; i < r->ndrv; i++) {
    nm_drv_t *d = &r->drv[i];
    if (d->spawned && !d->exited) {
      cJSON *c = cJSON_CreateObject();
      cJSON_AddNumberToObject(c, "id", (double)++r->next_id[i]);
      cJSON_AddStringToObject(c, "op", "exit");
      nm__drv_send(d, c);
      cJSON_Delete(c);
    }
    nm__drv_close_stdin(d);
  }
  if (nm__run_wait(r, all_exited, NULL,
                   nm__run_now(r) + NM_RUN_EXIT_MS * 1000) != 1) {
    for (int i = 0; i < r->ndrv; i++)
      nm__drv_kill(&r->drv[i], SIGKILL);
    nm__run_wait(r, all_exited, NULL, nm__run_now(r) + NM_RUN_EXIT_MS * 1000);
  }
  if (r->srv) {
    nm_server_stop(r->srv, on_srv_stopped, r);
    nm__run_wait(r, srv_stopped, NULL, nm__run_now(r) + NM_RUN_EXIT_MS * 1000);
  }
  nm__realsrv_stop(r);
  for (int i = 0; i < r->ndrv; i++)
    nm__drv_close(&r->drv[i]);
}

static void walk_close(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void close_loop(nm_run_t *r) {
  uv_walk(&r->loop, walk_close, NULL);
  /* Every handle is closing now; the run ends when their callbacks ran. */
  for (int i = 0; i < 1000 && uv_run(&r->loop, UV_RUN_NOWAIT) != 0; i++)
    ;
  if (r->srv && r->srv_done)
    nm_server_free(r->srv);
  r->srv = NULL;
  uv_loop_close(&r->loop);
}

static void attach_stderr(nm_run_t *r) {
  nm_buf_t b;
  nm_buf_init(&b, (size_t)NM_STDERR_MAX * (NM_TL_MAX_CLIENTS + 1));
  for (int i = 0; i < r->ndrv; i++) {
    const char *s = nm__drv_stderr(&r->drv[i]);
    if (!*s)
      continue;
    nm_buf_appendf(&b, "--- driver %s stderr%s ---\n%s\n", r->sc->clients[i],
                   r->drv[i].err_dropped ? " (cut)" : "", s);
  }
  if (b.len) {
    nm_buf_append(&b, "", 1);
    r->res->driver_stderr = strdup(b.base);
  }
  nm_buf_free(&b);
}

void nm_run_invariants(const nm_scenario_t *sc, const nm_tl_t *tl,
                       double time_scale, nm_result_t *res) {
  nm_inv_ctx_t cx;
  const cJSON *spec;
  nm_buf_t skipped;

  if (!sc->invariants)
    return;
  if (nm_inv_ctx_init(&cx, tl) != 0) {
    nm_fails_add(&res->fails, "invariants", NULL, NULL, 0,
                 "out of memory building the invariant context");
    return;
  }
  if (time_scale > 1.0)
    cx.time_scale = time_scale;
  nm_buf_init(&skipped, 4096);
  cJSON_ArrayForEach(spec, sc->invariants) {
    if (nm_inv_check(&cx, spec, &res->fails) == 1) {
      const cJSON *n = cJSON_IsObject(spec)
                           ? cJSON_GetObjectItemCaseSensitive(spec, "name")
                           : spec;
      nm_buf_appendf(&skipped, "%s%s", skipped.len ? ", " : "", n->valuestring);
    }
  }
  if (skipped.len) {
    nm_buf_append(&skipped, "", 1);
    res->inv_skip = strdup(skipped.base);
  }
  if (cx.not_evaluated && cx.not_evaluated->n) {
    /* Checks that lacked their data (the steps ended early). */
    nm_buf_t b;
    nm_buf_init(&b, 16 * 1024);
    for (size_t i = 0; i < cx.not_evaluated->n; i++)
      nm_buf_appendf(&b, "%s%s: %s", i ? "; " : "", cx.not_evaluated->v[i].what,
                     cx.not_evaluated->v[i].message);
    if (cx.not_evaluated->more)
      nm_buf_appendf(&b, "; and %zu more", cx.not_evaluated->more);
    nm_buf_append(&b, "", 1);
    if (b.base)
      res->not_evaluated = strdup(b.base);
    nm_buf_free(&b);
  }
  nm_buf_free(&skipped);
  nm_inv_ctx_free(&cx);
}

static uint64_t wall_us(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

void nm_run_scenario(const nm_scenario_t *sc, const nm_run_opts_t *o, int rep,
                     nm_result_t *res) {
  nm_run_t *r = calloc(1, sizeof(*r));
  nm_tl_t *tl = calloc(1, sizeof(*tl));
  uint64_t started;
  /* How long a driver may take to start is a tolerance for the machine,
   * not the scenario's timing: it grows with the time scale (a Node
   * driver on a loaded machine can take more than 10 s). */
  uint64_t hello_ms =
      (uint64_t)(NM_RUN_HELLO_MS * (o->time_scale > 1.0 ? o->time_scale : 1.0));
  int steps_failed = 0;

  res->sc = sc;
  res->rep = rep;
  if (!r || !tl) {
    free(r);
    free(tl);
    res->status = NM_ST_ERROR;
    res->reason = strdup("out of memory");
    return;
  }
  res->seed = o->seed ? (int)o->seed
                      : (int)((uv_hrtime() ^ (uint64_t)rep) & 0x7fffffff) | 1;
  nm_tl_init(tl);
  for (int i = 0; i < sc->nclients; i++)
    nm_tl_add_client(tl, sc->clients[i]);
  /* The proxy's observer reports the client leg as the mock does. */
  tl->server_view = o->server_cmd == NULL || o->proxy;
  r->sc = sc;
  r->o = o;
  r->res = res;
  r->tl = tl;
  r->names = cJSON_CreateObject();
  r->actions = cJSON_CreateObject();
  for (int i = 0; i < NM_TL_MAX_CLIENTS; i++)
    nm_buf_init(&r->answered[i], NM_RUN_MAX_CMDS);
  uv_loop_init(&r->loop);
  uv_timer_init(&r->loop, &r->timer);
  r->t0_ns = uv_hrtime();
  tl->wall_base_us = wall_us();
  started = r->t0_ns;
  r->deadline_us = sc->timeout_ms * 1000;

  if (o->server_cmd) {
    if (nm__realsrv_start(r, o->server_cmd, sc->server) != 0 && !r->fatal)
      nm__run_fatal(r, "could not start %s", o->server_cmd);
  } else {
    start_mock(r);
  }
  for (int i = 0; i < sc->nclients && !r->fatal; i++) {
    int e = nm__drv_start(&r->drv[i], &r->loop, o->driver_cmd, i, on_drv_line,
                          on_drv_exit, r);
    r->ndrv = i + 1;
    if (e < 0)
      nm__run_fatal(r, "could not start the driver \"%s\": %s", o->driver_cmd,
                    uv_strerror(e));
  }
  if (!r->fatal &&
      nm__run_wait(r, all_hello, NULL,
                   hello_ms * 1000 < r->deadline_us ? hello_ms * 1000
                                                    : r->deadline_us) != 1 &&
      !r->fatal)
    nm__run_fatal(r, "a driver printed no hello within %llu ms",
                  (unsigned long long)hello_ms);
  if (!r->fatal && check_hello(r) == 0)
    steps_failed = nm__run_steps(r) != 0;
  /* A close the client reported is recorded by the server a little later:
   * wait (bounded) for it, so that the invariants do not read a close that
   * was merely not recorded yet as one that never happened. */
  if ((r->srv || r->real.proxy) && res->status != NM_ST_SKIP)
    nm__run_wait(r, closes_recorded, NULL,
                 nm__run_now(r) + NM_RUN_SETTLE_MS * 1000);
  tl->cut_short = steps_failed || r->fatal;

  teardown(r);
  if (r->fatal)
    nm_fails_add(&res->fails, "run", tl, NULL, 0, "%s", r->fatal_msg);
  if (res->status != NM_ST_SKIP)
    nm_run_invariants(sc, tl, o->time_scale, res);
  if (res->status != NM_ST_SKIP)
    res->status = (nm_fails_count(&res->fails) || steps_failed || r->fatal)
                      ? NM_ST_FAIL
                      : NM_ST_PASS;
  if (res->status == NM_ST_FAIL)
    attach_stderr(r);
  close_loop(r);
  for (int i = 0; i < r->ndrv; i++)
    nm__drv_free(&r->drv[i]);
  for (int i = 0; i < NM_TL_MAX_CLIENTS; i++) {
    cJSON_Delete(r->hello[i]);
    nm_buf_free(&r->answered[i]);
  }
  cJSON_Delete(r->names);
  cJSON_Delete(r->actions);
  res->duration_us = (uv_hrtime() - started) / 1000;
  if (o->keep_timeline) {
    res->tl = tl;
  } else {
    nm_tl_free(tl);
    free(tl);
  }
  free(r);
}
