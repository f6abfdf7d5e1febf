/* Scenario loader: reads a file, checks every field the format defines
 * (scenarios/README.md) and reports the first problem as "file: field:
 * problem". Unknown fields are errors so that a typo never disables a check
 * silently. */
#include "nm_scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_errors.h"
#include "nm_invariants.h"

static const char *const server_opts[] = {
    "server_name",
    "user",
    "pass",
    "token",
    "auth_timeout_ms",
    "max_payload",
    "max_control_line",
    "max_pending",
    "max_connections",
    "ping_interval_ms",
    "ping_max",
    "write_deadline_ms",
    "trace",
    "debug",
};

static const char *const client_evs[] = {
    "msg",    "msg_done", "connected",     "reconnected", "disconnected",
    "closed", "error",    "slow_consumer", "lame_duck",   "discovered",
    "ok",     "err",      "hello",         "frame",       "action",
};

static const char *const server_kinds[] = {"in", "out", "open", "close",
                                           "action"};

typedef struct {
  const char *path;
  char *err;
  size_t errlen;
  int uses_batch, uses_on_msg, uses_info; /* protocol 2 features used */
} lctx_t;

static int fail(lctx_t *l, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(lctx_t *l, const char *field, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(l->err, l->errlen, "%s: %s: %s", l->path, field, msg);
  return NM_EINVAL;
}

static int in_list(const char *s, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(s, list[i]) == 0)
      return 1;
  return 0;
}

#define NM_COUNT(l) (sizeof(l) / sizeof((l)[0]))
#define IN_LIST(s, l) in_list((s), (l), NM_COUNT(l))

int nm_scenario_server_opt_known(const char *name) {
  return IN_LIST(name, server_opts);
}

int nm_scenario_has_tag(const nm_scenario_t *sc, const char *tag) {
  const cJSON *t;
  cJSON_ArrayForEach(t, sc->tags) {
    if (cJSON_IsString(t) && strcmp(t->valuestring, tag) == 0)
      return 1;
  }
  return 0;
}

static int is_uint(const cJSON *v) {
  return cJSON_IsNumber(v) && v->valuedouble >= 0 &&
         v->valuedouble <= 9007199254740992.0 &&
         v->valuedouble == (double)(int64_t)v->valuedouble;
}

static int check_str_list(lctx_t *l, const cJSON *v, const char *field) {
  const cJSON *x;
  if (!cJSON_IsArray(v))
    return fail(l, field, "must be a list of strings");
  cJSON_ArrayForEach(x, v) {
    if (!cJSON_IsString(x))
      return fail(l, field, "must be a list of strings");
  }
  return 0;
}

static int check_uint_field(lctx_t *l, const cJSON *o, const char *name,
                            const char *field) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (v && !is_uint(v))
    return fail(l, field, "%s must be a non-negative integer", name);
  return 0;
}

static int check_server(lctx_t *l, const cJSON *srv) {
  const cJSON *o;
  if (!cJSON_IsObject(srv))
    return fail(l, "server", "must be an object");
  cJSON_ArrayForEach(o, srv) {
    if (!nm_scenario_server_opt_known(o->string))
      return fail(l, "server", "unknown option \"%s\"", o->string);
    if (strcmp(o->string, "server_name") == 0 ||
        strcmp(o->string, "user") == 0 || strcmp(o->string, "pass") == 0 ||
        strcmp(o->string, "token") == 0) {
      if (!cJSON_IsString(o))
        return fail(l, "server", "%s must be a string", o->string);
    } else if (strcmp(o->string, "trace") == 0 ||
               strcmp(o->string, "debug") == 0) {
      if (!cJSON_IsBool(o))
        return fail(l, "server", "%s must be true or false", o->string);
    } else if (!is_uint(o)) {
      return fail(l, "server", "%s must be a non-negative integer", o->string);
    }
  }
  return 0;
}

