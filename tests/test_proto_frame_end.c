/* nm_parser_frame_end: with it a caller recovers each frame's exact bytes
 * from the buffers it fed, whatever the split (the proxy forwards frames
 * byte for byte this way). Both directions, LF-only lines, odd blanks, long
 * PING lines, split payloads; every split point and a seeded random split. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nm_parser.h"
#include "nm_test_check.h"

typedef struct {
  const char *buf; /* the buffer being fed */
  size_t cur;      /* where the next frame's bytes start in buf */
  char carry[4096];
  size_t ncarry;
  char got[4096]; /* every frame's bytes, as recovered, separated by '|' */
  size_t ngot;
  int frames;
} rec_t;

static int on_frame(nm_parser_t *p, const nm_frame_t *f) {
  rec_t *r = p->data;
  size_t end = nm_parser_frame_end(p);
  ck_assert_uint_ge(end, r->cur);
  memcpy(r->got + r->ngot, r->carry, r->ncarry);
  r->ngot += r->ncarry;
  r->ncarry = 0;
  memcpy(r->got + r->ngot, r->buf + r->cur, end - r->cur);
  r->ngot += end - r->cur;
  r->got[r->ngot++] = '|';
  r->cur = end;
  r->frames++;
  return 0;
}

static void feed(nm_parser_t *p, rec_t *r, const char *b, size_t n) {
  r->buf = b;
  r->cur = 0;
  ck_assert_int_eq((int)nm_parser_feed(p, b, n), (int)n);
  memcpy(r->carry + r->ncarry, b + r->cur, n - r->cur);
  r->ncarry += n - r->cur;
}

/* Feeds `in` cut at the given points; checks the recovered frames. */
static void check_split(nm_parse_mode_t mode, const char *in, const char *want,
                        const size_t *cuts, int ncuts) {
  nm_parser_t p;
  rec_t r;
  size_t at = 0, n = strlen(in);
  int i;

  memset(&r, 0, sizeof(r));
  ck_assert_int_eq(nm_parser_init(&p, mode, on_frame, &r), 0);
  nm_parser_set_flags(&p, NM_PARSER_HEADERS);
  for (i = 0; i <= ncuts; i++) {
    size_t to = i < ncuts ? cuts[i] : n;
    feed(&p, &r, in + at, to - at);
    at = to;
  }
  r.got[r.ngot] = '\0';
  ck_assert_str_eq(r.got, want);
  ck_assert_uint_eq(r.ncarry, 0);
  nm_parser_free(&p);
}

static void check_all_splits(nm_parse_mode_t mode, const char *in,
                             const char *want) {
  size_t n = strlen(in), a, b;
  unsigned seed = 12345;
  int k;

  check_split(mode, in, want, NULL, 0);
  for (a = 1; a < n; a++)
    check_split(mode, in, want, &a, 1);
  for (k = 0; k < 200; k++) {
    size_t cuts[2];
    a = 1 + (size_t)rand_r(&seed) % (n - 1);
    b = 1 + (size_t)rand_r(&seed) % (n - 1);
    cuts[0] = a < b ? a : b;
    cuts[1] = a < b ? b : a;
    check_split(mode, in, want, cuts, 2);
  }
}

START_TEST(client_ops_exact_bytes) {
  check_all_splits(NM_PARSE_CLIENT_OPS,
                   "CONNECT {\"verbose\":false}\r\nPING\r\n"
                   "PUB foo 5\r\nhello\r\nPUB foo.bar _INBOX.1 2\r\nhi\r\n"
                   "PUB a\r 1\r\nx\r\n"
                   "pub   foo  bar 5\r\nhello\r\nSUB a.* q 1\nUNSUB 1 5\r\n"
                   "HPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
                   "PING and some words after it that nats-server ignores\r\n"
                   "PONG\n",
                   "CONNECT {\"verbose\":false}\r\n|PING\r\n|"
                   "PUB foo 5\r\nhello\r\n|PUB foo.bar _INBOX.1 2\r\nhi\r\n|"
                   "PUB a\r 1\r\nx\r\n|"
                   "pub   foo  bar 5\r\nhello\r\n|SUB a.* q 1\n|UNSUB 1 5\r\n|"
                   "HPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n|"
                   "PING and some words after it that nats-server ignores\r\n|"
                   "PONG\n|");
}
END_TEST

START_TEST(server_ops_exact_bytes) {
  check_all_splits(NM_PARSE_SERVER_OPS,
                   "INFO {\"server_id\":\"x\",\"max_payload\":1048576} \r\n"
                   "+OK\r\nMSG foo 1 _INBOX.r 3\r\nabc\r\n-ERR 'Stale'\r\n"
                   "HMSG foo 2 16 18\r\nNATS/1.0 503\r\n\r\nxy\r\nPING\r\n",
                   "INFO {\"server_id\":\"x\",\"max_payload\":1048576} \r\n|"
                   "+OK\r\n|MSG foo 1 _INBOX.r 3\r\nabc\r\n|-ERR 'Stale'\r\n|"
                   "HMSG foo 2 16 18\r\nNATS/1.0 503\r\n\r\nxy\r\n|PING\r\n|");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("proto_frame_end");
  TCase *tc = tcase_create("exact");
  tcase_add_test(tc, client_ops_exact_bytes);
  tcase_add_test(tc, server_ops_exact_bytes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_NORMAL);
}
