/* The server's output queue (server/outq.c) under a backlog: a subscriber
 * that reads nothing while thousands of 1,500-byte messages are delivered
 * to it twice (two subscriptions, so each payload is one shared copy and
 * every delivery three segments: line, payload, CRLF). Its queue then holds
 * far more segments than one write takes (NM_OUT_WRITE_SEGS), so the
 * output goes in several writes, the first from a partial uv_try_write
 * (8,000 x 2 x 1.5 KB is 24 MB, more than the loopback socket buffers
 * hold; strace showed 46 writev calls of 1,024 segments in one run).
 * What is checked: every byte arrives, in order, each payload its own; and a
 * subscriber that closes with that backlog queued takes it with it (under
 * ASan: no leak, no use after free of the shared payloads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_server_util.h"

#define OQ_MSGS 8000
#define OQ_SIZE 1500

/* Payload i: its number, then filler that depends on it. */
static void payload(int i, char *p) {
  int k, n = snprintf(p, OQ_SIZE, "%06d:", i);
  for (k = n; k < OQ_SIZE; k++)
    p[k] = (char)('a' + (i + k) % 26);
}

/* Publishes every message, then waits for the PONG that says the server
 * has routed them all. */
static void publish_all(int pub) {
  char *buf = malloc(OQ_MSGS * (OQ_SIZE + 32)), out[256];
  size_t n = 0;
  int i;
  ck_assert_ptr_nonnull(buf);
  for (i = 0; i < OQ_MSGS; i++) {
    n += (size_t)sprintf(buf + n, "PUB big %d\r\n", OQ_SIZE);
    payload(i, buf + n);
    n += OQ_SIZE;
    memcpy(buf + n, "\r\n", 2);
    n += 2;
  }
  ck_assert_int_eq(nm_test_send(pub, buf, n), 0);
  free(buf);
  ts_roundtrip(pub, "", out, sizeof(out));
  ck_assert_str_eq(out, "");
}

static int subscriber(nm_server_t *s) {
  char out[256];
  int fd = ts_client(s, "{\"verbose\":false,\"pedantic\":false}");
  ts_roundtrip(fd, "SUB big 1\r\nSUB big 2\r\n", out, sizeof(out));
  ck_assert_str_eq(out, "");
  return fd;
}

START_TEST(backlog_arrives_whole_and_in_order) {
  nm_server_t *s = ts_start(NULL);
  int sub = subscriber(s);
  int pub = ts_client(s, "{\"verbose\":false,\"pedantic\":false}");
  size_t cap = (size_t)OQ_MSGS * 2 * (OQ_SIZE + 64) + 64, n = 0, off = 0;
  char *got = malloc(cap), want[OQ_SIZE], line[64];
  nm_peer_state_t st = NM_PEER_OPEN;
  long long deadline;
  int i, sid;

  ck_assert_ptr_nonnull(got);
  publish_all(pub);
  /* Everything is queued for the subscriber: now it reads. */
  ck_assert_int_eq(nm_test_send_str(sub, "PING\r\n"), 0);
  deadline = nm_test_now_ms() + 20000;
  got[0] = 0;
  while (st == NM_PEER_OPEN && nm_test_now_ms() < deadline &&
         (n < 6 || memcmp(got + n - 6, "PONG\r\n", 6) != 0))
    n += nm_test_read(sub, got + n, cap - 1 - n, "PONG\r\n",
                      (int)(deadline - nm_test_now_ms()), 0, &st);
  ck_assert_msg(n >= 6 && memcmp(got + n - 6, "PONG\r\n", 6) == 0,
                "no PONG after the backlog: %zu bytes", n);
  for (i = 0; i < OQ_MSGS; i++) {
    payload(i, want);
    for (sid = 1; sid <= 2; sid++) {
      int ln = snprintf(line, sizeof(line), "MSG big %d %d\r\n", sid, OQ_SIZE);
      ck_assert_msg(off + (size_t)ln + OQ_SIZE + 2 <= n &&
                        memcmp(got + off, line, (size_t)ln) == 0 &&
                        memcmp(got + off + ln, want, OQ_SIZE) == 0 &&
                        memcmp(got + off + ln + OQ_SIZE, "\r\n", 2) == 0,
                    "message %d sid %d differs at byte %zu", i, sid, off);
      off += (size_t)ln + OQ_SIZE + 2;
    }
  }
  ck_assert_uint_eq(off + 6, n);
  free(got);
  close(pub);
  close(sub);
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(closing_with_a_backlog_frees_it) {
  nm_server_t *s = ts_start(NULL);
  int sub = subscriber(s), other = subscriber(s);
  int pub = ts_client(s, "{\"verbose\":false,\"pedantic\":false}");
  char out[256];
  publish_all(pub);
  /* Both hold references to the same payloads; one goes away unread. */
  close(sub);
  ts_roundtrip(pub, "", out, sizeof(out));
  ck_assert_str_eq(out, "");
  close(other);
  close(pub);
  nm_server_stop_thread(s);
}
END_TEST

static Suite *suite(void) {
  Suite *su = suite_create("server_outq");
  (void)ts_until_close; /* of the shared helpers, not needed here */
  TCase *tc = tcase_create("outq");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, backlog_arrives_whole_and_in_order);
  tcase_add_test(tc, closing_with_a_backlog_frees_it);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_ENV);
}
