/* Helpers for the client tests (test_client_*.c): the test's libuv loop and
 * a bounded "run the loop until a condition holds". Header-only: each test
 * program includes it once. */
#ifndef TEST_CLIENT_UTIL_H
#define TEST_CLIENT_UTIL_H

#include <uv.h>

static uv_loop_t loop;
static uv_timer_t deadline; /* armed by RUN_UNTIL, init'ed by each setup */
static int timed_out;

static void on_deadline(uv_timer_t *t) {
  timed_out = 1;
}

/* Runs the loop until cond holds or ms pass; returns cond. */
#define RUN_UNTIL(cond, ms)                                                    \
  ({                                                                           \
    timed_out = 0;                                                             \
    uv_timer_start(&deadline, on_deadline, (ms), 0);                           \
    while (!(cond) && !timed_out)                                              \
      uv_run(&loop, UV_RUN_ONCE);                                              \
    uv_timer_stop(&deadline);                                                  \
    (cond);                                                                    \
  })

#endif
