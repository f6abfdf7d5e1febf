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
 * against a server with no config, and through the parser. */
#include <check.h>
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

/* Sends prefix + input (+ the marker when `expect_open`) on a fresh
 * connection and checks nats-server's reaction against `want`. */
static void check_reaction(const nm_natsserver_t *ns, const char *name,
                           const char *prefix, const char *in, size_t n,
                           nm_perr_t want) {
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
    size_t pl = strlen(prefix), ml = want == NM_PERR_NONE ? strlen(kMarker) : 0;
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
    ck_assert_msg(ends_with(reply, got, kMarkerMsg) && st == NM_PEER_OPEN &&
                      strstr(reply, "-ERR") == NULL,
                  "row '%s': nats-server replied '%s' (state %d), want the "
                  "marker on an open connection",
                  name, reply, st);
    close(fd);
    return;
  }

  got = nm_test_read(fd, reply, sizeof(reply), NULL, DIFF_TIMEOUT_MS, 0, &st);
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

static Suite *parser_nats_suite(void) {
  Suite *s = suite_create("parser_vs_nats_server");
  TCase *tc = tcase_create("rows");

  tcase_add_unchecked_fixture(tc, start_servers, stop_servers);
  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, test_row_vs_nats_server, 0, NM_TT_NROWS);
  tcase_add_test(tc, test_default_limits);
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
