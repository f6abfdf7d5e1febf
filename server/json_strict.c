/* Strict JSON syntax, as Go's encoding/json (which nats-server decodes
 * CONNECT with) accepts it: RFC 8259 numbers (no leading zeros, no "1.",
 * no "+1"), no control characters inside strings, only the standard escapes.
 * cJSON is more lenient, so the server checks the text here first and lets
 * cJSON build the values afterwards. Also hands out a top-level member's raw
 * value text, for decoding an int the way Go does. No allocation, apart
 * from nm__json_mend_surrogates' copy. */
#include <stdlib.h>
#include <string.h>

#include "nm_server_int.h"

/* Deepest nesting followed; Go allows 10000, a CONNECT line cannot hold
 * more than half its length in brackets anyway. */
#define NM_JSON_DEPTH_MAX 10000

typedef struct {
  const char *p, *end;
} cur_t;

static void ws(cur_t *c) {
  while (c->p < c->end &&
         (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int is_digit(char ch) {
  return ch >= '0' && ch <= '9';
}

static int is_hex(char ch) {
  return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int string_(cur_t *c) {
  if (c->p >= c->end || *c->p != '"')
    return -1;
  c->p++;
  while (c->p < c->end) {
    unsigned char ch = (unsigned char)*c->p++;
    if (ch == '"')
      return 0;
    if (ch < 0x20)
      return -1;
    if (ch == '\\') {
      if (c->p >= c->end)
        return -1;
      ch = (unsigned char)*c->p++;
      if (ch == 'u') {
        int i;
        for (i = 0; i < 4; i++)
          if (c->p >= c->end || !is_hex(*c->p++))
            return -1;
      } else if (!strchr("\"\\/bfnrt", ch) || ch == 0) {
        return -1;
      }
    }
  }
  return -1;
}

static int number_(cur_t *c) {
  if (c->p < c->end && *c->p == '-')
    c->p++;
  if (c->p >= c->end || !is_digit(*c->p))
    return -1;
  if (*c->p == '0')
    c->p++;
  else
    while (c->p < c->end && is_digit(*c->p))
      c->p++;
  if (c->p < c->end && *c->p == '.') {
    c->p++;
    if (c->p >= c->end || !is_digit(*c->p))
      return -1;
    while (c->p < c->end && is_digit(*c->p))
      c->p++;
  }
  if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
    c->p++;
    if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
      c->p++;
    if (c->p >= c->end || !is_digit(*c->p))
      return -1;
    while (c->p < c->end && is_digit(*c->p))
      c->p++;
  }
  return 0;
}

static int word(cur_t *c, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
    return -1;
  c->p += n;
  return 0;
}

static int value(cur_t *c, int depth);

static int container(cur_t *c, int depth, char close, int object) {
  c->p++; /* the opening bracket */
  ws(c);
  if (c->p < c->end && *c->p == close) {
    c->p++;
    return 0;
  }
  for (;;) {
    if (object) {
      if (string_(c) < 0)
        return -1;
      ws(c);
      if (c->p >= c->end || *c->p != ':')
        return -1;
      c->p++;
    }
    if (value(c, depth + 1) < 0)
      return -1;
    if (c->p >= c->end)
      return -1;
    if (*c->p == close) {
      c->p++;
      return 0;
    }
    if (*c->p != ',')
      return -1;
    c->p++;
    ws(c);
  }
}

/* A value with the blanks around it. */
static int value(cur_t *c, int depth) {
  int r;
  if (depth > NM_JSON_DEPTH_MAX)
    return -1;
  ws(c);
  if (c->p >= c->end)
    return -1;
  switch (*c->p) {
  case '{':
    r = container(c, depth, '}', 1);
    break;
  case '[':
    r = container(c, depth, ']', 0);
    break;
  case '"':
    r = string_(c);
    break;
  case 't':
    r = word(c, "true");
    break;
  case 'f':
    r = word(c, "false");
    break;
  case 'n':
    r = word(c, "null");
    break;
  default:
    r = number_(c);
    break;
  }
  ws(c);
  return r;
}

int nm__json_valid(nm_slice_t j) {
  cur_t c = {j.p, j.p + j.n};
  if (j.n == 0 || value(&c, 0) < 0)
    return 0;
  return c.p == c.end;
}

int nm__json_member_raw(nm_slice_t j, size_t index, nm_slice_t *raw) {
  cur_t c = {j.p, j.p + j.n};
  size_t i = 0;
  ws(&c);
  if (c.p >= c.end || *c.p != '{')
    return -1;
  c.p++;
  for (;;) {
    const char *start;
    ws(&c);
    if (string_(&c) < 0)
      return -1;
    ws(&c);
    if (c.p >= c.end || *c.p != ':')
      return -1;
    c.p++;
    ws(&c);
    start = c.p;
    if (value(&c, 1) < 0)
      return -1;
    if (i == index) {
      const char *e = c.p;
      while (e > start &&
             (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        e--;
      raw->p = start;
      raw->n = (size_t)(e - start);
      return 0;
    }
    i++;
    if (c.p >= c.end || *c.p != ',')
      return -1;
    c.p++;
  }
}

static unsigned hex4(const char *p) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char ch = p[i];
    v = v * 16 + (unsigned)(ch <= '9'   ? ch - '0'
                            : ch <= 'F' ? ch - 'A' + 10
                                        : ch - 'a' + 10);
  }
  return v;
}

/* The code of the \uXXXX escape at p (p < end), or -1 when there is none. */
static long escape_at(const char *p, const char *end) {
  if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
    return -1;
  return (long)hex4(p + 2);
}

char *nm__json_mend_surrogates(nm_slice_t j) {
  char *out = malloc(j.n + 1), *p, *end;
  if (!out)
    return NULL;
  memcpy(out, j.p, j.n);
  out[j.n] = '\0';
  end = out + j.n;
  for (p = out; p < end; p++) {
    long u, lo;
    if (*p != '\\')
      continue;
    if ((u = escape_at(p, end)) < 0) {
      p++; /* a two-character escape: skip its second character */
      continue;
    }
    lo = end - p >= 12 ? escape_at(p + 6, end) : -1;
    if (u >= 0xD800 && u <= 0xDBFF && lo >= 0xDC00 && lo <= 0xDFFF) {
      p += 11; /* a valid pair */
      continue;
    }
    if (u >= 0xD800 && u <= 0xDFFF)
      memcpy(p + 2, "fffd", 4);
    p += 5;
  }
  return out;
}
