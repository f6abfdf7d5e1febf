/* nm_redact: nats-server 2.9.10's trace redaction of CONNECT secrets. The
 * rows marked "2.9.10" are what `nats-server -DV` 2.9.10 wrote for the same
 * CONNECT (checked by hand, and by test_server_redact for the first row);
 * where 2.9.10 leaves a secret in clear (a token, a second password key),
 * natsmock redacts it too. */
#include <check.h>
#include <string.h>

#include "nm_redact.h"
#include "nm_test_check.h"

static const struct {
  const char *in, *out;
} rows[] = {
    /* 2.9.10 */
    {"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"secret\"}",
     "CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"[REDACTED]\"}"},
    /* 2.9.10: blanks around the colon, a blank inside the value */
    {"{\"pass\" : \"sec ret\" ,\"user\":\"u\"}",
     "{\"pass\" : \"[REDACTED]\" ,\"user\":\"u\"}"},
    /* 2.9.10: the value stops at the escaped quote */
    {"{\"user\":\"u\",\"pass\":\"a\\\"b\"}",
     "{\"user\":\"u\",\"pass\":\"[REDACTED]\"b\"}"},
    /* 2.9.10 redacts only password; natsmock both */
    {"{\"user\":\"u\",\"password\":\"x\",\"pass\":\"secret\"}",
     "{\"user\":\"u\",\"password\":\"[REDACTED]\",\"pass\":\"[REDACTED]\"}"},
    /* 2.9.10 leaves the token in clear (2.11.10 redacts it) */
    {"{\"auth_token\":\"tok\",\"x\":1}",
     "{\"auth_token\":\"[REDACTED]\",\"x\":1}"},
    /* unquoted and `=` forms, empty values */
    {"pass: abc}", "pass: [REDACTED]}"},
    {"pass=abc,auth_token = t\r\n",
     "pass=[REDACTED],auth_token = [REDACTED]\r\n"},
    {"{\"pass\":\"\"}", "{\"pass\":\"[REDACTED]\"}"},
    /* a user name that contains "pass": the match reaches the pass key */
    {"{\"user\":\"passenger\",\"pass\":\"s\"}",
     "{\"user\":\"passenger\",\"pass\":\"[REDACTED]\"}"},
    /* nothing to hide */
    {"{\"user\":\"u\",\"verbose\":true}", "{\"user\":\"u\",\"verbose\":true}"},
    {"{\"passive\" \"x\"}", "{\"passive\" \"x\"}"},
    {"", ""},
};

START_TEST(test_rows) {
  nm_buf_t b;
  const char *in = rows[_i].in;
  nm_buf_init(&b, 0);
  ck_assert_int_eq(nm_redact_append(&b, in, strlen(in)), 0);
  ck_assert_int_eq(b.len, strlen(rows[_i].out));
  ck_assert_msg(b.len == 0 || memcmp(b.base, rows[_i].out, b.len) == 0,
                "%s -> %.*s", in, (int)b.len, b.base);
  ck_assert_int_eq(nm_redact_needed(in, strlen(in)),
                   strcmp(rows[_i].in, rows[_i].out) != 0);
  nm_buf_free(&b);
}
END_TEST

/* Not NUL-terminated input, and an output limit. */
START_TEST(test_bounds) {
  nm_buf_t b;
  const char in[] = {'p', 'a', 's', 's', ':', 'x', 'y'};
  nm_buf_init(&b, 0);
  ck_assert_int_eq(nm_redact_append(&b, in, 6), 0);
  ck_assert_int_eq(b.len, strlen("pass:[REDACTED]"));
  ck_assert_int_eq(memcmp(b.base, "pass:[REDACTED]", b.len), 0);
  nm_buf_free(&b);
  nm_buf_init(&b, 8);
  ck_assert_int_ne(nm_redact_append(&b, in, 6), 0);
  nm_buf_free(&b);
}
END_TEST

START_TEST(test_keys) {
  ck_assert(nm_redact_key("pass"));
  ck_assert(nm_redact_key("password"));
  ck_assert(nm_redact_key("token"));
  ck_assert(nm_redact_key("auth_token"));
  ck_assert(!nm_redact_key("user"));
  ck_assert(!nm_redact_key("name"));
  ck_assert(!nm_redact_key(NULL));
}
END_TEST

int main(void) {
  Suite *s = suite_create("proto_redact");
  TCase *tc = tcase_create("redact");
  tcase_add_loop_test(tc, test_rows, 0, (int)(sizeof(rows) / sizeof(rows[0])));
  tcase_add_test(tc, test_bounds);
  tcase_add_test(tc, test_keys);
  suite_add_tcase(s, tc);
  return nm_test_run_suite(s, CK_NORMAL);
}
