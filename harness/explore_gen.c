/* Generated workloads (--generate): a seeded random scenario over one or two
 * clients (queue groups, headers, reconnect options and requests in flight
 * at a drain included; no slow handlers: the closing flushes prove that
 * messages reached the client, not that a slow handler has run them all,
 * so delivered_all would blame the client for the workload's own end). Every
 * step names its client, so that shrinking may remove any command without
 * changing whose the next one is. The commands a correct client always
 * completes expect "ok"; those that may legitimately fail (a request nobody
 * answers, an unsubscribe of a subscription whose max was reached) expect "any"
 * and are judged by the invariants. */
#include <stdio.h>
#include <string.h>

#include "nm_explore.h"

#define GEN_MAX_SUBS 16
#define GEN_MAX_OPS 14

typedef struct {
  char tag[16];
  int client;
  int max; /* 0: none */
  int active;
} gen_sub_t;

typedef struct {
  nm_rng_t rng;
  cJSON *steps;
  const char *names[2];
  int nclients;
  int open[2];
  gen_sub_t subs[GEN_MAX_SUBS];
  int nsubs;
  int used_max, used_drain_sub, used_drain, used_request;
  int used_queue, used_headers, used_reconnect;
  int nas;    /* "as" names handed out */
  int faults; /* fault classes may strike: no command is owed success */
} gen_t;

/* What a command a correct client completes must end with: "ok", or, when
 * fault classes are explored (a dropped PONG fails a flush, a reset fails
 * whatever was pending), "any": the invariants judge instead. */
static const char *owed(const gen_t *g) {
  return g->faults ? "any" : "ok";
}

static cJSON *step(gen_t *g, int client, const char *op) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "client", g->names[client]);
  cJSON_AddStringToObject(s, "do", op);
  cJSON_AddItemToArray(g->steps, s);
  return s;
}

static void await_closed(gen_t *g, int client) {
  cJSON *s, *m;
  g->open[client] = 0;
  s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "client", g->names[client]);
  m = cJSON_AddObjectToObject(s, "await");
  cJSON_AddStringToObject(m, "ev", "closed");
  cJSON_AddNumberToObject(s, "within_ms", 5000);
  cJSON_AddItemToArray(g->steps, s);
}

static void subject(gen_t *g, char *buf, size_t n) {
  snprintf(buf, n, "g.%u", nm_rng_below(&g->rng, 3));
}

/* An active subscription of client c, or -1. */
static int pick_sub(gen_t *g, int c) {
  int cand[GEN_MAX_SUBS], n = 0;
  for (int i = 0; i < g->nsubs; i++)
    if (g->subs[i].client == c && g->subs[i].active)
      cand[n++] = i;
  return n ? cand[nm_rng_below(&g->rng, (uint32_t)n)] : -1;
}

/* A step of client c on one of its active subscriptions (op "unsubscribe"
 * or "drain_sub"), or NULL when it has none; *i is the subscription. */
static cJSON *sub_step(gen_t *g, int c, const char *op, int *i) {
  cJSON *st;
  *i = pick_sub(g, c);
  if (*i < 0)
    return NULL;
  st = step(g, c, op);
  cJSON_AddStringToObject(st, "sub", g->subs[*i].tag);
  return st;
}

static void op_subscribe(gen_t *g, int c) {
  gen_sub_t *s;
  cJSON *st;
  char subj[16];
  if (g->nsubs >= GEN_MAX_SUBS)
    return;
  s = &g->subs[g->nsubs];
  snprintf(s->tag, sizeof(s->tag), "s%d", g->nsubs + 1);
  s->client = c;
  s->active = 1;
  s->max =
      nm_rng_below(&g->rng, 10) < 3 ? 1 + (int)nm_rng_below(&g->rng, 5) : 0;
  g->nsubs++;
  st = step(g, c, "subscribe");
  cJSON_AddStringToObject(st, "sub", s->tag);
  if (nm_rng_below(&g->rng, 6) == 0) {
    cJSON_AddStringToObject(st, "subject", "g.svc");
    cJSON_AddStringToObject(st, "reply_with", "re");
  } else {
    subject(g, subj, sizeof(subj));
    cJSON_AddStringToObject(st, "subject", subj);
    /* A queue group: the server hands each message to one member. */
    if (nm_rng_below(&g->rng, 5) == 0) {
      cJSON_AddStringToObject(st, "queue", "q");
      g->used_queue = 1;
    }
  }
  if (s->max) {
    cJSON_AddNumberToObject(st, "max", s->max);
    g->used_max = 1;
  }
  cJSON_AddStringToObject(st, "expect", owed(g));
}

