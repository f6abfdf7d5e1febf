/* The subject tree (server/sublist.c) against a brute-force reference:
 * random patterns and subjects over a few tokens, every match checked for
 * the same subs in nats-server's walk order (the '>' subs of a level, then
 * the '*' branch, then the literal one; at the last token literal before
 * '*'; subscription order within one pattern), before and after removals,
 * with the cache warm and cold, and the tree empty once every sub is gone.
 * The order itself is checked against the real server by tests/diff. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_server_int.h"
#include "nm_subject.h"
#include "nm_test_check.h"

#define NSUBS 400
#define ROUNDS 40

static const char *kToks[] = {"a", "b", "c", "*", ">"};

static uint64_t g_rng = 88172645463325252ull;
static unsigned rnd(unsigned n) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (unsigned)(g_rng % n);
}

/* A valid pattern (wild) or literal subject of 1 to 4 tokens. */
static void gen(char *buf, int wild) {
  int n = 1 + (int)rnd(4), i;
  buf[0] = 0;
  for (i = 0; i < n; i++) {
    const char *t = kToks[rnd(wild ? 5 : 3)];
    if (t[0] == '>' && i + 1 < n)
      t = "*";
    strcat(buf, i ? "." : "");
    strcat(buf, t);
  }
}

static nm__sub_t *new_sub(const char *subj) {
  size_t n = strlen(subj);
  nm__sub_t *s = calloc(1, sizeof(*s) + n);
  memcpy(s->data, subj, n);
  s->subject = (nm_slice_t){s->data, n};
  return s;
}

/* The rank of a pattern's token i for a subject of ntok tokens, in the
 * tree walk's order. */
static int rank(const char *t, size_t n, int last) {
  if (n == 1 && t[0] == '>')
    return 0;
  if (n == 1 && t[0] == '*')
    return last ? 2 : 1;
  return last ? 1 : 2;
}

static int order_cmp(nm_slice_t a, nm_slice_t b, size_t ntok) {
  size_t i, ia = 0, ib = 0;
  for (i = 0; i < ntok && ia < a.n && ib < b.n; i++) {
    const char *da = memchr(a.p + ia, '.', a.n - ia);
    const char *db = memchr(b.p + ib, '.', b.n - ib);
    size_t la = da ? (size_t)(da - a.p) - ia : a.n - ia;
    size_t lb = db ? (size_t)(db - b.p) - ib : b.n - ib;
    int ra = rank(a.p + ia, la, i + 1 == ntok);
    int rb = rank(b.p + ib, lb, i + 1 == ntok);
    if (ra != rb)
      return ra - rb;
    if (ra == 0)
      return 0;
    ia += la + 1;
    ib += lb + 1;
  }
  return 0;
}

/* Every live sub matching subj, in insertion order, then stably sorted. */
static void reference(nm__sub_t **subs, int n, const char *subj,
                      nm__subvec_t *out) {
  nm_slice_t s = {subj, strlen(subj)};
  size_t ntok = 1, i, j;
  int k;
  for (i = 0; i < s.n; i++)
    ntok += subj[i] == '.';
  out->n = 0;
  for (k = 0; k < n; k++)
    if (subs[k]->node && nm_subject_matches(subs[k]->subject, s))
      nm__subvec_push(out, subs[k]);
  for (i = 1; i < out->n; i++) {
    nm__sub_t *x = out->v[i];
    for (j = i;
         j > 0 && order_cmp(out->v[j - 1]->subject, x->subject, ntok) > 0; j--)
      out->v[j] = out->v[j - 1];
    out->v[j] = x;
  }
}