static int client_index(const nm_scenario_t *sc, const char *name) {
  for (int i = 0; i < sc->nclients; i++)
    if (strcmp(sc->clients[i], name) == 0)
      return i;
  return -1;
}

/* "expect": "ok" | "err" | "any" | an object. */
static int check_expect(lctx_t *l, const cJSON *e, const char *field) {
  if (!e)
    return 0;
  if (cJSON_IsString(e)) {
    if (strcmp(e->valuestring, "ok") && strcmp(e->valuestring, "err") &&
        strcmp(e->valuestring, "any"))
      return fail(l, field,
                  "expect must be \"ok\", \"err\", \"any\" or an "
                  "object");
    return 0;
  }
  if (!cJSON_IsObject(e))
    return fail(l, field,
                "expect must be \"ok\", \"err\", \"any\" or an "
                "object");
  return 0;
}

/* A match object for an await or expect_none. */
static int check_match(lctx_t *l, const nm_scenario_t *sc, const cJSON *m,
                       const char *field, int allow_count) {
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive(m, "ev");
  const cJSON *srv = cJSON_GetObjectItemCaseSensitive(m, "server");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "client");
  const cJSON *since = cJSON_GetObjectItemCaseSensitive(m, "since");
  const cJSON *x;
  int r;

  if (!!ev == !!srv)
    return fail(l, field, "a match needs exactly one of \"ev\" or \"server\"");
  if (ev && (!cJSON_IsString(ev) || !IN_LIST(ev->valuestring, client_evs)))
    return fail(l, field, "unknown client event \"%s\"",
                cJSON_IsString(ev) ? ev->valuestring : "?");
  if (srv && (!cJSON_IsString(srv) || !IN_LIST(srv->valuestring, server_kinds)))
    return fail(l, field,
                "server must be \"in\", \"out\", \"open\", \"close\" or "
                "\"action\"");
  if (c && (!cJSON_IsString(c) || client_index(sc, c->valuestring) < 0))
    return fail(l, field, "client is not one of the scenario's clients");
  if (!allow_count && (cJSON_GetObjectItemCaseSensitive(m, "count") || since))
    return fail(l, field, "count and since are not used here");
  if ((r = check_uint_field(l, m, "count", field)) != 0)
    return r;
  if (since &&
      (!cJSON_IsString(since) || (strcmp(since->valuestring, "start") &&
                                  strcmp(since->valuestring, "step"))))
    return fail(l, field, "since must be \"start\" or \"step\"");
  if (srv) {
    x = cJSON_GetObjectItemCaseSensitive(m, "verb");
    if (x && (!cJSON_IsString(x) || nm_tl_verb_op(x->valuestring) == 0))
      return fail(l, field, "unknown verb");
    if ((r = check_uint_field(l, m, "conn", field)) != 0 ||
        (r = check_uint_field(l, m, "seq", field)) != 0)
      return r;
    cJSON_ArrayForEach(x, m) {
      static const char *const keys[] = {
          "server", "verb",   "subject", "reply", "sid",    "queue",
          "max",    "data",   "seq",     "conn",  "client", "rule",
          "action", "detail", "count",   "since"};
      if (!IN_LIST(x->string, keys))
        return fail(l, field, "unknown server match field \"%s\"", x->string);
    }
  }
  return 0;
}

static int add_name(lctx_t *l, const char *field, const cJSON *as,
                    cJSON *names) {
  if (!as)
    return 0;
  if (!cJSON_IsString(as) || !as->valuestring[0])
    return fail(l, field, "as must be a non-empty string");
  if (cJSON_GetObjectItemCaseSensitive(names, as->valuestring))
    return fail(l, field, "as \"%s\" is used twice", as->valuestring);
  cJSON_AddTrueToObject(names, as->valuestring);
  return 0;
}

/* The fields of one command (a step, a batch entry or an on_msg action):
 * "do" names a known op and every other field is one the op takes, or one
 * of `extra` (the harness's own keys where they apply). */
