/* The small proto modules: nm_buf (limits, growth, consume, shrink), nm_seq
 * (sequenced payloads), nm_b64 (the one base64) and nm_errname. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nm_b64.h"
#include "nm_buf.h"
#include "nm_errors.h"
#include "nm_seq.h"

START_TEST(test_buf_append_and_limit) {
  nm_buf_t b;
  char *w;

  nm_buf_init(&b, 10);
  ck_assert_ptr_null(b.base);
  ck_assert_int_eq(nm_buf_append_str(&b, "hello"), 0);
  ck_assert_int_eq(nm_buf_append(&b, "world", 5), 0);
  ck_assert_uint_eq(b.len, 10);
  ck_assert(memcmp(b.base, "helloworld", 10) == 0);
  ck_assert_uint_le(b.cap, 10); /* never allocates past the limit */
  ck_assert_int_eq(nm_buf_append(&b, "!", 1), NM_ETOOBIG);
  ck_assert_uint_eq(b.len, 10);
  ck_assert_int_eq(nm_buf_append(&b, "", 0), 0);
  ck_assert_ptr_null(nm_buf_reserve(&b, 1));
  ck_assert_int_eq(nm_buf_appendf(&b, "%d", 1), NM_ETOOBIG);

  nm_buf_consume(&b, 5);
  ck_assert_uint_eq(b.len, 5);
  ck_assert(memcmp(b.base, "world", 5) == 0);
  /* exactly fills the limit: the formatter's terminator must not count */
  ck_assert_int_eq(nm_buf_appendf(&b, "%s%d", "ab", 123), 0);
  ck_assert_uint_eq(b.len, 10);
  ck_assert(memcmp(b.base, "worldab123", 10) == 0);
  nm_buf_consume(&b, 100);
  ck_assert_uint_eq(b.len, 0);

  w = nm_buf_reserve(&b, 4);
  ck_assert_ptr_nonnull(w);
  memcpy(w, "abcd", 4);
  nm_buf_commit(&b, 4);
  ck_assert_uint_eq(b.len, 4);
  nm_buf_clear(&b);
  ck_assert_uint_eq(b.len, 0);
  nm_buf_free(&b);
  ck_assert_ptr_null(b.base);
  ck_assert_uint_eq(b.limit, 10); /* kept */
}
END_TEST

START_TEST(test_buf_unlimited_growth_and_shrink) {
  nm_buf_t b;
  int i;

  nm_buf_init(&b, 0);
  for (i = 0; i < 10000; i++)
    ck_assert_int_eq(nm_buf_appendf(&b, "%04d", i), 0);
  ck_assert_uint_eq(b.len, 40000);
  ck_assert(memcmp(b.base + 4 * 9999, "9999", 4) == 0);
  nm_buf_shrink(&b, 1024); /* not empty: nothing happens */
  ck_assert_uint_ge(b.cap, 40000);
  nm_buf_clear(&b);
  nm_buf_shrink(&b, 1024);
  ck_assert_uint_eq(b.cap, 1024);
  ck_assert_int_eq(nm_buf_append_str(&b, "x"), 0);
  nm_buf_clear(&b);
  nm_buf_shrink(&b, 0);
  ck_assert_ptr_null(b.base);
  ck_assert_uint_eq(b.cap, 0);
  nm_buf_free(&b);
}
END_TEST

START_TEST(test_buf_huge_request) {
  nm_buf_t b;
  nm_buf_init(&b, 0);
  ck_assert_int_eq(nm_buf_append_str(&b, "x"), 0);
  /* len + n would wrap around */
  ck_assert_ptr_null(nm_buf_reserve(&b, SIZE_MAX));
  ck_assert_uint_eq(b.len, 1);
  nm_buf_free(&b);
}
END_TEST

START_TEST(test_seq_payload) {
  char out[32];
  uint64_t k = 0;

  ck_assert_uint_eq(nm_seq_payload(1, 0, out, sizeof(out)), 1);
  ck_assert(memcmp(out, "1", 1) == 0);
  ck_assert_uint_eq(nm_seq_payload(1, 5, out, sizeof(out)), 5);
  ck_assert(memcmp(out, "1....", 5) == 0);
  ck_assert_uint_eq(nm_seq_payload(12345, 3, out, sizeof(out)), 5);
  ck_assert(memcmp(out, "12345", 5) == 0);
  ck_assert_uint_eq(nm_seq_payload(0, 2, out, sizeof(out)), 2);
  ck_assert(memcmp(out, "0.", 2) == 0);
  ck_assert_uint_eq(nm_seq_payload(UINT64_MAX, 0, out, sizeof(out)), 20);
  ck_assert(memcmp(out, "18446744073709551615", 20) == 0);
  ck_assert_uint_eq(nm_seq_payload(42, 8, out, 7), 0); /* cap too small */
  ck_assert_uint_eq(nm_seq_payload(42, 0, NULL, 0), 0);

  ck_assert_int_eq(nm_seq_read("17....", 6, &k), 1);
  ck_assert_uint_eq(k, 17);
  ck_assert_int_eq(nm_seq_read("9", 1, &k), 1);
  ck_assert_uint_eq(k, 9);
  ck_assert_int_eq(nm_seq_read("12", 1, &k), 1); /* only n bytes count */
  ck_assert_uint_eq(k, 1);
  ck_assert_int_eq(nm_seq_read(".1", 2, &k), 0);
  ck_assert_int_eq(nm_seq_read("", 0, &k), 0);
  ck_assert_int_eq(nm_seq_read("18446744073709551615", 20, &k), 1);
  ck_assert_uint_eq(k, UINT64_MAX);
  ck_assert_int_eq(nm_seq_read("18446744073709551616", 20, &k), 0);
}
END_TEST

