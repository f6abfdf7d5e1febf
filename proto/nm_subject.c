/* Subject validation and matching as nats-server 2.9.10 applies them to
 * clients: SUB subjects by Sublist.Insert's rules, pedantic PUB subjects by
 * IsValidLiteralSubject, delivery by Sublist.Match. libc only.
 *
 * 2.9.10 does not reject whitespace inside a token on these paths (checked
 * against the real server: `SUB a\fb 1` gets +OK and receives `PUB a\fb`;
 * a pedantic `PUB a\rb` gets no -ERR), so neither does this module. SP, TAB,
 * CR and LF cannot reach a SUB subject anyway: the argument splitter
 * removes them. */
#include "nm_subject.h"

#include <string.h>

/* Steps to the next '.'-separated token (possibly empty). Returns 0 when
 * the string is used up. */
static int tok_next(const char *s, size_t n, size_t *pos, nm_slice_t *tok) {
  size_t i = *pos, start = i;

  if (i > n)
    return 0;
  while (i < n && s[i] != '.')
    i++;
  tok->p = s + start;
  tok->n = i - start;
  *pos = i + 1; /* past the dot, or n + 1 at the end */
  return 1;
}

static int is_tok(nm_slice_t t, char c) {
  return t.n == 1 && t.p[0] == c;
}

int nm_subject_valid(nm_slice_t s) {
  size_t pos = 0;
  nm_slice_t t;
  int after_fwc = 0;

  if (s.p == NULL || s.n == 0)
    return 0;
  while (tok_next(s.p, s.n, &pos, &t)) {
    if (t.n == 0 || after_fwc)
      return 0;
    if (is_tok(t, '>'))
      after_fwc = 1;
  }
  return 1;
}

int nm_subject_valid_literal(nm_slice_t s) {
  size_t pos = 0;
  nm_slice_t t;

  if (s.p == NULL || s.n == 0)
    return 0;
  while (tok_next(s.p, s.n, &pos, &t)) {
    if (t.n == 0 || is_tok(t, '*') || is_tok(t, '>'))
      return 0;
  }
  return 1;
}

int nm_subject_matches(nm_slice_t pattern, nm_slice_t subject) {
  size_t pp = 0, sp = 0;
  nm_slice_t pt, st;
  int more;

  /* Sublist.Match returns nothing for an empty subject or one with an
   * empty token (leading, trailing or doubled dot). */
  if (subject.p == NULL || subject.n == 0 || pattern.p == NULL ||
      pattern.n == 0)
    return 0;
  {
    size_t i;
    if (subject.p[0] == '.' || subject.p[subject.n - 1] == '.')
      return 0;
    for (i = 1; i < subject.n; i++)
      if (subject.p[i] == '.' && subject.p[i - 1] == '.')
        return 0;
  }
  while ((more = tok_next(pattern.p, pattern.n, &pp, &pt))) {
    if (pt.n == 0)
      return 0; /* an invalid pattern matches nothing */
    if (is_tok(pt, '>')) {
      /* One or more remaining tokens: `foo.>` does not match `foo`. */
      return sp <= subject.n && pp > pattern.n;
    }
    if (!tok_next(subject.p, subject.n, &sp, &st))
      return 0;
    if (!is_tok(pt, '*') &&
        (pt.n != st.n || (pt.n > 0 && memcmp(pt.p, st.p, pt.n) != 0)))
      return 0;
  }
  /* Both must be used up. */
  return sp > subject.n;
}
