/* The steps of a scenario (scenarios/README.md section 3), run in order on
 * the run's loop. A failed step records its evidence and ends the steps. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_match.h"
#include "nm_run_int.h"

/* Evidence entries attached to a failed await. */
#define NM_STEP_NEAR 10
/* A fault result kept in the timeline note. */
#define NM_STEP_FAULT_RESULT_MAX (64 * 1024)

static int str_differs(const char *a, const char *b) {
  return a && b ? strcmp(a, b) : 1;
}

static uint64_t u64_field(const cJSON *o, const char *k, uint64_t dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? (uint64_t)v->valuedouble : dflt;
}

/* Replaces every string "$URL" in v (recursively) with the server's URL. */
static void subst_url(cJSON *v, const char *url) {
  cJSON *x;
  if (cJSON_IsString(v) && strcmp(v->valuestring, "$URL") == 0) {
    cJSON_SetValuestring(v, url);
    return;
  }
  cJSON_ArrayForEach(x, v) {
    subst_url(x, url);
  }
}

static void step_fail(nm_run_t *r, int i, const char *kind, const size_t *ev,
                      size_t nev, const char *msg) {
  char what[64];
  snprintf(what, sizeof(what), "step %d (%s)", i, kind);
  nm_fails_add(&r->res->fails, what, r->tl, ev, nev, "%s", msg);
}

static void note(nm_run_t *r, const char *detail, cJSON *json) {
  nm_tl_ev_t *e = nm_tl_append(r->tl, NM_TL_NOTE, nm__run_now(r));
  if (!e) {
    cJSON_Delete(json);
    return;
  }
  e->detail = strdup(detail);
  nm_tl_redact_json(json);
  e->json = json;
}

/* ---- waiting for a command's result ---- */

typedef struct {
  int client;
  int64_t id;
  size_t scan;
  size_t found;
} result_wait_t;

static int result_pred(nm_run_t *r, void *arg) {
  result_wait_t *w = arg;
  for (; w->scan < r->tl->n; w->scan++) {
    const nm_tl_ev_t *e = &r->tl->v[w->scan];
    if (e->kind == NM_TL_EV && e->client == w->client && e->id == w->id &&
        (!strcmp(e->ev, "ok") || !strcmp(e->ev, "err"))) {
      w->found = w->scan;
      return 1;
    }
  }
  return 0;
}

static int await_result(nm_run_t *r, int i, int client, int64_t id,
                        size_t cmd_idx, const cJSON *step) {
  result_wait_t w = {client, id, cmd_idx, NM_TL_NONE};
  uint64_t within = u64_field(step, "within_ms", NM_STEP_DEFAULT_WITHIN_MS);
  uint64_t not_before = u64_field(step, "not_before_ms", 0);
  const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
  char msg[1024];
  char *want;
  int got = nm__run_wait(r, result_pred, &w, nm__run_now(r) + within * 1000);

  want = expect ? cJSON_PrintUnformatted(expect) : strdup("\"ok\"");
  if (got != 1) {
    size_t ev[1] = {cmd_idx};
    snprintf(msg, sizeof(msg),
             "command id %lld (%s) had no result within %llu ms (expected "
             "%s)%s%s",
             (long long)id, r->tl->v[cmd_idx].ev, (unsigned long long)within,
             want ? want : "?", r->fatal ? ": " : "",
             r->fatal ? r->fatal_msg : "");
    step_fail(r, i, "await", ev, 1, msg);
    free(want);
    return -1;
  }
  {
    const nm_tl_ev_t *res = &r->tl->v[w.found];
    uint64_t took = res->t_us - r->tl->v[cmd_idx].t_us;
    size_t ev[2] = {cmd_idx, w.found};
    if (!nm__match_expect(res, expect) && !strcmp(res->ev, "err") &&
        !str_differs(nm_tl_str(res, "code"), "not_supported")) {
      /* The driver cannot express this command for its library: the
       * scenario says nothing about that client (as a missing feature). */
      r->res->status = NM_ST_SKIP;
      free(r->res->reason);
      if (asprintf(&r->res->reason, "driver: %s not supported",
                   r->tl->v[cmd_idx].ev) < 0)
        r->res->reason = NULL;
      free(want);
      return -1;
    }
    if (!nm__match_expect(res, expect)) {
      snprintf(msg, sizeof(msg), "command id %lld (%s) ended %s; expected %s",
               (long long)id, r->tl->v[cmd_idx].ev, res->ev, want ? want : "?");
      step_fail(r, i, "await", ev, 2, msg);
      free(want);
      return -1;
    }
    if (took < not_before * 1000) {
      snprintf(msg, sizeof(msg),
               "command id %lld (%s) ended after %.1f ms, earlier than "
               "not_before_ms %llu",
               (long long)id, r->tl->v[cmd_idx].ev, (double)took / 1000.0,
               (unsigned long long)not_before);
      step_fail(r, i, "await", ev, 2, msg);
      free(want);
      return -1;
    }
  }
  free(want);
  return 0;
}