static void op_publish(gen_t *g, int c) {
  static const int sizes[] = {0, 0, 16, 200};
  cJSON *st = step(g, c, "publish");
  char subj[16];
  subject(g, subj, sizeof(subj));
  cJSON_AddStringToObject(st, "subject", subj);
  /* Without data, the payloads are the sequence numbers the invariants
   * match, a lone message's included. */
  cJSON_AddNumberToObject(st, "count", 1 + nm_rng_below(&g->rng, 20));
  cJSON_AddNumberToObject(st, "size", sizes[nm_rng_below(&g->rng, 4)]);
  if (nm_rng_below(&g->rng, 4) == 0) { /* HPUB */
    cJSON *h = cJSON_AddObjectToObject(st, "headers"), *v;
    v = cJSON_AddArrayToObject(h, "X-Gen");
    cJSON_AddItemToArray(v, cJSON_CreateString("a"));
    cJSON_AddItemToArray(v, cJSON_CreateString("b"));
    g->used_headers = 1;
  }
  cJSON_AddStringToObject(st, "expect", owed(g));
}

static void op_flush(gen_t *g, int c) {
  cJSON *st = step(g, c, "flush");
  cJSON_AddNumberToObject(st, "timeout_ms", 3000);
  cJSON_AddStringToObject(st, "expect", owed(g));
  cJSON_AddNumberToObject(st, "within_ms", 5000);
}

static void op_unsubscribe(gen_t *g, int c) {
  int i;
  cJSON *st = sub_step(g, c, "unsubscribe", &i);
  if (!st)
    return;
  if (nm_rng_below(&g->rng, 5) == 0) {
    int m = 1 + (int)nm_rng_below(&g->rng, 3);
    cJSON_AddNumberToObject(st, "max", m);
    g->subs[i].max = g->subs[i].max && g->subs[i].max < m ? g->subs[i].max : m;
    g->used_max = 1;
  } else {
    g->subs[i].active = 0;
  }
  cJSON_AddStringToObject(st, "expect", g->subs[i].max ? "any" : owed(g));
}

static void op_drain_sub(gen_t *g, int c) {
  int i;
  cJSON *st = sub_step(g, c, "drain_sub", &i);
  if (!st)
    return;
  cJSON_AddNumberToObject(st, "timeout_ms", 3000);
  cJSON_AddStringToObject(st, "expect", g->subs[i].max ? "any" : owed(g));
  cJSON_AddNumberToObject(st, "within_ms", 5000);
  g->subs[i].active = 0;
  g->used_drain_sub = 1;
}

static void op_request(gen_t *g, int c) {
  cJSON *st = step(g, c, "request");
  cJSON_AddStringToObject(st, "subject", "g.svc");
  cJSON_AddStringToObject(st, "data", "q");
  cJSON_AddNumberToObject(st, "timeout_ms", 500);
  cJSON_AddStringToObject(st, "expect", "any");
  cJSON_AddNumberToObject(st, "within_ms", 3000);
  g->used_request = 1;
}

/* An await of the command started as `name`. */
static void await_as(gen_t *g, int client, const char *name, const char *expect,
                     int within_ms) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "client", g->names[client]);
  cJSON_AddStringToObject(s, "await", name);
  cJSON_AddStringToObject(s, "expect", expect);
  cJSON_AddNumberToObject(s, "within_ms", within_ms);
  cJSON_AddItemToArray(g->steps, s);
}

static void op_end(gen_t *g, int c, int drain) {
  cJSON *st;
  char req[16] = "", dr[16];
  /* A request still in flight when the drain starts: its reply (or its
   * error) comes before the connection closes. */
  if (drain && nm_rng_below(&g->rng, 2) == 0) {
    snprintf(req, sizeof(req), "r%d", ++g->nas);
    st = step(g, c, "request");
    cJSON_AddStringToObject(st, "subject", "g.svc");
    cJSON_AddStringToObject(st, "data", "q");
    cJSON_AddNumberToObject(st, "timeout_ms", 1000);
    cJSON_AddStringToObject(st, "as", req);
    g->used_request = 1;
  }
  st = step(g, c, drain ? "drain" : "close");
  if (drain) {
    cJSON_AddNumberToObject(st, "timeout_ms", 5000);
    g->used_drain = 1;
  }
  if (req[0]) {
    snprintf(dr, sizeof(dr), "d%d", ++g->nas);
    cJSON_AddStringToObject(st, "as", dr);
    await_as(g, c, req, "any", 3000);
    await_as(g, c, dr, owed(g), 7000);
  } else {
    cJSON_AddStringToObject(st, "expect", owed(g));
    cJSON_AddNumberToObject(st, "within_ms", 7000);
  }
  for (int i = 0; i < g->nsubs; i++)
    if (g->subs[i].client == c)
      g->subs[i].active = 0;
  await_closed(g, c);
}

