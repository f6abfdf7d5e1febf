/* Frame encoders: the exact bytes of every encoder, a round trip of each
 * through the parser, and the buffer limit (a frame is appended whole or not
 * at all). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_encode.h"
#include "nm_test_util.h"

#include <unistd.h>

static nm_slice_t sl(const char *s) {
  return nm_slice_str(s);
}

static const nm_slice_t kNone = {NULL, 0};

/* Checks that b holds exactly `want` (which may contain NULs: n bytes). */
static void want_bytes(nm_buf_t *b, const char *want, size_t n) {
  ck_assert_msg(b->len == n && memcmp(b->base, want, n) == 0,
                "got %zu bytes '%.*s', want %zu bytes '%.*s'", b->len,
                (int)b->len, b->base ? b->base : "", n, (int)n, want);
}
#define WANT(b, lit) want_bytes((b), (lit), sizeof(lit) - 1)

START_TEST(test_server_ops_bytes) {
  nm_buf_t b;

  nm_buf_init(&b, 0);
  ck_assert_int_eq(nm_encode_info(&b, sl("{\"a\":1}")), 0);
  WANT(&b, "INFO {\"a\":1} \r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(nm_encode_msg(&b, sl("foo"), sl("1"), kNone, sl("hello")),
                   0);
  WANT(&b, "MSG foo 1 5\r\nhello\r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(
      nm_encode_msg(&b, sl("foo"), sl("7"), sl("bar.reply"), sl("abc")), 0);
  WANT(&b, "MSG foo 7 bar.reply 3\r\nabc\r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(nm_encode_msg(&b, sl("e"), sl("2"), kNone, kNone), 0);
  WANT(&b, "MSG e 2 0\r\n\r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(nm_encode_hmsg(&b, sl("foo"), sl("1"), kNone, 18,
                                  sl("NATS/1.0\r\nA: b\r\n\r\nhello")),
                   0);
  WANT(&b, "HMSG foo 1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n");
  nm_buf_clear(&b);
  /* 2.9.10's no-responders status message */
  ck_assert_int_eq(nm_encode_hmsg(&b, sl("_INBOX.x"), sl("1"), kNone, 16,
                                  sl("NATS/1.0 503\r\n\r\n")),
                   0);
  WANT(&b, "HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(
      nm_encode_hmsg(&b, sl("a"), sl("1"), sl("r"), 12, sl("NATS/1.0\r\n\r\n")),
      0);
  WANT(&b, "HMSG a 1 r 12 12\r\nNATS/1.0\r\n\r\n\r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(nm_encode_hmsg(&b, sl("a"), sl("1"), kNone, 3, sl("ab")),
                   NM_EINVAL);
  ck_assert_uint_eq(b.len, 0);
  ck_assert_int_eq(nm_encode_ping(&b), 0);
  ck_assert_int_eq(nm_encode_pong(&b), 0);
  ck_assert_int_eq(nm_encode_ok(&b), 0);
  ck_assert_int_eq(nm_encode_err(&b, "Unknown Protocol Operation"), 0);
  WANT(&b, "PING\r\nPONG\r\n+OK\r\n-ERR 'Unknown Protocol Operation'\r\n");
  nm_buf_free(&b);
}
END_TEST

