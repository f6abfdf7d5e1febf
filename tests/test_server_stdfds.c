/* A program that embeds the server and runs with standard input (or output)
 * closed: the library holds descriptors 0-2 on /dev/null before it opens
 * anything, so its loop and listener never take them (libuv aborts when
 * asked to close a descriptor below 3: uv__close asserts fd > STDERR_FILENO).
 * Check runs each test in a child of its own, so closing them here touches
 * nothing else. */
#include <fcntl.h>
#include <sys/stat.h>

#include "test_server_util.h"

/* 1 when fd is open on /dev/null. */
static int on_dev_null(int fd) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && stat("/dev/null", &b) == 0 &&
         S_ISCHR(a.st_mode) && a.st_rdev == b.st_rdev;
}

START_TEST(stdin_closed_thread) {
  nm_server_t *s;
  char out[256];
  int fd;
  ck_assert_int_eq(close(STDIN_FILENO), 0);
  s = ts_start(NULL);
  ck_assert(on_dev_null(STDIN_FILENO));
  fd = ts_client(s, "{\"verbose\":false}");
  ck_assert_int_gt(fd, STDERR_FILENO);
  ts_roundtrip(fd, "", out, sizeof(out));
  ck_assert_str_eq(out, "");
  nm_server_stop_thread(s); /* aborted here before the fix */
  ck_assert_int_eq(ts_until_close(fd, NULL, out, sizeof(out), TS_WAIT_MS),
                   NM_PEER_EOF);
  close(fd);
}
END_TEST

static void on_stopped(nm_server_t *s, void *data) {
  (void)s;
  *(int *)data = 1;
}

/* The caller's loop (made while 0-2 were open), stdin and stdout closed. */
START_TEST(stdin_stdout_closed_own_loop) {
  uv_loop_t loop;
  nm_server_t *s = NULL;
  nm_server_opts_t o;
  int stopped = 0;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(close(STDIN_FILENO), 0);
  ck_assert_int_eq(close(STDOUT_FILENO), 0);
  nm_server_opts_init(&o);
  ck_assert_int_eq(nm_server_new(&loop, &o, &s), 0);
  ck_assert_int_eq(nm_server_start(s), 0);
  ck_assert(on_dev_null(STDIN_FILENO));
  ck_assert(on_dev_null(STDOUT_FILENO));
  nm_server_stop(s, on_stopped, &stopped);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(stopped, 1);
  nm_server_free(s);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *suite(void) {
  Suite *su = suite_create("server_stdfds");
  TCase *tc = tcase_create("stdfds");
  tcase_add_test(tc, stdin_closed_thread);
  tcase_add_test(tc, stdin_stdout_closed_own_loop);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  /* Always in children (even under CK_FORK=no): the tests close 0-2. */
  SRunner *sr = srunner_create(suite());
  int failed;
  srunner_set_fork_status(sr, CK_FORK);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
