/* Differential test: every client-mode row of test_parser_table.h, sent to
 * the real nats-server 2.9.10 (max_control_line and max_payload set to the
 * table's limits), must get the reaction the row's nm_perr_t stands for:
 *   NONE          the connection stays open (a marker message comes back)
 *   UNKNOWN_OP    -ERR 'Unknown Protocol Operation', then close
 *   CONTROL_LINE  -ERR 'maximum control line exceeded', then close
 *   MAX_PAYLOAD   -ERR 'Maximum Payload Violation', then close
 *   AUTH          -ERR 'Authorization Violation', then close
 *   BAD_ARGS, HEADERS_OFF   closed without any -ERR
 * The default limits (4096, 1 MiB) are checked at N and N+1 the same way,
 * against a server with no config, and through the parser. Then 1000
 * generated inputs (seeded, so reproducible: mutated op names, blanks, line
 * ends, sizes, payloads) get the reaction the parser predicts for them. */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nm_parser.h"
#include "nm_test_util.h"
#include "test_parser_table.h"

/* Per-read deadline; every read below is bounded by it. */
#define DIFF_TIMEOUT_MS 5000
#define REPLY_CAP (64 * 1024)

static nm_natsserver_t g_plain; /* limits from the table */
static nm_natsserver_t g_auth;  /* the same, plus user u / password p */
static nm_natsserver_t g_dflt;  /* no config: default limits */

static const char kMarker[] = "SUB _end 9\r\nPUB _end 3\r\nend\r\n";
static const char kMarkerMsg[] = "MSG _end 9 3\r\nend\r\n";

static void start_servers(void) {
  char conf[256];

  if (!nm_natsserver_available())
    return;
  snprintf(conf, sizeof(conf), "max_control_line: %d\nmax_payload: %d\n",
           NM_TT_MCL, NM_TT_MPAY);
  if (nm_natsserver_start(&g_plain, conf, NULL) != 0)
    g_plain.pid = 0;
  snprintf(conf, sizeof(conf),
           "max_control_line: %d\nmax_payload: %d\n"
           "authorization { user: u, password: p }\n",
           NM_TT_MCL, NM_TT_MPAY);
  if (nm_natsserver_start(&g_auth, conf, NULL) != 0)
    g_auth.pid = 0;
  if (nm_natsserver_start(&g_dflt, NULL, NULL) != 0)
    g_dflt.pid = 0;
}

static void stop_servers(void) {
  if (g_plain.pid > 0)
    nm_natsserver_stop(&g_plain);
  if (g_auth.pid > 0)
    nm_natsserver_stop(&g_auth);
  if (g_dflt.pid > 0)
    nm_natsserver_stop(&g_dflt);
}

static int ends_with(const char *s, size_t n, const char *tail) {
  size_t t = strlen(tail);
  return n >= t && memcmp(s + n - t, tail, t) == 0;
}

/* Drops the non-fatal "-ERR 'Invalid Subject'" lines (a SUB with a bad
 * subject; the connection stays open) from reply[0..n); returns the new n. */
static size_t drop_nonfatal(char *reply, size_t n) {
  static const char kInv[] = "-ERR 'Invalid Subject'\r\n";
  size_t k = sizeof(kInv) - 1;
  char *at;

  reply[n] = '\0';
  while ((at = strstr(reply, kInv)) != NULL) {
    memmove(at, at + k, n - (size_t)(at - reply) - k + 1);
    n -= k;
  }
  return n;
}

/* Sends prefix + input (+ the marker when `with_marker`) on a fresh
 * connection and checks nats-server's reaction against `want`. */
