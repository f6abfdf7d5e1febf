/* Random differential cases: a seeded generator of client byte streams
 * (valid ops mostly, with argument and framing errors mixed in) whose answer
 * from nats-server is deterministic, so both servers can be compared on them.
 * Nothing is expected beforehand: a random case passes when the two servers
 * agree.
 *
 * What keeps nats-server deterministic: on one connection no two subs share
 * a subject (its per-subject sets are unordered), there is at most one queue
 * group with one member, and a case ends long before the first keepalive
 * PING (about 2 s after CONNECT). (The second connection uses its own queue
 * group name, for the same reason.) The final PING goes in the same write as
 * the ops, for the same reason as the size limit below. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_diff.h"

/* Bytes of one generated send. Below nats-server's first read size (512)
 * so that it reads a case in one go: when an op closes the connection, what
 * follows it is then already read, and the close is a FIN, never a reset
 * that depends on how the server sized its reads. */
#define NM_DIFF_RANDOM_TEXT 500
#define NM_DIFF_RANDOM_OPS 14 /* ops per case, at most */

typedef struct {
  unsigned long long s;
} rng_t;

static unsigned rnd(rng_t *r, unsigned n) {
  /* xorshift64*: enough for picking ops; fixed across platforms. */
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return (unsigned)(((r->s * 2685821657736338717ULL) >> 33) % n);
}

typedef struct {
  char *p;
  size_t len;
  int full;
} text_t;

static void put(text_t *t, const char *fmt, ...) {
  va_list ap;
  int n;
  if (t->full)
    return;
  va_start(ap, fmt);
  n = vsnprintf(t->p + t->len, NM_DIFF_RANDOM_TEXT - t->len, fmt, ap);
  va_end(ap);
  if (n < 0 || t->len + (size_t)n >= NM_DIFF_RANDOM_TEXT)
    t->full = 1; /* the caller drops the op: the case stays shorter */
  else
    t->len += (size_t)n;
}

/* Each sid has its own subject, so no two subs of a connection share one. */
static const char *const kSubSubject[] = {
    "foo", "foo.*", "foo.>", ">", "bar.*", "foo q", "foo..bar", "_INBOX.x"};
static const char *const kPubSubject[] = {"foo",   "foo.bar",  "foo.bar.baz",
                                          "bar.x", "bar",      "_INBOX.x",
                                          "foo.*", "foo..bar", "x"};
static const char *const kReply[] = {"_INBOX.x", "r", "bar.x", "a.*"};

static const char *op_name(rng_t *r, const char *upper) {
  static char buf[8];
  size_t n = strlen(upper);
  if (rnd(r, 4) != 0)
    return upper;
  /* Mixed case now and then. */
  for (size_t i = 0; i < n && i < sizeof(buf) - 1; i++)
    buf[i] = rnd(r, 2) ? upper[i] : (char)(upper[i] | 0x20);
  buf[n < sizeof(buf) - 1 ? n : sizeof(buf) - 1] = '\0';
  return buf;
}

static const char *blank(rng_t *r) {
  static const char *const k[] = {" ", " ", " ", "  ", "\t", " \t "};
  return k[rnd(r, 6)];
}

static int g_auth; /* the case's server requires --user u --pass p */

static void gen_connect(rng_t *r, text_t *t, int *headers) {
  static const char *const tf[] = {"true", "false"};
  int first = 1;
  put(t, "%s%s{", op_name(r, "CONNECT"), rnd(r, 5) ? " " : "");
#define FIELD(name, value)                                                     \
  do {                                                                         \
    put(t, "%s\"%s\":%s", first ? "" : ",", name, value);                      \
    first = 0;                                                                 \
  } while (0)
  if (rnd(r, 4))
    FIELD("verbose", tf[rnd(r, 4) ? 1 : 0]);
  if (rnd(r, 4))
    FIELD("pedantic", tf[rnd(r, 3) ? 1 : 0]);
  if (rnd(r, 4) == 0)
    FIELD("echo", tf[rnd(r, 2)]);
  if (rnd(r, 2)) {
    *headers = 1;
    FIELD("headers", "true");
    if (rnd(r, 2))
      FIELD("no_responders", "true");
  } else if (rnd(r, 8) == 0) {
    FIELD("no_responders", "true"); /* without headers: an -ERR */
  }
  if (rnd(r, 3) == 0)
    FIELD("protocol", rnd(r, 10) ? "1" : "0");
  if (rnd(r, 3) == 0)
    FIELD("lang", "\"C\"");
  if (g_auth && rnd(r, 6)) {
    /* Mostly the right credentials, sometimes a wrong password. */
    FIELD("user", "\"u\"");
    FIELD("pass", rnd(r, 5) ? "\"p\"" : "\"x\"");
  }
#undef FIELD
  put(t, "}\r\n");
}