static void check_all(nm__sublist_t *l, nm__sub_t **subs, int n) {
  static const char *subjects[] = {"a",     "b",      "a.b",   "a.a",
                                   "c.b",   "a.b.c",  "b.b.b", "a.a.a.a",
                                   "c.c.c", "a.b.c.a"};
  nm__subvec_t got = {0}, want = {0};
  size_t i, k;
  for (k = 0; k < sizeof(subjects) / sizeof(*subjects); k++) {
    got.n = 0;
    ck_assert_int_eq(
        nm__sublist_match(l, (nm_slice_t){subjects[k], strlen(subjects[k])},
                          &got),
        0);
    reference(subs, n, subjects[k], &want);
    ck_assert_msg(got.n == want.n, "%s: %zu subs, want %zu", subjects[k], got.n,
                  want.n);
    for (i = 0; i < got.n; i++)
      ck_assert_msg(got.v[i] == want.v[i], "%s: sub %zu is %.*s, want %.*s",
                    subjects[k], i, (int)got.v[i]->subject.n,
                    got.v[i]->subject.p, (int)want.v[i]->subject.n,
                    want.v[i]->subject.p);
  }
  nm__subvec_free(&got);
  nm__subvec_free(&want);
}

START_TEST(tree_matches_reference) {
  int round;
  for (round = 0; round < ROUNDS; round++) {
    nm__sublist_t l;
    nm__sub_t *subs[NSUBS];
    char buf[64];
    int i;
    ck_assert_int_eq(nm__sublist_init(&l), 0);
    for (i = 0; i < NSUBS; i++) {
      gen(buf, (int)rnd(2));
      subs[i] = new_sub(buf);
      ck_assert_int_eq(nm__sublist_insert(&l, subs[i]), 0);
    }
    check_all(&l, subs, NSUBS); /* cold: every match is a walk */
    check_all(&l, subs, NSUBS); /* warm: from the cache */
    for (i = 0; i < NSUBS; i++)
      if (rnd(2))
        nm__sublist_remove(&l, subs[i]);
    check_all(&l, subs, NSUBS);
    for (i = 0; i < NSUBS; i++)
      nm__sublist_remove(&l, subs[i]);
    ck_assert_uint_eq(l.nsubs, 0);
    ck_assert_uint_eq(l.root.nnodes, 0);
    ck_assert_ptr_null(l.root.pwc);
    ck_assert_ptr_null(l.root.fwc);
    nm__sublist_free(&l);
    for (i = 0; i < NSUBS; i++)
      free(subs[i]);
  }
}
END_TEST

/* Past the cache's bound entries leave one at a time, oldest first. */
START_TEST(cache_evicts_one_at_a_time) {
  nm__sublist_t l;
  nm__subvec_t out = {0};
  nm__sub_t *s = new_sub("x.*");
  char subj[32];
  int i;
  ck_assert_int_eq(nm__sublist_init(&l), 0);
  ck_assert_int_eq(nm__sublist_insert(&l, s), 0);
  for (i = 0; i < 3000; i++) {
    int n = snprintf(subj, sizeof(subj), "x.%d", i);
    out.n = 0;
    ck_assert_int_eq(nm__sublist_match(&l, (nm_slice_t){subj, (size_t)n}, &out),
                     0);
    ck_assert_uint_eq(out.n, 1);
    ck_assert_uint_le(l.ncache, 1024);
  }
  ck_assert_uint_eq(l.ncache, 1024);
  /* x.0 .. x.1975 were evicted. */
  ck_assert_uint_eq(l.oldest->subj_len, 6);
  ck_assert_int_eq(memcmp(l.oldest->subj, "x.1976", 6), 0);
  nm__sublist_remove(&l, s);
  ck_assert_uint_eq(l.ncache, 0);
  nm__subvec_free(&out);
  nm__sublist_free(&l);
  free(s);
}
END_TEST

int main(void) {
  Suite *s = suite_create("server_sublist");
  TCase *tc = tcase_create("sublist");
  tcase_add_test(tc, tree_matches_reference);
  tcase_add_test(tc, cache_evicts_one_at_a_time);
  suite_add_tcase(s, tc);
  return nm_test_run_suite(s, CK_NORMAL);
}
