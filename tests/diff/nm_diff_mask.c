/* Masking the values that legitimately differ between two servers: the
 * identity fields of INFO. Works on the raw text so that every other byte
 * (key order, spacing, the space before CRLF) is still compared. */
#include <stdlib.h>
#include <string.h>

#include "nm_diff.h"

static const char *const kIdentity[] = {"server_id", "server_name", "version",
                                        "go",        "host",        "port",
                                        "client_id", "client_ip",   NULL};

static int is_identity(const char *key, size_t n) {
  for (int i = 0; kIdentity[i]; i++)
    if (strlen(kIdentity[i]) == n && memcmp(kIdentity[i], key, n) == 0)
      return 1;
  return 0;
}

/* The end of a JSON string starting at p (on the opening quote), or NULL. */
static const char *skip_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    if (*p == '\\')
      p++;
    else if (*p == '"')
      return p + 1;
  }
  return NULL;
}

/* The end of any JSON value starting at p, or NULL. Nested containers are
 * skipped by depth counting; the depth is bounded by the line length. */
static const char *skip_value(const char *p, const char *end) {
  int depth = 0;
  while (p < end) {
    if (*p == '"') {
      p = skip_string(p, end);
      if (!p)
        return NULL;
      if (depth == 0)
        return p;
      continue;
    }
    if (*p == '{' || *p == '[') {
      depth++;
    } else if (*p == '}' || *p == ']') {
      if (depth == 0)
        return p;
      if (--depth == 0)
        return p + 1;
    } else if (depth == 0 && (*p == ',' || *p == ' ' || *p == '\r')) {
      return p;
    }
    p++;
  }
  return depth == 0 ? p : NULL;
}

static void put(char *out, size_t *len, const char *p, size_t n) {
  memcpy(out + *len, p, n);
  *len += n;
}

/* Masks one INFO line [p, end). Returns 0, or -1 if it is not an object
 * (then the caller copies it unchanged, and the comparison shows it). */
static int mask_line(const char *p, const char *end, char *out, size_t *len) {
  size_t start = *len;
  const char *q = p + 5; /* "INFO " */
  while (q < end && (*q == ' ' || *q == '\t'))
    q++;
  if (q >= end || *q != '{')
    return -1;
  put(out, len, p, (size_t)(q - p + 1));
  q++;
  for (;;) {
    const char *k0, *k1, *v0, *v1;
    while (q < end && *q == ' ')
      put(out, len, q++, 1);
    if (q < end && *q == '}')
      break;
    if (q >= end || *q != '"')
      goto fail;
    k0 = q;
    k1 = skip_string(q, end);
    if (!k1)
      goto fail;
    q = k1;
    while (q < end && (*q == ' ' || *q == ':'))
      q++;
    put(out, len, k0, (size_t)(q - k0));
    v0 = q;
    v1 = skip_value(q, end);
    if (!v1 || v1 == v0)
      goto fail;
    if (is_identity(k0 + 1, (size_t)(k1 - k0 - 2))) {
      if (*v0 == '"')
        put(out, len, "\"*\"", 3);
      else if (*v0 == '-' || (*v0 >= '0' && *v0 <= '9'))
        put(out, len, "0", 1);
      else
        put(out, len, v0, (size_t)(v1 - v0)); /* another type: keep it */
    } else {
      put(out, len, v0, (size_t)(v1 - v0));
    }
    q = v1;
    while (q < end && *q == ' ')
      put(out, len, q++, 1);
    if (q < end && *q == ',') {
      put(out, len, q++, 1);
      continue;
    }
    if (q < end && *q == '}')
      break;
    goto fail;
  }
  put(out, len, q, (size_t)(end - q)); /* "}", the blank, CRLF */
  return 0;
fail:
  *len = start;
  return -1;
}

/* INFO lines are those starting with "INFO " at a line start; a line that
 * does not parse as a JSON object is copied unchanged. */
int nm__diff_mask(const char *in, size_t n, char **out, size_t *outlen) {
  /* A masked value is never longer than the value it replaces, except a
   * string "" (2) becoming "*" (3): at most one byte more per key. */
  size_t cap = n + n / 2 + 16;
  char *buf = malloc(cap);
  size_t len = 0;
  const char *p = in;
  const char *end = in + n;
  if (!buf)
    return -1;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl + 1 : end;
    if (le - p > 5 && memcmp(p, "INFO ", 5) == 0 &&
        mask_line(p, le, buf, &len) == 0) {
      p = le;
      continue;
    }
    put(buf, &len, p, (size_t)(le - p));
    p = le;
  }
  buf[len] = '\0';
  *out = buf;
  *outlen = len;
  return 0;
}

int nm__diff_info_placeholder(const char *in, size_t n, char **out,
                              size_t *outlen) {
  char *buf = malloc(n + 16 * (n / 8 + 1));
  size_t len = 0;
  const char *p = in;
  const char *end = in + n;
  if (!buf)
    return -1;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl + 1 : end;
    if (nl && le - p > 5 && memcmp(p, "INFO ", 5) == 0)
      put(buf, &len, "${INFO}", 7);
    else
      put(buf, &len, p, (size_t)(le - p));
    p = le;
  }
  buf[len] = '\0';
  *out = buf;
  *outlen = len;
  return 0;
}