static int check_cmd_fields(lctx_t *l, const cJSON *c, const char *field,
                            const char *const *extra, size_t nextra) {
  const cJSON *op = cJSON_GetObjectItemCaseSensitive(c, "do");
  const cJSON *y;
  if (!cJSON_IsString(op) || !nm_scenario_op_known(op->valuestring))
    return fail(l, field, "do: unknown op \"%s\"",
                cJSON_IsString(op) ? op->valuestring : "?");
  cJSON_ArrayForEach(y, c) {
    if (!strcmp(y->string, "do") || in_list(y->string, extra, nextra))
      continue;
    if (!strcmp(y->string, "id") || !strcmp(y->string, "op"))
      return fail(l, field, "id and op are the harness's (use \"do\")");
    if (!nm_scenario_op_field_known(op->valuestring, y->string)) {
      char known[320];
      nm_scenario_op_fields(op->valuestring, known, sizeof(known));
      return fail(l, field, "unknown field \"%s\" for %s (it takes: %s)",
                  y->string, op->valuestring, known);
    }
  }
  return 0;
}

/* on_msg of a subscribe: [{"at": K, "do": OP, ["as": NAME], fields}]. */
static int check_on_msg(lctx_t *l, const cJSON *list, const char *field,
                        cJSON *names) {
  static const char *const acts[] = {"publish",     "request",   "flush",
                                     "unsubscribe", "drain_sub", "drain",
                                     "close"};
  static const char *const extra[] = {"at", "as"};
  const cJSON *a;
  char f[96];
  int k = 0, r;
  if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) < 1 ||
      cJSON_GetArraySize(list) > NM_SCENARIO_MAX_ACTIONS)
    return fail(l, field, "on_msg must be a list of 1 to %d actions",
                NM_SCENARIO_MAX_ACTIONS);
  cJSON_ArrayForEach(a, list) {
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(a, "at");
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(a, "do");
    snprintf(f, sizeof(f), "%s.on_msg[%d]", field, k++);
    if (!cJSON_IsObject(a))
      return fail(l, f, "an action must be an object");
    if (!is_uint(at) || at->valuedouble < 1)
      return fail(l, f, "at must be a positive integer (the k-th message)");
    if (cJSON_IsString(op) && !IN_LIST(op->valuestring, acts))
      return fail(l, f,
                  "do: \"%s\" cannot be a handler action (publish, request, "
                  "flush, unsubscribe, drain_sub, drain, close)",
                  op->valuestring);
    if ((r = check_cmd_fields(l, a, f, extra, NM_COUNT(extra))) != 0 ||
        (r = add_name(l, f, cJSON_GetObjectItemCaseSensitive(a, "as"),
                      names)) != 0)
      return r;
  }
  return 0;
}

/* One command with its nested parts (a batch's commands, on_msg). */
static int check_cmd(lctx_t *l, const cJSON *c, const char *field,
                     const char *const *extra, size_t nextra, cJSON *names,
                     int depth) {
  const cJSON *op = cJSON_GetObjectItemCaseSensitive(c, "do");
  const cJSON *on_msg = cJSON_GetObjectItemCaseSensitive(c, "on_msg");
  int r;
  if ((r = check_cmd_fields(l, c, field, extra, nextra)) != 0)
    return r;
  l->uses_info |= !strcmp(op->valuestring, "info");
  l->uses_batch |= !strcmp(op->valuestring, "batch");
  if (!strcmp(op->valuestring, "subscribe") && on_msg) {
    l->uses_on_msg = 1;
    return check_on_msg(l, on_msg, field, names);
  }
  if (!strcmp(op->valuestring, "batch")) {
    static const char *const bextra[] = {"as"};
    const cJSON *cmds = cJSON_GetObjectItemCaseSensitive(c, "commands");
    const cJSON *x;
    char f[96];
    int k = 0;
    if (depth > 0)
      return fail(l, field, "a batch cannot contain a batch");
    if (!cJSON_IsArray(cmds) || cJSON_GetArraySize(cmds) < 1 ||
        cJSON_GetArraySize(cmds) > NM_SCENARIO_MAX_BATCH)
      return fail(l, field, "commands must be a list of 1 to %d commands",
                  NM_SCENARIO_MAX_BATCH);
    cJSON_ArrayForEach(x, cmds) {
      snprintf(f, sizeof(f), "%s.commands[%d]", field, k++);
      if (!cJSON_IsObject(x))
        return fail(l, f, "a command must be an object");
      if ((r = check_cmd(l, x, f, bextra, NM_COUNT(bextra), names,
                         depth + 1)) != 0 ||
          (r = add_name(l, f, cJSON_GetObjectItemCaseSensitive(x, "as"),
                        names)) != 0)
        return r;
    }
  }
  return 0;
}