static void gen_payload(rng_t *r, char *p, int n) {
  static const char k[] = "abcxyz0123 \r\n.*>";
  for (int i = 0; i < n; i++)
    p[i] = k[rnd(r, sizeof(k) - 1)];
  p[n] = '\0';
}

static void gen_op(rng_t *r, text_t *t, int *headers) {
  char payload[32];
  int n;
  switch (rnd(r, 20)) {
  case 0:
    gen_connect(r, t, headers);
    break;
  case 1:
  case 2:
  case 3:
  case 4: {
    int sid = (int)rnd(r, 8) + 1;
    put(t, "%s%s%s%s%d\r\n", op_name(r, "SUB"), blank(r), kSubSubject[sid - 1],
        blank(r), sid);
    break;
  }
  case 5:
  case 6: {
    static const char *const max[] = {"", "", " 0", " 1", " 2", " 3", " x"};
    put(t, "%s%s%d%s\r\n", op_name(r, "UNSUB"), blank(r), (int)rnd(r, 9) + 1,
        max[rnd(r, 7)]);
    break;
  }
  case 7:
  case 8:
  case 9:
  case 10:
  case 11: {
    const char *subj = kPubSubject[rnd(r, 9)];
    n = (int)rnd(r, 12);
    gen_payload(r, payload, n);
    if (rnd(r, 3) == 0)
      put(t, "%s%s%s%s%s%s%d\r\n%s\r\n", op_name(r, "PUB"), blank(r), subj,
          blank(r), kReply[rnd(r, 4)], blank(r), n, payload);
    else
      put(t, "%s%s%s%s%d\r\n%s\r\n", op_name(r, "PUB"), blank(r), subj,
          blank(r), n, payload);
    break;
  }
  case 12:
  case 13: {
    static const char *const hdrs[] = {"NATS/1.0\r\n\r\n",
                                       "NATS/1.0\r\nK: v\r\n\r\n"};
    const char *h = hdrs[rnd(r, 2)];
    const char *subj = kPubSubject[rnd(r, 6)];
    n = (int)rnd(r, 8);
    gen_payload(r, payload, n);
    if (rnd(r, 3) == 0)
      put(t, "%s %s %s %d %d\r\n%s%s\r\n", op_name(r, "HPUB"), subj,
          kReply[rnd(r, 2)], (int)strlen(h), (int)strlen(h) + n, h, payload);
    else
      put(t, "%s %s %d %d\r\n%s%s\r\n", op_name(r, "HPUB"), subj,
          (int)strlen(h), (int)strlen(h) + n, h, payload);
    break;
  }
  case 14:
  case 15:
    put(t, "%s%s", op_name(r, "PING"), rnd(r, 6) ? "\r\n" : "\n");
    break;
  case 16:
    put(t, "%s\r\n", op_name(r, "PONG"));
    break;
  default: {
    /* Rare framing and argument errors; most end the connection. */
    static const char *const bad[] = {"FOO\r\n",
                                      "PUB foo\r\n",
                                      "SUB foo\r\n",
                                      "PUB foo 3\r\nabcd\r\n",
                                      "UNSUB\r\n",
                                      "+OK\r\n",
                                      "PUB foo -1\r\n",
                                      "SUB foo..bar 9\r\n",
                                      "PUB foo.* 1\r\nx\r\n",
                                      "HPUB foo 9 2\r\n",
                                      "\r\n",
                                      "PING junk\r\n"};
    if (rnd(r, 3) == 0)
      put(t, "%s", bad[rnd(r, 12)]);
    else
      put(t, "PING\r\n");
    break;
  }
  }
}