/* ---- commands ---- */

/* The driver command for one command object of the scenario (a step, a
 * batch entry or an on_msg action): "do" becomes "op", the harness's keys
 * are left out, the connect defaults and "$URL" are filled in. The id is
 * assigned by the caller. */
static cJSON *driver_cmd(nm_run_t *r, int client, const cJSON *src,
                         int64_t id) {
  static const char *const keys[] = {"client",        "as",     "expect",
                                     "within_ms",     "do",     "at",
                                     "not_before_ms", "on_msg", "commands"};
  const cJSON *op = cJSON_GetObjectItemCaseSensitive(src, "do");
  const cJSON *x;
  cJSON *cmd = cJSON_CreateObject();

  cJSON_AddNumberToObject(cmd, "id", (double)id);
  cJSON_AddStringToObject(cmd, "op", op->valuestring);
  cJSON_ArrayForEach(x, src) {
    int skip = 0;
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
      skip |= strcmp(x->string, keys[k]) == 0;
    if (!skip)
      cJSON_AddItemToObject(cmd, x->string, cJSON_Duplicate(x, 1));
  }
  if (!strcmp(op->valuestring, "connect")) {
    const cJSON *name;
    if (!cJSON_GetObjectItemCaseSensitive(cmd, "servers")) {
      cJSON *l = cJSON_AddArrayToObject(cmd, "servers");
      cJSON_AddItemToArray(l, cJSON_CreateString(r->url));
    }
    if (!cJSON_GetObjectItemCaseSensitive(cmd, "name"))
      cJSON_AddStringToObject(cmd, "name", r->sc->clients[client]);
    name = cJSON_GetObjectItemCaseSensitive(cmd, "name");
    if (cJSON_IsString(name))
      snprintf(r->conn_name[client], sizeof(r->conn_name[client]), "%s",
               name->valuestring);
  }
  subst_url(cmd, r->url);
  return cmd;
}

/* Remembers "as" NAME -> (client, id, timeline index to scan from). */
static void name_cmd(nm_run_t *r, const cJSON *src, int client, int64_t id,
                     size_t idx) {
  const cJSON *as = cJSON_GetObjectItemCaseSensitive(src, "as");
  cJSON *v;
  if (!cJSON_IsString(as) || idx == NM_TL_NONE)
    return;
  v = cJSON_CreateArray();
  cJSON_AddItemToArray(v, cJSON_CreateNumber(client));
  cJSON_AddItemToArray(v, cJSON_CreateNumber((double)id));
  cJSON_AddItemToArray(v, cJSON_CreateNumber((double)idx));
  cJSON_AddItemToObject(r->names, as->valuestring, v);
}

/* A subscribe's on_msg: each action gets its own id (its result is a line
 * like any command's). The action enters the timeline as a command when the
 * driver reports that the handler started it (an `action` event), see
 * nm__run_action_started. */
