/* Unit tests for harness/drivers/raw/nm_drv_util.c: base64 both ways, the
 * text test, the payload rules of DRIVER-PROTOCOL.md, the bounded line
 * reader and the JSON-lines output. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_drv_util.h"

START_TEST(test_b64_round_trip) {
  unsigned char in[256], back[256];
  char enc[400];
  size_t n;
  for (n = 0; n < sizeof(in); n++)
    in[n] = (unsigned char)(n * 7 + 3);
  /* Every length, so every padding case is covered. */
  for (n = 0; n <= 64; n++) {
    ssize_t e = nm_b64_encode(in, n, enc, sizeof(enc));
    ssize_t d;
    ck_assert_int_eq(e, (ssize_t)((n + 2) / 3 * 4));
    d = nm_b64_decode(enc, (size_t)e, back, sizeof(back));
    ck_assert_msg(d == (ssize_t)n && memcmp(in, back, n) == 0,
                  "round trip of %zu bytes", n);
  }
}
END_TEST

START_TEST(test_b64_known_and_bad) {
  char enc[16];
  unsigned char out[16];
  ck_assert_int_eq(nm_b64_encode("\x00\x01\xff", 3, enc, sizeof(enc)), 4);
  ck_assert_str_eq(enc, "AAH/");
  ck_assert_int_eq(nm_b64_encode("hi", 2, enc, sizeof(enc)), 4);
  ck_assert_str_eq(enc, "aGk=");
  /* Too small an output: refused, not overrun. */
  ck_assert_int_eq(nm_b64_encode("hello", 5, enc, 8), -1);
  ck_assert_int_eq(nm_b64_decode("aGk=", 4, out, 1), -1);
  /* Bad input. */
  ck_assert_int_eq(nm_b64_decode("aGk", 3, out, sizeof(out)), -1);
  ck_assert_int_eq(nm_b64_decode("a=k=", 4, out, sizeof(out)), -1);
  ck_assert_int_eq(nm_b64_decode("aG!=", 4, out, sizeof(out)), -1);
  ck_assert_int_eq(nm_b64_decode("aGk=aGk=", 8, out, sizeof(out)), -1);
  ck_assert_int_eq(nm_b64_decode("", 0, out, sizeof(out)), 0);
}
END_TEST

