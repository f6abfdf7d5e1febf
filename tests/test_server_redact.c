/* `-DV` writes a CONNECT's password as nats-server 2.9.10 does: both servers
 * run with the same flags and get the same CONNECT, and the CONNECT line of
 * their traces must be the same, with [REDACTED] and without the password.
 * Where 2.9.10 writes a secret in clear (the token, a second password key)
 * natsmock hides it as well. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nm_test_check.h"
#include "nm_test_util.h"

static const char *const dv_args[] = {"--user",    "u",   "--pass",
                                      "pw-SECRET", "-DV", NULL};

/* Connects, sends `connect` and a PING, waits for the PONG (the trace of
 * the CONNECT is written before the PING is handled), then copies the text
 * after "<<- [CONNECT" of the server's log into out. */
static void connect_trace(nm_natsserver_t *ns, const char *connect, char *out,
                          size_t cap) {
  char buf[8192], path[320];
  nm_peer_state_t st;
  FILE *f;
  int fd = nm_test_connect(ns->port);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_gt(nm_test_read_line(fd, buf, sizeof(buf), 5000), 0);
  ck_assert_int_eq(nm_test_send_str(fd, connect), 0);
  ck_assert_int_eq(nm_test_send_str(fd, "PING\r\n"), 0);
  nm_test_read(fd, buf, sizeof(buf), "PONG\r\n", 5000, 0, &st);
  ck_assert_ptr_nonnull(strstr(buf, "PONG\r\n"));
  close(fd);
  snprintf(path, sizeof(path), "%s/server.log", ns->dir);
  f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  out[0] = 0;
  while (fgets(buf, sizeof(buf), f)) {
    char *p = strstr(buf, "<<- [CONNECT");
    if (p) {
      snprintf(out, cap, "%s", p);
      break;
    }
  }
  fclose(f);
}

static void mock_path(char *bin, size_t n) {
  const char *b = getenv("NM_BINARY_DIR");
  snprintf(bin, n, "%s/server/natsmock", b ? b : ".");
}

START_TEST(test_dv_password_like_nats_server) {
  static const char c[] =
      "CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"pw-SECRET\"}\r\n";
  nm_natsserver_t ns, nm;
  char real[4096], mock[4096], bin[1024];
  mock_path(bin, sizeof(bin));
  ck_assert_int_eq(nm_natsserver_start(&ns, NULL, dv_args), 0);
  connect_trace(&ns, c, real, sizeof(real));
  nm_natsserver_stop(&ns);
  ck_assert_int_eq(nm_server_proc_start(&nm, bin, NULL, dv_args), 0);
  connect_trace(&nm, c, mock, sizeof(mock));
  nm_natsserver_stop(&nm);
  ck_assert_ptr_nonnull(strstr(real, "[REDACTED]"));
  ck_assert_str_eq(mock, real);
  ck_assert_ptr_null(strstr(mock, "SECRET"));
}
END_TEST

START_TEST(test_dv_token_and_second_password) {
  static const char c[] =
      "CONNECT {\"verbose\":false,\"user\":\"u\",\"password\":"
      "\"x-SECRET\",\"pass\":\"pw-SECRET\",\"auth_token\":"
      "\"tok-SECRET\"}\r\n";
  nm_natsserver_t nm;
  char mock[4096], bin[1024];
  mock_path(bin, sizeof(bin));
  ck_assert_int_eq(nm_server_proc_start(&nm, bin, NULL, dv_args), 0);
  connect_trace(&nm, c, mock, sizeof(mock));
  nm_natsserver_stop(&nm);
  ck_assert_ptr_nonnull(strstr(mock, "\"password\":\"[REDACTED]\""));
  ck_assert_ptr_nonnull(strstr(mock, "\"pass\":\"[REDACTED]\""));
  ck_assert_ptr_nonnull(strstr(mock, "\"auth_token\":\"[REDACTED]\""));
  ck_assert_ptr_null(strstr(mock, "SECRET"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("server_redact");
  TCase *tc = tcase_create("redact");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_dv_password_like_nats_server);
  tcase_add_test(tc, test_dv_token_and_second_password);
  suite_add_tcase(s, tc);
  return nm_test_run_suite(s, CK_NORMAL);
}