static int check_step(lctx_t *l, nm_scenario_t *sc, int i, cJSON *st,
                      int *cur_client, cJSON *names) {
  char field[64];
  const cJSON *x;
  int kinds = 0, r;

  snprintf(field, sizeof(field), "steps[%d]", i);
  if (!cJSON_IsObject(st))
    return fail(l, field, "a step must be an object");
  kinds += !!cJSON_GetObjectItemCaseSensitive(st, "do");
  kinds += !!cJSON_GetObjectItemCaseSensitive(st, "await");
  kinds += !!cJSON_GetObjectItemCaseSensitive(st, "expect_none");
  kinds += !!cJSON_GetObjectItemCaseSensitive(st, "fault");
  kinds += !!cJSON_GetObjectItemCaseSensitive(st, "sleep_ms");
  if (kinds != 1)
    return fail(l, field,
                "a step needs exactly one of do, await, "
                "expect_none, fault, sleep_ms");
  x = cJSON_GetObjectItemCaseSensitive(st, "client");
  if (x) {
    if (!cJSON_IsString(x) || client_index(sc, x->valuestring) < 0)
      return fail(l, field, "client \"%s\" is not in clients",
                  cJSON_IsString(x) ? x->valuestring : "?");
    *cur_client = client_index(sc, x->valuestring);
  }
  sc->step_client[i] = *cur_client;
  if ((r = check_uint_field(l, st, "within_ms", field)) != 0 ||
      (r = check_uint_field(l, st, "not_before_ms", field)) != 0)
    return r;

  if ((x = cJSON_GetObjectItemCaseSensitive(st, "do")) != NULL) {
    static const char *const extra[] = {"client", "as", "expect", "within_ms",
                                        "not_before_ms"};
    sc->kinds[i] = NM_STEP_CMD;
    if ((r = check_cmd(l, st, field, extra, NM_COUNT(extra), names, 0)) != 0 ||
        (r = add_name(l, field, cJSON_GetObjectItemCaseSensitive(st, "as"),
                      names)) != 0)
      return r;
    if ((cJSON_GetObjectItemCaseSensitive(st, "within_ms") ||
         cJSON_GetObjectItemCaseSensitive(st, "not_before_ms")) &&
        !cJSON_GetObjectItemCaseSensitive(st, "expect"))
      return fail(l, field,
                  "within_ms and not_before_ms apply with expect only");
    return check_expect(l, cJSON_GetObjectItemCaseSensitive(st, "expect"),
                        field);
  }
  if ((x = cJSON_GetObjectItemCaseSensitive(st, "await")) != NULL) {
    const cJSON *y;
    sc->kinds[i] = NM_STEP_AWAIT;
    cJSON_ArrayForEach(y, st) {
      static const char *const keys[] = {"await", "client", "expect",
                                         "within_ms", "not_before_ms"};
      if (!IN_LIST(y->string, keys))
        return fail(l, field, "unknown field \"%s\" in an await", y->string);
    }
    if (cJSON_IsString(x)) {
      if (!cJSON_GetObjectItemCaseSensitive(names, x->valuestring))
        return fail(l, field,
                    "await \"%s\": no earlier command has it as "
                    "its \"as\"",
                    x->valuestring);
      return check_expect(l, cJSON_GetObjectItemCaseSensitive(st, "expect"),
                          field);
    }
    if (!cJSON_IsObject(x))
      return fail(l, field, "await must be a command name or a match object");
    if (cJSON_GetObjectItemCaseSensitive(st, "expect") ||
        cJSON_GetObjectItemCaseSensitive(st, "not_before_ms"))
      return fail(l, field,
                  "expect and not_before_ms apply to awaiting a "
                  "command's result only");
    if (cJSON_GetObjectItemCaseSensitive(x, "server"))
      sc->server_await = 1;
    return check_match(l, sc, x, field, 1);
  }
  if ((x = cJSON_GetObjectItemCaseSensitive(st, "expect_none")) != NULL) {
    const cJSON *y;
    sc->kinds[i] = NM_STEP_EXPECT_NONE;
    cJSON_ArrayForEach(y, st) {
      static const char *const keys[] = {"expect_none", "client", "for_ms"};
      if (!IN_LIST(y->string, keys))
        return fail(l, field, "unknown field \"%s\" in an expect_none",
                    y->string);
    }
    if (!is_uint(cJSON_GetObjectItemCaseSensitive(st, "for_ms")))
      return fail(l, field,
                  "expect_none needs for_ms (a non-negative "
                  "integer)");
    if (!cJSON_IsObject(x))
      return fail(l, field, "expect_none must be a match object");
    if (cJSON_GetObjectItemCaseSensitive(x, "server"))
      sc->server_await = 1;
    return check_match(l, sc, x, field, 0);
  }
  if ((x = cJSON_GetObjectItemCaseSensitive(st, "fault")) != NULL) {
    const cJSON *y;
    sc->kinds[i] = NM_STEP_FAULT;
    sc->has_fault = 1;
    cJSON_ArrayForEach(y, st) {
      if (strcmp(y->string, "fault") && strcmp(y->string, "client"))
        return fail(l, field, "unknown field \"%s\" in a fault step",
                    y->string);
    }
    if (!cJSON_IsObject(x) && !cJSON_IsArray(x))
      return fail(l, field, "fault must be a fault document (an object)");
    return 0;
  }
  x = cJSON_GetObjectItemCaseSensitive(st, "sleep_ms");
  sc->kinds[i] = NM_STEP_SLEEP;
  if (!is_uint(x))
    return fail(l, field, "sleep_ms must be a non-negative integer");
  {
    const cJSON *y;
    cJSON_ArrayForEach(y, st) {
      if (strcmp(y->string, "sleep_ms") && strcmp(y->string, "client"))
        return fail(l, field, "unknown field \"%s\" in a sleep step",
                    y->string);
    }
  }
  return 0;
}