static void check_reaction_m(const nm_natsserver_t *ns, const char *name,
                             const char *prefix, const char *in, size_t n,
                             nm_perr_t want, int with_marker) {
  static char reply[REPLY_CAP];
  char line[4096];
  const char *tail = NULL;
  nm_peer_state_t st;
  size_t got;
  int fd;

  ck_assert_msg(ns->pid > 0, "nats-server did not start");
  fd = nm_test_connect(ns->port);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_gt(nm_test_read_line(fd, line, sizeof(line), DIFF_TIMEOUT_MS),
                   0);
  ck_assert(strncmp(line, "INFO ", 5) == 0);

  {
    size_t pl = strlen(prefix), ml = with_marker ? strlen(kMarker) : 0;
    char *all = malloc(pl + n + ml);
    ck_assert_ptr_nonnull(all);
    memcpy(all, prefix, pl);
    memcpy(all + pl, in, n);
    memcpy(all + pl + n, kMarker, ml);
    /* one write, so that the server sees it as unsplit as possible */
    ck_assert_int_eq(nm_test_send(fd, all, pl + n + ml), 0);
    free(all);
  }

  if (want == NM_PERR_NONE) {
    got = nm_test_read(fd, reply, sizeof(reply), kMarkerMsg, DIFF_TIMEOUT_MS, 0,
                       &st);
    got = drop_nonfatal(reply, got);
    /* (another subscription may get the marker too: look for sid 9's) */
    ck_assert_msg(strstr(reply, kMarkerMsg) != NULL && st == NM_PEER_OPEN &&
                      strstr(reply, "-ERR") == NULL,
                  "row '%s': nats-server replied '%s' (state %d), want the "
                  "marker on an open connection",
                  name, reply, st);
    close(fd);
    return;
  }

  got = nm_test_read(fd, reply, sizeof(reply), NULL, DIFF_TIMEOUT_MS, 0, &st);
  got = drop_nonfatal(reply, got);
  close(fd);
  ck_assert_msg(st != NM_PEER_OPEN, "row '%s': still open after '%s'", name,
                reply);
  switch (want) {
  case NM_PERR_UNKNOWN_OP:
    tail = "-ERR 'Unknown Protocol Operation'\r\n";
    break;
  case NM_PERR_CONTROL_LINE:
    tail = "-ERR 'maximum control line exceeded'\r\n";
    break;
  case NM_PERR_MAX_PAYLOAD:
    tail = "-ERR 'Maximum Payload Violation'\r\n";
    break;
  case NM_PERR_AUTH:
    tail = "-ERR 'Authorization Violation'\r\n";
    break;
  default:
    break;
  }
  if (tail != NULL) {
    ck_assert_msg(ends_with(reply, got, tail), "row '%s': got '%s', want '%s'",
                  name, reply, tail);
  } else {
    ck_assert_msg(strstr(reply, "-ERR") == NULL,
                  "row '%s': got '%s', want a silent close", name, reply);
  }
}

static void check_reaction(const nm_natsserver_t *ns, const char *name,
                           const char *prefix, const char *in, size_t n,
                           nm_perr_t want) {
  check_reaction_m(ns, name, prefix, in, n, want, want == NM_PERR_NONE);
}

START_TEST(test_row_vs_nats_server) {
  const nm_tt_row_t *row = &nm_tt_rows[_i];
  static char gen[NM_TT_GEN_MAX];
  const char *prefix, *in;
  size_t n;

  if (row->mode != NM_PARSE_CLIENT_OPS)
    return; /* what a server sends: not nats-server's to judge */
  in = nm_tt_input(row, gen, &n);
  if (row->flags & NM_PARSER_EXPECT_CONNECT) {
    check_reaction(&g_auth, row->name, "", in, n, row->want);
    return;
  }
  prefix = (row->flags & NM_PARSER_HEADERS)
               ? "CONNECT {\"verbose\":false,\"pedantic\":false,"
                 "\"headers\":true}\r\n"
               : "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
  check_reaction(&g_plain, row->name, prefix, in, n, row->want);
}
END_TEST

/* Default limits at N and N+1: through the parser and through nats-server. */
static char *make_pub(size_t arg, size_t payload, int with_payload, size_t *n) {
  char *b = malloc(arg + payload + 64);
  size_t o = 0;

  ck_assert_ptr_nonnull(b);
  o = (size_t)sprintf(b, "PUB ");
  if (arg > 0) {
    /* "xxx...x 0": an argument part of exactly `arg` bytes */
    memset(b + o, 'x', arg - 2);
    o += arg - 2;
    o += (size_t)sprintf(b + o, " 0\r\n\r\n");
  } else {
    o += (size_t)sprintf(b + o, "big %zu\r\n", payload);
    if (with_payload) {
      memset(b + o, 'p', payload);
      o += payload;
      o += (size_t)sprintf(b + o, "\r\n");
    }
  }
  *n = o;
  return b;
}