static int add_step(nm_diff_case_t *c, nm_diff_op_t op, int conn, int ms,
                    const char *text, size_t len) {
  nm_diff_step_t *st;
  if (c->nsteps >= NM_DIFF_MAX_STEPS)
    return -1;
  st = &c->steps[c->nsteps++];
  memset(st, 0, sizeof(*st));
  st->op = op;
  st->conn = conn;
  st->ms = ms;
  if (text) {
    st->text = malloc(len + 1);
    if (!st->text)
      return -1;
    memcpy(st->text, text, len);
    st->text[len] = '\0';
    st->len = len;
  }
  if (op == NM_DIFF_CONNECT)
    c->used[conn] = 1;
  return 0;
}

int nm_diff_random_case(nm_diff_case_t *c, unsigned seed) {
  rng_t r = {0x9E3779B97F4A7C15ULL ^ ((unsigned long long)seed << 17) ^ seed};
  char buf[NM_DIFF_RANDOM_TEXT];
  text_t t = {buf, 0, 0};
  int headers = 0;
  int ops;
  int two = 0;
  int small_lines = 0;

  memset(c, 0, sizeof(*c));
  snprintf(c->name, sizeof(c->name), "random_%u", seed);
  c->file = "(random)";
  c->random = 1;
  for (int i = 0; i < NM_DIFF_MAX_CONNS; i++)
    c->expect_state[i] = -1;
  for (int i = 0; i < 3; i++)
    rnd(&r, 2); /* let the seed spread */

  /* Server settings, now and then: auth, and small limits that the ops can
   * reach. The second connection's own setup must pass under them. */
  switch (rnd(&r, 6)) {
  case 0:
    c->config = strdup("max_payload: 8\n");
    break;
  case 1:
    c->config = strdup("max_control_line: 24\n");
    small_lines = 1;
    break;
  default:
    break;
  }
  g_auth = !small_lines && rnd(&r, 5) == 0;
  if (g_auth) {
    static const char *const a[] = {"--user", "u", "--pass", "p"};
    for (int i = 0; i < 4; i++)
      c->args[c->nargs++] = strdup(a[i]);
  }

  /* Sometimes a second connection subscribes first, so that routing across
   * connections and header stripping are exercised too. */
  if (rnd(&r, 3) == 0) {
    const char *sub = rnd(&r, 2) ? "foo.>" : ">";
    char b[200];
    int n = snprintf(b, sizeof(b),
                     "CONNECT {\"verbose\":false%s%s}\r\n"
                     "SUB %s 1\r\nSUB foo qb 2\r\n",
                     !small_lines && rnd(&r, 2) ? ",\"headers\":true" : "",
                     g_auth ? ",\"user\":\"u\",\"pass\":\"p\"" : "", sub);
    two = 1;
    if (add_step(c, NM_DIFF_CONNECT, 1, 0, NULL, 0) ||
        add_step(c, NM_DIFF_SEND, 1, 0, b, (size_t)n) ||
        add_step(c, NM_DIFF_SYNC, 1, NM_DIFF_RECV_MS, NULL, 0))
      return -1;
  }
  if (rnd(&r, 5))
    gen_connect(&r, &t, &headers);
  ops = (int)rnd(&r, NM_DIFF_RANDOM_OPS) + 1;
  for (int i = 0; i < ops && !t.full; i++) {
    size_t before = t.len;
    gen_op(&r, &t, &headers);
    if (t.full || t.len + 6 >= NM_DIFF_RANDOM_TEXT) {
      t.len = before; /* keep room for the final PING */
      t.full = 1;
    }
  }
  memcpy(buf + t.len, "PING\r\n", 6);
  t.len += 6;
  if (add_step(c, NM_DIFF_CONNECT, 0, 0, NULL, 0) ||
      add_step(c, NM_DIFF_SEND, 0, 0, buf, t.len) ||
      add_step(c, NM_DIFF_RECV, 0, 1000, "PONG\r\n", 6) ||
      add_step(c, NM_DIFF_END, 0, NM_DIFF_END_MS, NULL, 0))
    return -1;
  if (two && add_step(c, NM_DIFF_SYNC, 1, NM_DIFF_RECV_MS, NULL, 0))
    return -1;
  return 0;
}