START_TEST(test_seq_round_trip) {
  char out[64];
  uint64_t k, got;
  for (k = 1; k < 100000; k = k * 3 + 1) {
    size_t n = nm_seq_payload(k, 16, out, sizeof(out));
    ck_assert_uint_eq(n, 16);
    ck_assert_int_eq(nm_seq_read(out, n, &got), 1);
    ck_assert_uint_eq(got, k);
  }
}
END_TEST

START_TEST(test_errname) {
  static const int codes[] = {NM_EPROTO,    NM_ETOOBIG, NM_ENOMEM,   NM_ESLOW,
                              NM_ECALLBACK, NM_EINVAL,  NM_ETIMEOUT, NM_ECLOSED,
                              NM_EAUTH,     NM_ESTATE};
  size_t i, j;
  for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
    ck_assert_ptr_nonnull(nm_errname(codes[i]));
    for (j = 0; j < i; j++)
      ck_assert_str_ne(nm_errname(codes[i]), nm_errname(codes[j]));
  }
  ck_assert_ptr_null(nm_errname(0));
  ck_assert_ptr_null(nm_errname(-1)); /* a libuv code */
  ck_assert_ptr_null(nm_errname(-5000));
}
END_TEST

/* RFC 4648 section 10's vectors, both ways. */
START_TEST(test_b64_rfc4648_vectors) {
  static const char *const plain[] = {"",     "f",     "fo",    "foo",
                                      "foob", "fooba", "foobar"};
  static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                    "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    char out[16], back[16];
    size_t n = strlen(plain[i]);
    ck_assert_uint_eq(nm_b64_enc_len(n), strlen(enc[i]));
    ck_assert_int_eq(nm_b64_encode(plain[i], n, out, sizeof(out)),
                     (ssize_t)strlen(enc[i]));
    ck_assert_str_eq(out, enc[i]);
    ck_assert_int_eq(nm_b64_decode(enc[i], strlen(enc[i]), back, sizeof(back)),
                     (ssize_t)n);
    ck_assert(memcmp(back, plain[i], n) == 0);
    ck_assert_uint_ge(nm_b64_dec_max(strlen(enc[i])), n);
  }
}
END_TEST

/* Every byte value survives a round trip, at every length mod 3. */
START_TEST(test_b64_round_trip_binary) {
  unsigned char in[256], back[256];
  char enc[400];
  for (int i = 0; i < 256; i++)
    in[i] = (unsigned char)(255 - i);
  for (size_t n = 0; n <= 256; n += 37) {
    ssize_t e = nm_b64_encode(in, n, enc, sizeof(enc));
    ck_assert_int_eq(e, (ssize_t)nm_b64_enc_len(n));
    ck_assert_int_eq(nm_b64_decode(enc, (size_t)e, back, sizeof(back)),
                     (ssize_t)n);
    ck_assert(memcmp(in, back, n) == 0);
  }
}
END_TEST

/* Strict: anything but canonical, padded, standard base64 is refused, and
 * a short buffer is an error, never an overflow or an abort. */
START_TEST(test_b64_strict_and_bounded) {
  char out[8];
  static const char *const bad[] = {
      "Zg",       /* no padding */
      "Zg=",      /* short padding */
      "Zm9v\n",   /* whitespace */
      " Zm9v",    /* whitespace */
      "Zm9-",     /* URL-safe alphabet */
      "Zm9_",     /* URL-safe alphabet */
      "Zh==",     /* unused bits set */
      "Zg==Zg==", /* data after the padding */
      "Z===",     /* one sextet cannot make a byte */
      "!!!!",     /* not the alphabet */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    ck_assert_msg(nm_b64_decode(bad[i], strlen(bad[i]), out, sizeof(out)) == -1,
                  "accepted %s", bad[i]);
  ck_assert_int_eq(nm_b64_decode("Zm9vYmFy", 8, out, 5), -1);
  ck_assert_int_eq(nm_b64_decode("Zm9vYmFy", 8, out, 6), 6);
  memset(out, 'x', sizeof(out));
  ck_assert_int_eq(nm_b64_encode("foo", 3, out, 4), -1); /* needs 5 */
  ck_assert_int_eq(out[0], 'x');
  ck_assert_int_eq(nm_b64_encode("foo", 3, out, 5), 4);
  ck_assert_int_eq(nm_b64_encode("", 0, out, 1), 0);
  ck_assert_str_eq(out, "");
  ck_assert_int_eq(nm_b64_encode("", 0, out, 0), -1);
}
END_TEST

static Suite *misc_suite(void) {
  Suite *s = suite_create("proto_misc");
  TCase *tc = tcase_create("misc");

  tcase_add_test(tc, test_buf_append_and_limit);
  tcase_add_test(tc, test_buf_unlimited_growth_and_shrink);
  tcase_add_test(tc, test_buf_huge_request);
  tcase_add_test(tc, test_seq_payload);
  tcase_add_test(tc, test_seq_round_trip);
  tcase_add_test(tc, test_errname);
  tcase_add_test(tc, test_b64_rfc4648_vectors);
  tcase_add_test(tc, test_b64_round_trip_binary);
  tcase_add_test(tc, test_b64_strict_and_bounded);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(misc_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