static char *default_name(const char *path) {
  const char *b = strrchr(path, '/');
  size_t n;
  b = b ? b + 1 : path;
  n = strlen(b);
  if (n > 5 && strcmp(b + n - 5, ".json") == 0)
    n -= 5;
  return nm_tl_strndup(b, n);
}

static int check_top(lctx_t *l, nm_scenario_t *sc) {
  static const char *const keys[] = {
      "name",    "summary",    "tags",  "requires",   "server",
      "clients", "timeout_ms", "steps", "invariants", "real_server"};
  cJSON *root = sc->root;
  const cJSON *x;
  cJSON *names;
  int cur = 0, r = 0, nsteps;

  if (!cJSON_IsObject(root))
    return fail(l, "(top)", "a scenario is a JSON object");
  cJSON_ArrayForEach(x, root) {
    if (!IN_LIST(x->string, keys))
      return fail(l, x->string, "unknown field");
  }
  x = cJSON_GetObjectItemCaseSensitive(root, "name");
  if (x && (!cJSON_IsString(x) || !x->valuestring[0]))
    return fail(l, "name", "must be a non-empty string");
  sc->name = x ? strdup(x->valuestring) : default_name(l->path);
  x = cJSON_GetObjectItemCaseSensitive(root, "summary");
  if (x && !cJSON_IsString(x))
    return fail(l, "summary", "must be a string");
  sc->summary = strdup(x ? x->valuestring : "");
  sc->tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
  if (sc->tags && (r = check_str_list(l, sc->tags, "tags")) != 0)
    return r;
  sc->requires = cJSON_GetObjectItemCaseSensitive(root, "requires");
  if (sc->requires && (r = check_str_list(l, sc->requires, "requires")) != 0)
    return r;
  cJSON_ArrayForEach(x, sc->requires) {
    /* An unknown feature would turn the scenario into a silent SKIP. */
    if (!nm_scenario_feature_known(x->valuestring))
      return fail(l, "requires",
                  "unknown feature \"%s\" (docs/DRIVER-PROTOCOL.md, hello)",
                  x->valuestring);
  }
  sc->server = cJSON_GetObjectItemCaseSensitive(root, "server");
  if (sc->server && (r = check_server(l, sc->server)) != 0)
    return r;
  x = cJSON_GetObjectItemCaseSensitive(root, "clients");
  if (x) {
    const cJSON *c;
    if ((r = check_str_list(l, x, "clients")) != 0)
      return r;
    if (cJSON_GetArraySize(x) < 1 || cJSON_GetArraySize(x) > NM_TL_MAX_CLIENTS)
      return fail(l, "clients", "1 to %d names", NM_TL_MAX_CLIENTS);
    cJSON_ArrayForEach(c, x) {
      if (!c->valuestring[0] || client_index(sc, c->valuestring) >= 0)
        return fail(l, "clients", "names must be non-empty and distinct");
      sc->clients[sc->nclients++] = strdup(c->valuestring);
    }
  } else {
    sc->clients[sc->nclients++] = strdup("a");
  }
  x = cJSON_GetObjectItemCaseSensitive(root, "timeout_ms");
  if (x && !is_uint(x))
    return fail(l, "timeout_ms", "must be a non-negative integer");
  sc->timeout_ms =
      x ? (uint64_t)x->valuedouble : NM_SCENARIO_DEFAULT_TIMEOUT_MS;
  x = cJSON_GetObjectItemCaseSensitive(root, "real_server");
  if (x && !cJSON_IsBool(x))
    return fail(l, "real_server", "must be true or false");
  sc->real_server = x ? cJSON_IsTrue(x) : 1;

  sc->steps = cJSON_GetObjectItemCaseSensitive(root, "steps");
  if (!cJSON_IsArray(sc->steps))
    return fail(l, "steps", "required: a list of steps");
  nsteps = cJSON_GetArraySize(sc->steps);
  if (nsteps > NM_SCENARIO_MAX_STEPS)
    return fail(l, "steps", "more than %d steps", NM_SCENARIO_MAX_STEPS);
  sc->kinds = calloc((size_t)nsteps + 1, sizeof(*sc->kinds));
  sc->step_client = calloc((size_t)nsteps + 1, sizeof(*sc->step_client));
  names = cJSON_CreateObject();
  if (!sc->kinds || !sc->step_client || !names) {
    cJSON_Delete(names);
    return fail(l, "steps", "out of memory");
  }
  for (int i = 0; i < nsteps && r == 0; i++)
    r = check_step(l, sc, i, cJSON_GetArrayItem(sc->steps, i), &cur, names);
  cJSON_Delete(names);
  if (r)
    return r;

  {
    /* A protocol 2 command needs its feature listed, so that a driver
     * without it skips the scenario instead of failing it. */
    const char *need[3] = {l->uses_batch ? "batch" : NULL,
                           l->uses_on_msg ? "on_msg" : NULL,
                           l->uses_info ? "info" : NULL};
    for (int k = 0; k < 3; k++) {
      int listed = 0;
      cJSON_ArrayForEach(x, sc->requires) {
        listed |= need[k] && !strcmp(x->valuestring, need[k]);
      }
      if (need[k] && !listed)
        return fail(l, "requires", "the steps use %s: list \"%s\" in requires",
                    need[k], need[k]);
    }
  }
  sc->invariants = cJSON_GetObjectItemCaseSensitive(root, "invariants");
  if (sc->invariants) {
    const cJSON *inv;
    int i = 0;
    if (!cJSON_IsArray(sc->invariants))
      return fail(l, "invariants", "must be a list");
    cJSON_ArrayForEach(inv, sc->invariants) {
      char msg[256], field[32];
      snprintf(field, sizeof(field), "invariants[%d]", i++);
      if (nm_inv_validate(inv, msg, sizeof(msg)) != 0)
        return fail(l, field, "%s", msg);
      if (cJSON_IsObject(inv)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(inv, "client");
        if (c && client_index(sc, c->valuestring) < 0)
          return fail(l, field,
                      "client is not one of the scenario's "
                      "clients");
      }
    }
  }
  return 0;
}

