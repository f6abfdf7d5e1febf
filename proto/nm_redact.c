/* nats-server's trace redaction (see nm_redact.h), written as a small
 * matcher instead of a regex engine. The pattern nats-server uses is
 *   "?\s*NAME\S*?"?\s*[:=]\s*"?([^",\r\n}]*)
 * and only its group (the value) is replaced. The leftmost match belongs to
 * the first occurrence of NAME from which the rest matches; after NAME the
 * lazy \S*? means: the shortest run of non-blanks followed by an optional
 * quote, blanks and `:` or `=`. */
#include "nm_redact.h"

#include <string.h>

/* The two names nm_redact_append looks for, in this order (nats-server
 * redacts passwords first, then tokens). */
static const char *const secret_names[] = {"pass", "auth_token"};

/* Go's \s: tab, LF, FF, CR, space. */
static int go_space(char c) {
  return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

static int value_end(char c) {
  return c == '"' || c == ',' || c == '\r' || c == '\n' || c == '}';
}

static const char *find(const char *s, size_t n, const char *name) {
  size_t k = strlen(name), i;
  for (i = 0; i + k <= n; i++)
    if (memcmp(s + i, name, k) == 0)
      return s + i;
  return NULL;
}

/* The first value of NAME at or after `from`: [*vs, *ve). 0 when none. */
static int next_value(const char *s, size_t n, size_t from, const char *name,
                      size_t *vs, size_t *ve) {
  size_t k = strlen(name);
  while (from < n) {
    const char *hit = find(s + from, n - from, name);
    size_t q, j;
    if (hit == NULL)
      return 0;
    q = (size_t)(hit - s) + k;
    for (j = q;; j++) {
      size_t t = j;
      if (t < n && s[t] == '"')
        t++;
      while (t < n && go_space(s[t]))
        t++;
      if (t < n && (s[t] == ':' || s[t] == '=')) {
        t++;
        while (t < n && go_space(s[t]))
          t++;
        if (t < n && s[t] == '"')
          t++;
        *vs = t;
        while (t < n && !value_end(s[t]))
          t++;
        *ve = t;
        return 1;
      }
      /* \S*? grows by one non-blank, or this occurrence does not match. */
      if (j >= n || go_space(s[j]))
        break;
    }
    from = (size_t)(hit - s) + 1;
  }
  return 0;
}

static int needed_for(const char *s, size_t n, const char *name) {
  size_t vs, ve;
  return next_value(s, n, 0, name, &vs, &ve);
}

int nm_redact_needed(const char *text, size_t n) {
  size_t i;
  if (text == NULL)
    return 0;
  for (i = 0; i < sizeof(secret_names) / sizeof(secret_names[0]); i++)
    if (needed_for(text, n, secret_names[i]))
      return 1;
  return 0;
}

/* One name over src into dst (cleared first). */
static int redact_one(nm_buf_t *dst, const char *s, size_t n,
                      const char *name) {
  size_t at = 0, vs, ve;
  int r;
  nm_buf_clear(dst);
  while (next_value(s, n, at, name, &vs, &ve)) {
    if ((r = nm_buf_append(dst, s + at, vs - at)) != 0 ||
        (r = nm_buf_append_str(dst, NM_REDACTED)) != 0)
      return r;
    at = ve;
  }
  return nm_buf_append(dst, s + at, n - at);
}

int nm_redact_append(nm_buf_t *out, const char *text, size_t n) {
  nm_buf_t a, b;
  int r;
  if (text == NULL || !nm_redact_needed(text, n))
    return text ? nm_buf_append(out, text, n) : 0;
  /* Passwords, then tokens over the result, as nats-server chains them. */
  nm_buf_init(&a, out->limit);
  nm_buf_init(&b, out->limit);
  r = redact_one(&a, text, n, secret_names[0]);
  if (r == 0)
    r = redact_one(&b, a.base ? a.base : "", a.len, secret_names[1]);
  if (r == 0)
    r = nm_buf_append(out, b.base ? b.base : "", b.len);
  nm_buf_free(&a);
  nm_buf_free(&b);
  return r;
}

int nm_redact_key(const char *key) {
  if (key == NULL)
    return 0;
  return strncmp(key, "pass", 4) == 0 || strcmp(key, "token") == 0 ||
         strcmp(key, "auth_token") == 0;
}