START_TEST(test_client_ops_bytes) {
  nm_buf_t b;

  nm_buf_init(&b, 0);
  ck_assert_int_eq(nm_encode_connect(&b, sl("{\"verbose\":false}")), 0);
  WANT(&b, "CONNECT {\"verbose\":false}\r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(nm_encode_pub(&b, sl("foo"), kNone, sl("hello")), 0);
  WANT(&b, "PUB foo 5\r\nhello\r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(nm_encode_pub(&b, sl("foo"), sl("r.1"), kNone), 0);
  WANT(&b, "PUB foo r.1 0\r\n\r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(nm_encode_hpub(&b, sl("foo"), kNone, 18,
                                  sl("NATS/1.0\r\nA: b\r\n\r\nhello")),
                   0);
  WANT(&b, "HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(
      nm_encode_hpub(&b, sl("foo"), sl("r"), 12, sl("NATS/1.0\r\n\r\nx")), 0);
  WANT(&b, "HPUB foo r 12 13\r\nNATS/1.0\r\n\r\nx\r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(nm_encode_hpub(&b, sl("a"), kNone, 9, sl("x")), NM_EINVAL);
  ck_assert_int_eq(nm_encode_sub(&b, sl("foo"), kNone, sl("1")), 0);
  ck_assert_int_eq(nm_encode_sub(&b, sl("foo.*"), sl("q"), sl("22")), 0);
  WANT(&b, "SUB foo 1\r\nSUB foo.* q 22\r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(nm_encode_unsub(&b, sl("1"), -1), 0);
  ck_assert_int_eq(nm_encode_unsub(&b, sl("1"), 0), 0);
  ck_assert_int_eq(nm_encode_unsub(&b, sl("22"), 1234567890123LL), 0);
  WANT(&b, "UNSUB 1\r\nUNSUB 1 0\r\nUNSUB 22 1234567890123\r\n");
  nm_buf_free(&b);
}
END_TEST

START_TEST(test_msg_sized_bytes) {
  nm_buf_t b;

  nm_buf_init(&b, 0);
  ck_assert_int_eq(nm_encode_msg_sized(&b, sl("foo"), sl("1"), kNone, kNone,
                                       sl("02"), sl("hi")),
                   0);
  WANT(&b, "MSG foo 1 02\r\nhi\r\n");
  nm_buf_clear(&b);
  ck_assert_int_eq(nm_encode_msg_sized(&b, sl("foo"), sl("1"), sl("r"),
                                       sl("012"), sl("013"),
                                       sl("NATS/1.0\r\n\r\nx")),
                   0);
  WANT(&b, "HMSG foo 1 r 012 013\r\nNATS/1.0\r\n\r\nx\r\n");
  nm_buf_clear(&b);
  /* no texts: the sizes are computed, as nm_encode_msg does */
  ck_assert_int_eq(nm_encode_msg_sized(&b, sl("foo"), sl("1"), kNone, kNone,
                                       kNone, sl("hello")),
                   0);
  WANT(&b, "MSG foo 1 5\r\nhello\r\n");
  nm_buf_free(&b);
  nm_buf_init(&b, 10);
  ck_assert_int_eq(nm_encode_msg_sized(&b, sl("foo"), sl("1"), kNone, kNone,
                                       sl("02"), sl("hi")),
                   NM_ETOOBIG);
  ck_assert_uint_eq(b.len, 0);
  nm_buf_free(&b);
}
END_TEST

START_TEST(test_slice_str) {
  nm_slice_t s = nm_slice_str(NULL);
  ck_assert_ptr_null(s.p);
  ck_assert_uint_eq(s.n, 0);
  s = nm_slice_str("abc");
  ck_assert_uint_eq(s.n, 3);
}
END_TEST

/* ---- round trip --------------------------------------------------------- */

typedef struct {
  char log[4096];
  size_t n;
} rt_log_t;

static void rt_put(rt_log_t *l, const char *k, nm_slice_t s) {
  if (s.n == 0)
    return;
  l->n += (size_t)snprintf(l->log + l->n, sizeof(l->log) - l->n, "|%s=%.*s", k,
                           (int)s.n, s.p);
}

static int rt_cb(nm_parser_t *p, const nm_frame_t *f) {
  rt_log_t *l = p->data;
  l->n += (size_t)snprintf(l->log + l->n, sizeof(l->log) - l->n, "%s",
                           nm_op_name(f->op));
  rt_put(l, "subj", f->subject);
  rt_put(l, "reply", f->reply);
  rt_put(l, "q", f->queue);
  rt_put(l, "sid", f->sid);
  rt_put(l, "max", f->max);
  rt_put(l, "json", f->json);
  rt_put(l, "text", f->text);
  if (f->hdr_len)
    l->n += (size_t)snprintf(l->log + l->n, sizeof(l->log) - l->n, "|hdr=%zu",
                             f->hdr_len);
  rt_put(l, "pl", f->payload);
  l->n += (size_t)snprintf(l->log + l->n, sizeof(l->log) - l->n, ";");
  return 0;
}

/* Every encoder's output, parsed back (whole and one byte at a time), gives
 * the fields that went in. */
START_TEST(test_round_trip) {
  static const char kClientWant[] =
      "CONNECT|json={\"headers\":true};"
      "PUB|subj=foo|pl=hello;"
      "PUB|subj=foo|reply=r;"
      "HPUB|subj=h|reply=r|hdr=12|pl=NATS/1.0\r\n\r\nbody;"
      "SUB|subj=foo|sid=1;"
      "SUB|subj=foo.>|q=q|sid=2;"
      "UNSUB|sid=1;"
      "UNSUB|sid=2|max=10;"
      "PING;PONG;";
  static const char kServerWant[] =
      "INFO|json={\"server_id\":\"x\"} ;"
      "MSG|subj=foo|sid=1|pl=hello;"
      "MSG|subj=foo|reply=r|sid=1|pl=PING\r\n;"
      "HMSG|subj=h|reply=r|sid=3|hdr=12|pl=NATS/1.0\r\n\r\nbody;"
      "PING;PONG;+OK;"
      "-ERR|text='Stale Connection';";
  nm_buf_t b;
  int mode, bytewise;

  for (mode = 0; mode < 2; mode++) {
    nm_buf_init(&b, 0);
    if (mode == 0) {
      nm_encode_connect(&b, sl("{\"headers\":true}"));
      nm_encode_pub(&b, sl("foo"), kNone, sl("hello"));
      nm_encode_pub(&b, sl("foo"), sl("r"), kNone);
      nm_encode_hpub(&b, sl("h"), sl("r"), 12, sl("NATS/1.0\r\n\r\nbody"));
      nm_encode_sub(&b, sl("foo"), kNone, sl("1"));
      nm_encode_sub(&b, sl("foo.>"), sl("q"), sl("2"));
      nm_encode_unsub(&b, sl("1"), -1);
      nm_encode_unsub(&b, sl("2"), 10);
      nm_encode_ping(&b);
      nm_encode_pong(&b);
    } else {
      nm_encode_info(&b, sl("{\"server_id\":\"x\"}"));
      nm_encode_msg(&b, sl("foo"), sl("1"), kNone, sl("hello"));
      nm_encode_msg(&b, sl("foo"), sl("1"), sl("r"), sl("PING\r\n"));
      nm_encode_hmsg(&b, sl("h"), sl("3"), sl("r"), 12,
                     sl("NATS/1.0\r\n\r\nbody"));
      nm_encode_ping(&b);
      nm_encode_pong(&b);
      nm_encode_ok(&b);
      nm_encode_err(&b, "Stale Connection");
    }
    for (bytewise = 0; bytewise < 2; bytewise++) {
      rt_log_t l = {{0}, 0};
      nm_parser_t p;
      size_t i;

      nm_parser_init(&p, mode == 0 ? NM_PARSE_CLIENT_OPS : NM_PARSE_SERVER_OPS,
                     rt_cb, &l);
      nm_parser_set_flags(&p, NM_PARSER_HEADERS);
      if (bytewise) {
        for (i = 0; i < b.len; i++)
          ck_assert_int_eq(nm_parser_feed(&p, b.base + i, 1), 1);
      } else {
        ck_assert_int_eq(nm_parser_feed(&p, b.base, b.len), (ssize_t)b.len);
      }
      ck_assert_str_eq(l.log, mode == 0 ? kClientWant : kServerWant);
      nm_parser_free(&p);
    }
    nm_buf_free(&b);
  }
}
END_TEST

/* ---- the buffer limit --------------------------------------------------- */

/* With a limit of L bytes, a frame of exactly L bytes fits and one more byte
 * does not: NM_ETOOBIG and nothing appended. */
START_TEST(test_limit) {
  nm_buf_t b;
  /* "MSG foo 1 5\r\nhello\r\n" is 20 bytes */
  nm_buf_init(&b, 20);
  ck_assert_int_eq(nm_encode_msg(&b, sl("foo"), sl("1"), kNone, sl("hello")),
                   0);
  ck_assert_uint_eq(b.len, 20);
  ck_assert_int_eq(nm_encode_ping(&b), NM_ETOOBIG);
  ck_assert_uint_eq(b.len, 20);
  nm_buf_free(&b);

  nm_buf_init(&b, 19);
  ck_assert_int_eq(nm_encode_msg(&b, sl("foo"), sl("1"), kNone, sl("hello")),
                   NM_ETOOBIG);
  ck_assert_uint_eq(b.len, 0);
  ck_assert_int_eq(nm_encode_err(&b, "0123456789"), 0); /* 19 bytes */
  ck_assert_uint_eq(b.len, 19);
  ck_assert_int_eq(nm_encode_ok(&b), NM_ETOOBIG);
  ck_assert_int_eq(nm_encode_sub(&b, sl("a"), kNone, sl("1")), NM_ETOOBIG);
  ck_assert_int_eq(nm_encode_unsub(&b, sl("1"), 5), NM_ETOOBIG);
  ck_assert_int_eq(nm_encode_info(&b, sl("{}")), NM_ETOOBIG);
  ck_assert_int_eq(nm_encode_connect(&b, sl("{}")), NM_ETOOBIG);
  ck_assert_int_eq(nm_encode_pub(&b, sl("a"), kNone, kNone), NM_ETOOBIG);
  ck_assert_int_eq(nm_encode_hpub(&b, sl("a"), kNone, 0, kNone), NM_ETOOBIG);
  ck_assert_int_eq(nm_encode_hmsg(&b, sl("a"), sl("1"), kNone, 0, kNone),
                   NM_ETOOBIG);
  ck_assert_int_eq(nm_encode_pong(&b), NM_ETOOBIG);
  ck_assert_uint_eq(b.len, 19);
  WANT(&b, "-ERR '0123456789'\r\n");
  nm_buf_free(&b);
}
END_TEST

/* A large payload: the size is written correctly and it round-trips. */
START_TEST(test_large_payload) {
  size_t n = 1024 * 1024, i;
  char *pl = malloc(n);
  char head[32];
  nm_buf_t b;

  for (i = 0; i < n; i++)
    pl[i] = (char)('a' + i % 26);
  nm_buf_init(&b, 0);
  ck_assert_int_eq(nm_encode_pub(&b, sl("big"), kNone, (nm_slice_t){pl, n}), 0);
  snprintf(head, sizeof(head), "PUB big %zu\r\n", n);
  ck_assert_uint_eq(b.len, strlen(head) + n + 2);
  ck_assert(memcmp(b.base, head, strlen(head)) == 0);
  ck_assert(memcmp(b.base + strlen(head), pl, n) == 0);
  ck_assert(memcmp(b.base + b.len - 2, "\r\n", 2) == 0);
  nm_buf_free(&b);
  free(pl);
}
END_TEST

/* ---- against nats-server ------------------------------------------------ */

/* What 2.9.10 writes for MSG, HMSG, PONG, +OK and -ERR is byte for byte what
 * the encoders write, and its INFO line has the encoder's framing. */
START_TEST(test_vs_nats_server) {
  static const char kOps[] =
      "CONNECT {\"verbose\":true,\"pedantic\":false,\"headers\":true}\r\n"
      "SUB foo 1\r\n"
      "PUB foo bar.reply 3\r\nabc\r\n"
      "HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n"
      "SUB a..b 2\r\n"
      "PUB foo 02\r\nhi\r\n"
      "HPUB foo 012 000000013\r\nNATS/1.0\r\n\r\nx\r\n"
      "HPUB foo 0 05\r\nhello\r\n"
      "PING\r\n";
  nm_natsserver_t ns;
  char info[4096], reply[4096];
  nm_peer_state_t st;
  nm_buf_t b;
  size_t n;
  int fd;

  ck_assert_msg(nm_natsserver_available(), "nats-server not installed");
  ck_assert_int_eq(nm_natsserver_start(&ns, NULL, NULL), 0);
  fd = nm_test_connect(ns.port);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_gt(nm_test_read_line(fd, info, sizeof(info), 5000), 0);
  ck_assert_int_eq(nm_test_send_str(fd, kOps), 0);
  n = nm_test_read(fd, reply, sizeof(reply), "PONG\r\n", 5000, 0, &st);
  close(fd);
  nm_natsserver_stop(&ns);

  /* INFO {json} SP CR LF: re-encode the JSON and compare */
  {
    size_t il = strlen(info);
    ck_assert(il > 9 && strncmp(info, "INFO {", 6) == 0);
    nm_buf_init(&b, 0);
    nm_encode_info(&b, (nm_slice_t){info + 5, il - 5 - 3});
    want_bytes(&b, info, il);
    nm_buf_free(&b);
  }
  nm_buf_init(&b, 0);
  nm_encode_ok(&b); /* CONNECT */
  nm_encode_ok(&b); /* SUB */
  nm_encode_ok(&b); /* PUB */
  nm_encode_msg(&b, sl("foo"), sl("1"), sl("bar.reply"), sl("abc"));
  nm_encode_ok(&b); /* HPUB */
  nm_encode_hmsg(&b, sl("foo"), sl("1"), kNone, 18,
                 sl("NATS/1.0\r\nA: b\r\n\r\nhello"));
  nm_encode_err(&b, "Invalid Subject");
  /* the publisher's size texts come back as sent */
  nm_encode_ok(&b);
  nm_encode_msg_sized(&b, sl("foo"), sl("1"), kNone, kNone, sl("02"), sl("hi"));
  nm_encode_ok(&b);
  nm_encode_msg_sized(&b, sl("foo"), sl("1"), kNone, sl("012"), sl("000000013"),
                      sl("NATS/1.0\r\n\r\nx"));
  /* an HPUB with a zero header length is delivered as a plain MSG */
  nm_encode_ok(&b);
  nm_encode_msg_sized(&b, sl("foo"), sl("1"), kNone, kNone, sl("05"),
                      sl("hello"));
  nm_encode_pong(&b);
  want_bytes(&b, reply, n);
  nm_buf_free(&b);
}
END_TEST

static Suite *encode_suite(void) {
  Suite *s = suite_create("encode");
  TCase *tc = tcase_create("encode");

  tcase_add_test(tc, test_server_ops_bytes);
  tcase_add_test(tc, test_client_ops_bytes);
  tcase_add_test(tc, test_msg_sized_bytes);
  tcase_add_test(tc, test_slice_str);
  tcase_add_test(tc, test_round_trip);
  tcase_add_test(tc, test_limit);
  tcase_add_test(tc, test_large_payload);
  tcase_add_test(tc, test_vs_nats_server);
  tcase_set_timeout(tc, 30);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(encode_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