void nm_json_error_where(const char *text, size_t len, const char *at,
                         char *out, size_t outlen) {
  size_t line = 1, col = 1, n = 0;
  char snip[40];
  if (!at || at < text || at > text + len) {
    snprintf(out, outlen, "position unknown");
    return;
  }
  for (const char *p = text; p < at; p++) {
    if (*p == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  /* The offending text: up to the end of its line, printable bytes only. */
  for (const char *p = at;
       p < text + len && *p != '\n' && *p != '\r' && n < sizeof(snip) - 4; p++)
    snip[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
  if (n == sizeof(snip) - 4)
    snip[n++] = '.', snip[n++] = '.', snip[n++] = '.';
  snip[n] = '\0';
  if (at >= text + len)
    snprintf(out, outlen, "line %zu, column %zu: unexpected end of file", line,
             col);
  else
    snprintf(out, outlen, "line %zu, column %zu, at '%s'", line, col, snip);
}

int nm_scenario_parse(const char *text, size_t len, const char *path,
                      nm_scenario_t **out, char *err, size_t errlen) {
  lctx_t l = {path, err, errlen, 0, 0, 0};
  nm_scenario_t *sc = calloc(1, sizeof(*sc));
  const char *end = NULL; /* where cJSON stopped (per call: thread-safe) */
  int r;

  *out = NULL;
  if (!sc)
    return fail(&l, "(file)", "out of memory");
  sc->path = strdup(path);
  sc->root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!sc->root) {
    char where[160];
    nm_json_error_where(text, len, end, where, sizeof(where));
    r = fail(&l, "(json)", "not valid JSON (%s)", where);
    nm_scenario_free(sc);
    return r;
  }
  r = check_top(&l, sc);
  if (r) {
    nm_scenario_free(sc);
    return r;
  }
  *out = sc;
  return 0;
}

int nm_scenario_load(const char *path, nm_scenario_t **out, char *err,
                     size_t errlen) {
  lctx_t l = {path, err, errlen, 0, 0, 0};
  FILE *f = fopen(path, "rb");
  char *buf;
  size_t n;
  int r;

  *out = NULL;
  if (!f)
    return fail(&l, "(file)", "%s", strerror(errno));
  buf = malloc(NM_SCENARIO_MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    return fail(&l, "(file)", "out of memory");
  }
  n = fread(buf, 1, NM_SCENARIO_MAX_BYTES + 1, f);
  fclose(f);
  if (n > NM_SCENARIO_MAX_BYTES) {
    free(buf);
    return fail(&l, "(file)", "larger than %d bytes", NM_SCENARIO_MAX_BYTES);
  }
  r = nm_scenario_parse(buf, n, path, out, err, errlen);
  free(buf);
  return r;
}

void nm_scenario_free(nm_scenario_t *sc) {
  if (!sc)
    return;
  free(sc->path);
  free(sc->name);
  free(sc->summary);
  for (int i = 0; i < sc->nclients; i++)
    free(sc->clients[i]);
  free(sc->kinds);
  free(sc->step_client);
  cJSON_Delete(sc->root);
  free(sc);
}