cJSON *nm_gen_workload(uint64_t seed, int faults) {
  static const char *const invs[] = {
      "publish_order",  "no_loss",         "flush_fence",
      "flush_timeout",  "pong_fifo",       "delivery_order",
      "delivered_all",  "drain_sub_fence", "drain_conn",
      "auto_unsub_max", "closed_once",     "reconnect_connect_first"};
  /* Under faults a client owes no delivery: what a reset cut off or a
   * stalled server never read is lost in any client. */
  static const char *const not_under_faults[] = {"no_loss", "delivered_all"};
  gen_t g;
  cJSON *doc = cJSON_CreateObject(), *x;
  char buf[96];
  int nops;

  memset(&g, 0, sizeof(g));
  g.faults = faults;
  nm_rng_seed(&g.rng, seed ^ 0x5bd1e995u);
  g.names[0] = "a";
  g.names[1] = "b";
  g.nclients = 1 + (int)nm_rng_below(&g.rng, 2);
  snprintf(buf, sizeof(buf), "gen-%llu", (unsigned long long)seed);
  cJSON_AddStringToObject(doc, "name", buf);
  snprintf(buf, sizeof(buf), "Generated workload (seed %llu).",
           (unsigned long long)seed);
  cJSON_AddStringToObject(doc, "summary", buf);
  x = cJSON_AddArrayToObject(doc, "tags");
  cJSON_AddItemToArray(x, cJSON_CreateString("generated"));
  x = cJSON_AddArrayToObject(doc, "clients");
  for (int i = 0; i < g.nclients; i++)
    cJSON_AddItemToArray(x, cJSON_CreateString(g.names[i]));
  cJSON_AddNumberToObject(doc, "timeout_ms", 60000);
  g.steps = cJSON_AddArrayToObject(doc, "steps");
  for (int i = 0; i < g.nclients; i++) {
    cJSON *st = step(&g, i, "connect");
    /* Reconnect options: under a close or reset fault the client comes
     * back (and replays its subscriptions) instead of closing. */
    if (nm_rng_below(&g.rng, 3) == 0) {
      cJSON_AddBoolToObject(st, "reconnect", 1);
      cJSON_AddNumberToObject(st, "max_reconnect", 10);
      cJSON_AddNumberToObject(st, "reconnect_wait_ms", 50);
      cJSON_AddNumberToObject(st, "reconnect_jitter_ms", 10);
      g.used_reconnect = 1;
    }
    cJSON_AddStringToObject(st, "expect", owed(&g));
    g.open[i] = 1;
  }
  nops = 3 + (int)nm_rng_below(&g.rng, GEN_MAX_OPS - 2);
  for (int k = 0; k < nops; k++) {
    int c = (int)nm_rng_below(&g.rng, (uint32_t)g.nclients);
    uint32_t w = nm_rng_below(&g.rng, 100);
    if (!g.open[c])
      c = 1 - c;
    if (c >= g.nclients || !g.open[c])
      break;
    if (w < 22)
      op_subscribe(&g, c);
    else if (w < 50)
      op_publish(&g, c);
    else if (w < 65)
      op_flush(&g, c);
    else if (w < 73)
      op_unsubscribe(&g, c);
    else if (w < 81)
      op_request(&g, c);
    else if (w < 91)
      op_drain_sub(&g, c);
    else
      op_end(&g, c, w < 96);
  }
  /* Deliveries land before the steps end: every open client flushes (its
   * publishes reached the server), then again (what the server routed to
   * it before the second PONG has been handled). */
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < g.nclients; i++)
      if (g.open[i])
        op_flush(&g, i);
  x = cJSON_AddArrayToObject(doc, "requires");
  cJSON_AddItemToArray(x, cJSON_CreateString("flush"));
  if (g.used_max)
    cJSON_AddItemToArray(x, cJSON_CreateString("auto_unsub"));
  if (g.used_drain_sub)
    cJSON_AddItemToArray(x, cJSON_CreateString("drain_sub"));
  if (g.used_drain)
    cJSON_AddItemToArray(x, cJSON_CreateString("drain"));
  if (g.used_request)
    cJSON_AddItemToArray(x, cJSON_CreateString("request"));
  if (g.used_queue)
    cJSON_AddItemToArray(x, cJSON_CreateString("queue"));
  if (g.used_headers)
    cJSON_AddItemToArray(x, cJSON_CreateString("headers"));
  if (g.used_reconnect)
    cJSON_AddItemToArray(x, cJSON_CreateString("reconnect"));
  x = cJSON_AddArrayToObject(doc, "invariants");
  for (size_t i = 0; i < sizeof(invs) / sizeof(invs[0]); i++) {
    int skip = 0;
    for (size_t k = 0; faults && k < 2; k++)
      skip |= !strcmp(invs[i], not_under_faults[k]);
    if (!skip)
      cJSON_AddItemToArray(x, cJSON_CreateString(invs[i]));
  }
  return doc;
}
