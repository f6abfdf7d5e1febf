/* The end of every Check test program's main: run the suite, free the
 * runner, and turn the failure count into the exit status CTest reads.
 * Header-only, so programs that do not link Check can still use
 * nm_test_util.c. */
#ifndef NM_TEST_CHECK_H
#define NM_TEST_CHECK_H

#include <check.h>

/* Runs every test of `s` with the given output mode (CK_NORMAL, CK_ENV...);
 * returns 0 when all passed, 1 otherwise. The runner owns and frees `s`. */
static inline int nm_test_run_suite(Suite *s, enum print_output mode) {
  SRunner *sr = srunner_create(s);
  int failed;
  srunner_run_all(sr, mode);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}

#endif