START_TEST(test_default_limits) {
  static const struct {
    size_t arg, payload;
    nm_perr_t want;
  } rows[] = {
      {NM_DEFAULT_MAX_CONTROL_LINE, 0, NM_PERR_NONE},
      {NM_DEFAULT_MAX_CONTROL_LINE + 1, 0, NM_PERR_CONTROL_LINE},
      {0, NM_DEFAULT_MAX_PAYLOAD, NM_PERR_NONE},
      {0, NM_DEFAULT_MAX_PAYLOAD + 1, NM_PERR_MAX_PAYLOAD},
  };
  size_t k, n;

  for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
    char name[64];
    char *in = make_pub(rows[k].arg, rows[k].payload,
                        rows[k].want == NM_PERR_NONE, &n);
    nm_parser_t p;

    snprintf(name, sizeof(name), "default limits %zu", k);
    nm_parser_init(&p, NM_PARSE_CLIENT_OPS, NULL, NULL);
    nm_parser_feed(&p, in, n);
    ck_assert_msg(nm_parser_error(&p) == rows[k].want, "%s: parser %d", name,
                  nm_parser_error(&p));
    nm_parser_free(&p);
    check_reaction(&g_dflt, name,
                   "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n", in, n,
                   rows[k].want);
    free(in);
  }
}
END_TEST

/* ---- random inputs vs nats-server ---------------------------------------- */

/* Generated inputs stay under nats-server's first read (512 bytes) with the
 * prefix and the marker, so that the server sees them unsplit. */
#define RND_MAX 360
#define RND_CASES_PER_TEST 40
#define RND_TESTS 25

typedef struct {
  uint64_t s;
} rng_t;

static uint32_t rnd(rng_t *r) {
  r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(r->s >> 33);
}

static int chance(rng_t *r, int percent) {
  return (int)(rnd(r) % 100) < percent;
}

typedef struct {
  char b[RND_MAX + 64];
  size_t n;
} gbuf_t;

static void gput(gbuf_t *g, const char *s, size_t n) {
  if (g->n + n <= RND_MAX) {
    memcpy(g->b + g->n, s, n);
    g->n += n;
  }
}

static void gputs(gbuf_t *g, const char *s) {
  gput(g, s, strlen(s));
}

/* An op name with random letter case, sometimes corrupted. */
static void gen_opname(rng_t *r, gbuf_t *g, const char *name) {
  char tmp[16];
  size_t n = strlen(name), i;
  for (i = 0; i < n; i++) {
    char c = name[i];
    tmp[i] = (c >= 'A' && c <= 'Z' && chance(r, 50)) ? (char)(c + 32) : c;
  }
  if (chance(r, 4))
    tmp[rnd(r) % n] = "XQ\t \r\n\0M"[rnd(r) % 8];
  gput(g, tmp, n);
}

static void gen_sep(rng_t *r, gbuf_t *g) {
  static const char *const seps[] = {" ", " ", " ", "\t", "  ", " \t ", ""};
  gputs(g, seps[rnd(r) % (chance(r, 95) ? 6 : 7)]);
}

static void gen_eol(rng_t *r, gbuf_t *g) {
  static const char *const eols[] = {"\r\n",  "\r\n",   "\r\n", "\n",
                                     " \r\n", "\r\r\n", "\t\n", ""};
  gputs(g, eols[rnd(r) % (chance(r, 97) ? 7 : 8)]);
}

static void gen_subject(rng_t *r, gbuf_t *g) {
  static const char *const subs[] = {"foo",  "foo.bar", "a.*", ">",    "x.>",
                                     "a..b", "q",       "*",   "foo.", "b.c.d"};
  gputs(g, subs[rnd(r) % 10]);
}

static void gen_size(rng_t *r, gbuf_t *g, size_t real) {
  char num[32];
  int k = (int)(rnd(r) % 100);
  if (k < 80)
    snprintf(num, sizeof(num), "%zu", real);
  else if (k < 85)
    snprintf(num, sizeof(num), "%zu", real + 1);
  else if (k < 88 && real > 0)
    snprintf(num, sizeof(num), "%zu", real - 1);
  else if (k < 91)
    snprintf(num, sizeof(num), "-1");
  else if (k < 93)
    snprintf(num, sizeof(num), "abc");
  else if (k < 95)
    snprintf(num, sizeof(num), "%d", NM_TT_MPAY + 1);
  else if (k < 97)
    snprintf(num, sizeof(num), "00000000%zu", real % 10);
  else
    snprintf(num, sizeof(num), "0%zu", real);
  gputs(g, num);
}

static void gen_payload(rng_t *r, gbuf_t *g, size_t n) {
  static const char *const parts[] = {"a", "\r\n", "PING", "x y", "\n", "\r"};
  gbuf_t t = {{0}, 0};
  while (t.n < n)
    gputs(&t, parts[rnd(r) % 6]);
  gput(g, t.b, n);
}