START_TEST(test_is_text) {
  ck_assert(nm_drv_is_text("hello", 5));
  ck_assert(nm_drv_is_text("", 0));
  ck_assert(nm_drv_is_text("\xc3\xa9t\xc3\xa9", 5)); /* "été" */
  ck_assert(nm_drv_is_text("\xf0\x9f\x98\x80", 4));  /* U+1F600 */
  ck_assert(!nm_drv_is_text("a\0b", 3));             /* NUL */
  ck_assert(!nm_drv_is_text("\xff", 1));
  ck_assert(!nm_drv_is_text("\xc3", 1));             /* cut short */
  ck_assert(!nm_drv_is_text("\xc0\xaf", 2));         /* overlong */
  ck_assert(!nm_drv_is_text("\xed\xa0\x80", 3));     /* surrogate */
  ck_assert(!nm_drv_is_text("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
}
END_TEST

static cJSON *parse(const char *s) {
  cJSON *c = cJSON_Parse(s);
  ck_assert(c != NULL);
  return c;
}

START_TEST(test_payload_rules) {
  cJSON *c;
  char *p;
  size_t n;
  const char *why = NULL;

  /* No data: the sequence number, padded with '.' to size. */
  c = parse("{\"count\":3,\"size\":6}");
  ck_assert_int_eq(nm_drv_payload(c, 2, &p, &n, &why), 0);
  ck_assert(n == 6 && memcmp(p, "2.....", 6) == 0);
  free(p);
  ck_assert_int_eq(nm_drv_payload(c, 1234567, &p, &n, &why), 0);
  ck_assert(n == 7 && memcmp(p, "1234567", 7) == 0); /* never cut */
  free(p);
  cJSON_Delete(c);
  /* A lone publish without data sends "1". */
  c = parse("{}");
  ck_assert_int_eq(nm_drv_payload(c, 1, &p, &n, &why), 0);
  ck_assert(n == 1 && p[0] == '1');
  free(p);
  cJSON_Delete(c);
  /* data and data_b64 win. */
  c = parse("{\"data\":\"x y\",\"size\":9}");
  ck_assert_int_eq(nm_drv_payload(c, 5, &p, &n, &why), 0);
  ck_assert(n == 3 && memcmp(p, "x y", 3) == 0);
  free(p);
  cJSON_Delete(c);
  c = parse("{\"data_b64\":\"AAH/\"}");
  ck_assert_int_eq(nm_drv_payload(c, 1, &p, &n, &why), 0);
  ck_assert(n == 3 && memcmp(p, "\x00\x01\xff", 3) == 0);
  free(p);
  cJSON_Delete(c);
  /* Refusals, with a reason. */
  c = parse("{\"data_b64\":\"A\"}");
  ck_assert_int_eq(nm_drv_payload(c, 1, &p, &n, &why), -1);
  ck_assert(why != NULL && p == NULL);
  cJSON_Delete(c);
  c = parse("{\"size\":-1}");
  ck_assert_int_eq(nm_drv_payload(c, 1, &p, &n, &why), -1);
  cJSON_Delete(c);
  c = parse("{\"size\":100000000}");
  ck_assert_int_eq(nm_drv_payload(c, 1, &p, &n, &why), -1);
  cJSON_Delete(c);
}
END_TEST

START_TEST(test_add_payload) {
  cJSON *o = cJSON_CreateObject();
  char big[300];
  nm_drv_add_payload(o, "42..", 4, NM_DRV_MSG_DATA_MAX);
  ck_assert_str_eq(cJSON_GetObjectItem(o, "data")->valuestring, "42..");
  ck_assert_int_eq((int)cJSON_GetObjectItem(o, "seq")->valuedouble, 42);
  cJSON_Delete(o);
  o = cJSON_CreateObject();
  nm_drv_add_payload(o, "\x00\x01\xff", 3, NM_DRV_MSG_DATA_MAX);
  ck_assert_str_eq(cJSON_GetObjectItem(o, "data_b64")->valuestring, "AAH/");
  ck_assert(cJSON_GetObjectItem(o, "seq") == NULL);
  cJSON_Delete(o);
  /* Over the limit: no data, but still the seq. */
  memset(big, '.', sizeof(big));
  big[0] = '7';
  o = cJSON_CreateObject();
  nm_drv_add_payload(o, big, sizeof(big), NM_DRV_MSG_DATA_MAX);
  ck_assert(cJSON_GetObjectItem(o, "data") == NULL &&
            cJSON_GetObjectItem(o, "data_b64") == NULL);
  ck_assert_int_eq((int)cJSON_GetObjectItem(o, "seq")->valuedouble, 7);
  cJSON_Delete(o);
}
END_TEST

START_TEST(test_read_line) {
  char buf[8];
  FILE *f = tmpfile();
  ck_assert(f != NULL);
  fputs("abc\r\n\nlong line here\nend", f);
  rewind(f);
  ck_assert_int_eq(nm_drv_read_line(f, buf, sizeof(buf)), 3);
  ck_assert_str_eq(buf, "abc"); /* CR dropped */
  ck_assert_int_eq(nm_drv_read_line(f, buf, sizeof(buf)), 0);
  ck_assert_int_eq(nm_drv_read_line(f, buf, sizeof(buf)), -2); /* too long */
  ck_assert_int_eq(nm_drv_read_line(f, buf, sizeof(buf)), 3);
  ck_assert_str_eq(buf, "end"); /* last line without LF */
  ck_assert_int_eq(nm_drv_read_line(f, buf, sizeof(buf)), -1);
  fclose(f);
}
END_TEST

START_TEST(test_emit_lines) {
  char out[256];
  FILE *f = tmpfile();
  size_t n;
  ck_assert(f != NULL);
  nm_drv_out_init(f);
  ck_assert_int_eq(nm_drv_emit(nm_drv_ok(7)), 0);
  ck_assert_int_eq(nm_drv_emit(nm_drv_err(-1, "bad_command", "a\nb")), 0);
  ck_assert_int_eq(nm_drv_emit(NULL), -1);
  nm_drv_out_init(NULL);
  rewind(f);
  n = fread(out, 1, sizeof(out) - 1, f);
  out[n] = '\0';
  fclose(f);
  /* One object a line; a newline in a text is escaped, not written. */
  ck_assert_str_eq(out, "{\"id\":7,\"ev\":\"ok\"}\n"
                        "{\"ev\":\"err\",\"code\":\"bad_command\","
                        "\"error\":\"a\\nb\"}\n");
}
END_TEST

int main(void) {
  Suite *s = suite_create("drv_util");
  TCase *tc = tcase_create("util");
  SRunner *sr;
  int failed;
  tcase_add_test(tc, test_b64_round_trip);
  tcase_add_test(tc, test_b64_known_and_bad);
  tcase_add_test(tc, test_is_text);
  tcase_add_test(tc, test_payload_rules);
  tcase_add_test(tc, test_add_payload);
  tcase_add_test(tc, test_read_line);
  tcase_add_test(tc, test_emit_lines);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