static void add_on_msg(nm_run_t *r, int client, const cJSON *step, cJSON *cmd,
                       size_t sub_idx) {
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(step, "on_msg");
  const cJSON *a;
  cJSON *out;
  if (!list)
    return;
  out = cJSON_AddArrayToObject(cmd, "on_msg");
  cJSON_ArrayForEach(a, list) {
    int64_t id = ++r->next_id[client];
    cJSON *c = driver_cmd(r, client, a, id);
    char key[64];
    cJSON_AddNumberToObject(
        c, "at", cJSON_GetObjectItemCaseSensitive(a, "at")->valuedouble);
    nm__run_sent(r, client, id);
    snprintf(key, sizeof(key), "%d:%lld", client, (long long)id);
    cJSON_AddItemToObject(r->actions, key, cJSON_Duplicate(c, 1));
    cJSON_AddItemToArray(out, c);
    name_cmd(r, a, client, id, sub_idx);
  }
}

static int run_cmd(nm_run_t *r, int i, int client, const cJSON *step) {
  const cJSON *op = cJSON_GetObjectItemCaseSensitive(step, "do");
  int64_t id = ++r->next_id[client];
  cJSON *cmd = driver_cmd(r, client, step, id);
  cJSON *inner = NULL;
  nm_tl_ev_t *e;
  size_t idx;
  int err;

  if (!strcmp(op->valuestring, "batch")) {
    /* Every entry has its own id and result; the driver runs them in one
     * turn of its loop. Each enters the timeline as a command of its own. */
    const cJSON *c;
    cJSON *list = cJSON_AddArrayToObject(cmd, "commands");
    inner = cJSON_CreateArray();
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(step, "commands")) {
      int64_t cid = ++r->next_id[client];
      cJSON *dc = driver_cmd(r, client, c, cid);
      if (cJSON_GetObjectItemCaseSensitive(c, "on_msg"))
        add_on_msg(r, client, c, dc, r->tl->n);
      nm__run_sent(r, client, cid);
      cJSON_AddItemToArray(list, dc);
      cJSON_AddItemToArray(inner, cJSON_Duplicate(dc, 1));
    }
  } else if (cJSON_GetObjectItemCaseSensitive(step, "on_msg")) {
    add_on_msg(r, client, step, cmd, r->tl->n);
  }
  nm__run_sent(r, client, id);
  err = nm__drv_send(&r->drv[client], cmd);
  idx = r->tl->n;
  e = nm_tl_add_cmd(r->tl, nm__run_now(r), client, cmd);
  if (!e)
    idx = NM_TL_NONE;
  if (inner) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(step, "commands");
    cJSON *dc;
    int k = 0;
    while ((dc = cJSON_DetachItemFromArray(inner, 0)) != NULL) {
      const cJSON *src = cJSON_GetArrayItem(c, k++);
      size_t at = r->tl->n;
      int64_t cid =
          (int64_t)cJSON_GetObjectItemCaseSensitive(dc, "id")->valuedouble;
      if (!nm_tl_add_cmd(r->tl, nm__run_now(r), client, dc))
        at = NM_TL_NONE;
      name_cmd(r, src, client, cid, at);
    }
    cJSON_Delete(inner);
  }
  if (err < 0) {
    char msg[256];
    snprintf(msg, sizeof(msg), "could not write to the driver of %s: %s",
             r->sc->clients[client], uv_strerror(err));
    step_fail(r, i, "command", &idx, 1, msg);
    return -1;
  }
  name_cmd(r, step, client, id, idx);
  if (cJSON_GetObjectItemCaseSensitive(step, "expect") && idx != NM_TL_NONE)
    return await_result(r, i, client, id, idx, step);
  return 0;
}

void nm__run_action_started(nm_run_t *r, int client, const cJSON *line) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(line, "id");
  char key[64];
  cJSON *c;
  if (!cJSON_IsNumber(id))
    return;
  snprintf(key, sizeof(key), "%d:%lld", client, (long long)id->valuedouble);
  c = cJSON_DetachItemFromObjectCaseSensitive(r->actions, key);
  if (c)
    nm_tl_add_cmd(r->tl, nm__run_now(r), client, c); /* takes c */
}

/* ---- awaiting events ---- */