/* One op. Sids stay within 1..5 so that they never hit the marker's 9. */
static void gen_op(rng_t *r, gbuf_t *g) {
  char num[16];
  size_t plen = rnd(r) % 12, hlen = 0;
  int k = (int)(rnd(r) % 100);

  if (k < 25) {
    gen_opname(r, g, "PUB");
    gen_sep(r, g);
    gen_subject(r, g);
    if (chance(r, 30)) {
      gen_sep(r, g);
      gputs(g, "_r.1");
    }
    if (chance(r, 5)) {
      gen_sep(r, g);
      gputs(g, "extra");
    }
    gen_sep(r, g);
    gen_size(r, g, plen);
    gen_eol(r, g);
    gen_payload(r, g, plen);
    gputs(g, chance(r, 94) ? "\r\n" : (chance(r, 50) ? "\n" : "X\r\n"));
  } else if (k < 35) {
    static const char hdr[] = "NATS/1.0\r\nA: b\r\n\r\n";
    hlen = sizeof(hdr) - 1;
    gen_opname(r, g, "HPUB");
    gen_sep(r, g);
    gen_subject(r, g);
    gen_sep(r, g);
    snprintf(num, sizeof(num), "%zu", chance(r, 90) ? hlen : plen + hlen + 1);
    gputs(g, num);
    gen_sep(r, g);
    gen_size(r, g, hlen + plen);
    gen_eol(r, g);
    gputs(g, hdr);
    gen_payload(r, g, plen);
    gputs(g, "\r\n");
  } else if (k < 55) {
    gen_opname(r, g, "SUB");
    gen_sep(r, g);
    gen_subject(r, g);
    if (chance(r, 25)) {
      gen_sep(r, g);
      gputs(g, "grp");
    }
    if (chance(r, 95)) {
      gen_sep(r, g);
      snprintf(num, sizeof(num), "%u", 1 + rnd(r) % 5);
      gputs(g, num);
    }
    gen_eol(r, g);
  } else if (k < 65) {
    gen_opname(r, g, "UNSUB");
    gen_sep(r, g);
    snprintf(num, sizeof(num), "%u", 1 + rnd(r) % 5);
    gputs(g, num);
    if (chance(r, 40)) {
      gen_sep(r, g);
      gputs(g, chance(r, 80) ? "3" : "zz");
    }
    gen_eol(r, g);
  } else if (k < 80) {
    static const char *const bare[] = {"PING", "PONG", "+OK"};
    gen_opname(r, g, bare[rnd(r) % 3]);
    if (chance(r, 15))
      gputs(g, chance(r, 50) ? " junk" : "xyz");
    gen_eol(r, g);
  } else if (k < 88) {
    gen_opname(r, g, "CONNECT");
    if (chance(r, 80))
      gen_sep(r, g);
    gputs(g, chance(r, 50) ? "{\"verbose\":false,\"pedantic\":false,"
                             "\"headers\":true}"
                           : "{\"verbose\":false,\"pedantic\":false,"
                             "\"headers\":false}");
    gen_eol(r, g);
  } else if (k < 92) {
    gen_opname(r, g, "INFO");
    gen_sep(r, g);
    gputs(g, "{}");
    gen_eol(r, g);
  } else if (k < 94) {
    gen_opname(r, g, "HMSG");
    gen_sep(r, g);
    gputs(g, "foo 1 2 3");
    gen_eol(r, g);
    gputs(g, chance(r, 80) ? "\r\n" : "ab\r\n");
  } else if (k < 96) {
    gen_opname(r, g, "-ERR");
    gen_sep(r, g);
    gputs(g, "'oops'");
    gen_eol(r, g);
  } else {
    static const char *const junk[] = {"\r\n", "MSG foo 1 0\r\n\r\n", "\0",
                                       "FOO\r\n", " PING\r\n"};
    size_t j = rnd(r) % 5;
    gput(g, junk[j], j == 2 ? 1 : strlen(junk[j]));
  }
}

/* What the parser makes of the whole exchange. */
typedef struct {
  int err_frame;  /* a client -ERR was parsed: the server closes silently */
  int marker_sub; /* the marker's SUB and PUB came out as frames */
  int marker_pub;
  int frames;
} rnd_view_t;

/* The generator writes CONNECT's JSON as one object; anything after its
 * closing brace but blanks (a missing line end glues the next op on) makes
 * it invalid JSON for nats-server. */