typedef struct {
  const cJSON *m;
  int client;
  size_t scan;
  uint64_t want, seen;
  size_t last;
  int rescan; /* a server match by client: owners are learnt late */
  size_t from;
} ev_wait_t;

static int ev_pred(nm_run_t *r, void *arg) {
  ev_wait_t *w = arg;
  if (w->rescan) {
    w->seen = 0;
    w->scan = w->from;
  }
  for (; w->scan < r->tl->n; w->scan++) {
    if (nm__match(r->tl, w->scan, w->m, w->client)) {
      w->seen++;
      w->last = w->scan;
      if (w->seen >= w->want) {
        w->scan++;
        return 1;
      }
    }
  }
  return 0;
}

static int await_event(nm_run_t *r, int i, int client, const cJSON *step) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(step, "await");
  const cJSON *since = cJSON_GetObjectItemCaseSensitive(m, "since");
  uint64_t within = u64_field(step, "within_ms", NM_STEP_DEFAULT_WITHIN_MS);
  ev_wait_t w;
  int got;

  memset(&w, 0, sizeof(w));
  w.m = m;
  w.client = client;
  w.want = u64_field(m, "count", 1);
  if (w.want == 0)
    w.want = 1;
  w.from = (cJSON_IsString(since) && !strcmp(since->valuestring, "step"))
               ? r->tl->n
               : 0;
  w.scan = w.from;
  w.rescan = cJSON_GetObjectItemCaseSensitive(m, "server") &&
             cJSON_GetObjectItemCaseSensitive(m, "client");
  got = nm__run_wait(r, ev_pred, &w, nm__run_now(r) + within * 1000);
  if (got != 1) {
    size_t near[NM_STEP_NEAR];
    size_t n = nm__match_near(r->tl, w.from, m, client, near, NM_STEP_NEAR);
    char *ms = cJSON_PrintUnformatted(m);
    char msg[768];
    snprintf(msg, sizeof(msg),
             "await %s: saw %llu of %llu matching within %llu ms%s%s",
             ms ? ms : "?", (unsigned long long)w.seen,
             (unsigned long long)w.want, (unsigned long long)within,
             r->fatal ? ": " : "", r->fatal ? r->fatal_msg : "");
    cJSON_free(ms);
    step_fail(r, i, "await", near, n, msg);
    return -1;
  }
  return 0;
}

static int expect_none(nm_run_t *r, int i, int client, const cJSON *step) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(step, "expect_none");
  uint64_t for_ms = u64_field(step, "for_ms", 0);
  ev_wait_t w;
  int got;

  memset(&w, 0, sizeof(w));
  w.m = m;
  w.client = client;
  w.want = 1;
  w.from = w.scan = r->tl->n;
  w.rescan = cJSON_GetObjectItemCaseSensitive(m, "server") &&
             cJSON_GetObjectItemCaseSensitive(m, "client");
  got = nm__run_wait(r, ev_pred, &w, nm__run_now(r) + for_ms * 1000);
  if (got == 1) {
    char *ms = cJSON_PrintUnformatted(m);
    char msg[512];
    snprintf(msg, sizeof(msg), "expect_none %s: a matching event came", ms);
    cJSON_free(ms);
    step_fail(r, i, "expect_none", &w.last, 1, msg);
    return -1;
  }
  if (got < 0) {
    step_fail(r, i, "expect_none", NULL, 0, r->fatal_msg);
    return -1;
  }
  return 0;
}

/* ---- faults ---- */

/* --seed reaches random splits: a split rule with "cuts" and no "seed" of
 * its own gets the run's seed, so a failing run can be replayed exactly. */
static cJSON *seeded(const cJSON *doc, int seed) {
  cJSON *d = cJSON_Duplicate(doc, 1);
  cJSON *rule;
  cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(d, "rules")) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(rule, "action");
    if (cJSON_IsString(a) && !strcmp(a->valuestring, "split") &&
        cJSON_GetObjectItemCaseSensitive(rule, "cuts") &&
        !cJSON_GetObjectItemCaseSensitive(rule, "seed"))
      cJSON_AddNumberToObject(rule, "seed", seed);
  }
  return d;
}