static int json_is_one_object(nm_slice_t j) {
  size_t n = j.n;
  while (n > 0 &&
         (j.p[n - 1] == ' ' || j.p[n - 1] == '\t' || j.p[n - 1] == '\r'))
    n--;
  return n > 0 && j.p[n - 1] == '}' && memchr(j.p, '}', n) == j.p + n - 1;
}

static int rnd_cb(nm_parser_t *p, const nm_frame_t *f) {
  rnd_view_t *v = p->data;
  v->frames++;
  if (f->op == NM_OP_ERR)
    v->err_frame = 1;
  if (f->op == NM_OP_CONNECT && !json_is_one_object(f->json)) {
    /* e.g. "{...}+oK" when no line end was generated: JSON validity is the
     * server's business, not the parser's; nats-server closes silently. */
    v->err_frame = 1;
    return 1;
  }
  if (f->op == NM_OP_CONNECT) {
    unsigned fl = nm_parser_flags(p) & ~(unsigned)NM_PARSER_HEADERS;
    if (f->json.n >= 14 && memmem(f->json.p, f->json.n, "\"headers\":true", 14))
      fl |= NM_PARSER_HEADERS;
    nm_parser_set_flags(p, fl);
  }
  if (f->op == NM_OP_SUB && f->sid.n == 1 && f->sid.p[0] == '9' &&
      f->subject.n == 4 && memcmp(f->subject.p, "_end", 4) == 0)
    v->marker_sub = 1;
  if (f->op == NM_OP_PUB && f->subject.n == 4 &&
      memcmp(f->subject.p, "_end", 4) == 0 && v->marker_sub)
    v->marker_pub = 1;
  /* after a client's -ERR the server has closed: nothing later counts */
  return v->err_frame;
}

static void escape(const char *s, size_t n, char *out, size_t cap) {
  size_t i, o = 0;
  for (i = 0; i < n && o + 5 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out[o++] = (char)c;
    else
      o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
  }
  out[o] = '\0';
}

START_TEST(test_random_vs_nats_server) {
  static const char kPrefix[] =
      "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n";
  rng_t r = {0x9e3779b97f4a7c15ull ^ (uint64_t)(_i + 1) * 0x1234567ull};
  int c, checked = 0;

  for (c = 0; c < RND_CASES_PER_TEST; c++) {
    gbuf_t g = {{0}, 0};
    char all[RND_MAX + 128], esc[4 * RND_MAX + 256];
    rnd_view_t v = {0, 0, 0, 0};
    nm_parser_t p;
    ssize_t rv;
    nm_perr_t why;
    int ops = 1 + (int)(rnd(&r) % 4), k, mid;

    for (k = 0; k < ops; k++)
      gen_op(&r, &g);
    memcpy(all, g.b, g.n);
    memcpy(all + g.n, kMarker, strlen(kMarker));

    nm_parser_init(&p, NM_PARSE_CLIENT_OPS, rnd_cb, &v);
    nm_parser_set_limits(&p, NM_TT_MCL, NM_TT_MPAY);
    nm_parser_set_flags(&p, NM_PARSER_HEADERS);
    rv = nm_parser_feed(&p, all, g.n + strlen(kMarker));
    why = nm_parser_error(&p);
    mid = nm_parser_in_frame(&p);
    nm_parser_free(&p);
    if (v.err_frame) {
      why = NM_PERR_BAD_ARGS; /* a silent close, like the parser's */
    } else if (why == NM_PERR_NONE && (mid || !v.marker_pub || rv < 0)) {
      continue; /* the server would wait, or the marker got swallowed */
    }
    escape(g.b, g.n, esc, sizeof(esc));
    check_reaction_m(&g_plain, esc, kPrefix, g.b, g.n, why, 1);
    checked++;
  }
  /* most cases must be decidable, or this test checks little */
  ck_assert_int_ge(checked, RND_CASES_PER_TEST / 2);
}
END_TEST

static Suite *parser_nats_suite(void) {
  Suite *s = suite_create("parser_vs_nats_server");
  TCase *tc = tcase_create("rows");

  tcase_add_unchecked_fixture(tc, start_servers, stop_servers);
  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, test_row_vs_nats_server, 0, NM_TT_NROWS);
  tcase_add_test(tc, test_default_limits);
  tcase_add_loop_test(tc, test_random_vs_nats_server, 0, RND_TESTS);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(parser_nats_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