static int run_fault(nm_run_t *r, int i, const cJSON *step) {
  cJSON *doc =
      seeded(cJSON_GetObjectItemCaseSensitive(step, "fault"), r->res->seed);
  char *text = cJSON_PrintUnformatted(doc);
  char err[512] = "";
  nm_buf_t result;
  cJSON *n = cJSON_CreateObject();
  int e;

  if (!r->srv && !r->real.proxy) {
    cJSON_free(text);
    cJSON_Delete(n);
    cJSON_Delete(doc);
    step_fail(r, i, "fault", NULL, 0, "a fault step needs the in-process mock");
    return -1;
  }
  nm_buf_init(&result, NM_STEP_FAULT_RESULT_MAX);
  e = r->srv ? nm_server_fault(r->srv, text, &result, err, sizeof(err))
             : nm_proxy_fault(r->real.proxy, text, &result, err, sizeof(err));
  cJSON_AddItemToObject(n, "fault", cJSON_Duplicate(doc, 1));
  if (result.len) {
    cJSON *rj = cJSON_ParseWithLength(result.base, result.len);
    if (rj)
      cJSON_AddItemToObject(n, "result", rj);
  }
  if (e != 0)
    cJSON_AddStringToObject(n, "error", err);
  note(r, "fault", n);
  nm_buf_free(&result);
  cJSON_free(text);
  cJSON_Delete(doc);
  if (e != 0) {
    size_t last = r->tl->n ? r->tl->n - 1 : NM_TL_NONE;
    char msg[600];
    snprintf(msg, sizeof(msg), "the mock rejected the fault document: %s", err);
    step_fail(r, i, "fault", &last, 1, msg);
    return -1;
  }
  return 0;
}

/* ---- the loop over steps ---- */

int nm__run_steps(nm_run_t *r) {
  const nm_scenario_t *sc = r->sc;
  int n = cJSON_GetArraySize(sc->steps);
  int i = 0;
  const cJSON *step;

  cJSON_ArrayForEach(step, sc->steps) {
    int client = sc->step_client[i];
    int rc = 0;
    if (r->fatal) {
      step_fail(r, i, "run", NULL, 0, r->fatal_msg);
      return -1;
    }
    switch (sc->kinds[i]) {
    case NM_STEP_CMD:
      rc = run_cmd(r, i, client, step);
      break;
    case NM_STEP_AWAIT: {
      const cJSON *a = cJSON_GetObjectItemCaseSensitive(step, "await");
      if (cJSON_IsString(a)) {
        const cJSON *v =
            cJSON_GetObjectItemCaseSensitive(r->names, a->valuestring);
        if (!v) {
          step_fail(r, i, "await", NULL, 0, "the named command was never sent");
          rc = -1;
        } else {
          rc =
              await_result(r, i, (int)cJSON_GetArrayItem(v, 0)->valuedouble,
                           (int64_t)cJSON_GetArrayItem(v, 1)->valuedouble,
                           (size_t)cJSON_GetArrayItem(v, 2)->valuedouble, step);
        }
      } else {
        rc = await_event(r, i, client, step);
      }
      break;
    }
    case NM_STEP_EXPECT_NONE:
      rc = expect_none(r, i, client, step);
      break;
    case NM_STEP_FAULT:
      rc = run_fault(r, i, step);
      break;
    case NM_STEP_SLEEP: {
      uint64_t ms = u64_field(step, "sleep_ms", 0);
      if (nm__run_wait(r, NULL, NULL, nm__run_now(r) + ms * 1000) < 0) {
        step_fail(r, i, "sleep", NULL, 0, r->fatal_msg);
        rc = -1;
      }
      break;
    }
    }
    if (rc != 0)
      return -1;
    i++;
  }
  (void)n;
  /* Let events already in the pipes land before the timeline freezes:
   * one non-blocking turn of the loop. */
  uv_run(&r->loop, UV_RUN_NOWAIT);
  return r->fatal ? -1 : 0;
}
