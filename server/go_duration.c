#include "go_duration.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define BIG (UINT64_C(1) << 63)

/* Longest quoted text kept for a message (each byte may take 4). */
#define NM_GO_QUOTE_MAX 512

/* Go's time.quote of s[0..n): in double quotes, '"' and '\\' escaped with a
 * backslash, every byte of a control character or of a non-ASCII rune
 * (valid or not) as \xhh. Cut to fit out (size cap). */
static const char *go_quote(const char *s, size_t n, char *out, size_t cap) {
  static const char hex[] = "0123456789abcdef";
  size_t w = 0;
  out[w++] = '"';
  for (size_t i = 0; i < n && w + 6 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < ' ' || c >= 0x80) {
      out[w++] = '\\';
      out[w++] = 'x';
      out[w++] = hex[c >> 4];
      out[w++] = hex[c & 0xf];
    } else {
      if (c == '"' || c == '\\')
        out[w++] = '\\';
      out[w++] = (char)c;
    }
  }
  out[w++] = '"';
  out[w] = 0;
  return out;
}

static int invalid(const char *orig, char *err, size_t errlen) {
  char q[NM_GO_QUOTE_MAX];
  snprintf(err, errlen, "time: invalid duration %s",
           go_quote(orig, strlen(orig), q, sizeof(q)));
  return -1;
}

/* [0-9]* as Go's leadingInt: -1 on overflow. */
static int leading_int(const char **s, uint64_t *x) {
  *x = 0;
  for (; **s >= '0' && **s <= '9'; (*s)++) {
    if (*x > BIG / 10)
      return -1;
    *x = *x * 10 + (uint64_t)(**s - '0');
    if (*x > BIG)
      return -1;
  }
  return 0;
}

/* [0-9]* after '.', as Go's leadingFraction. */
static void leading_fraction(const char **s, uint64_t *x, double *scale) {
  int overflow = 0;
  *x = 0;
  *scale = 1;
  for (; **s >= '0' && **s <= '9'; (*s)++) {
    uint64_t y;
    if (overflow)
      continue;
    if (*x > (BIG - 1) / 10) {
      overflow = 1;
      continue;
    }
    y = *x * 10 + (uint64_t)(**s - '0');
    if (y > BIG) {
      overflow = 1;
      continue;
    }
    *x = y;
    *scale *= 10;
  }
}

static uint64_t unit_of(const char *u, size_t n) {
  static const struct {
    const char *name;
    uint64_t ns;
  } t[] = {{"ns", 1},
           {"us", 1000},
           {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
           {"\xce\xbcs", 1000}, /* U+03BC Greek mu */
           {"ms", 1000000},
           {"s", 1000000000},
           {"m", UINT64_C(60000000000)},
           {"h", UINT64_C(3600000000000)}};
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
    if (strlen(t[i].name) == n && !memcmp(t[i].name, u, n))
      return t[i].ns;
  return 0;
}

int nm_go_parse_duration(const char *orig, int64_t *out, char *err,
                         size_t errlen) {
  const char *s = orig;
  uint64_t d = 0;
  int neg = 0;
  if (*s == '-' || *s == '+')
    neg = *s++ == '-';
  if (!strcmp(s, "0")) {
    *out = 0;
    return 0;
  }
  if (*s == 0)
    return invalid(orig, err, errlen);
  while (*s) {
    uint64_t v, f = 0, unit;
    double scale = 1;
    const char *p0 = s, *u;
    int pre, post = 0;
    if (!(*s == '.' || (*s >= '0' && *s <= '9')))
      return invalid(orig, err, errlen);
    if (leading_int(&s, &v) < 0)
      return invalid(orig, err, errlen);
    pre = s != p0;
    if (*s == '.') {
      const char *p1 = ++s;
      leading_fraction(&s, &f, &scale);
      post = s != p1;
    }
    if (!pre && !post)
      return invalid(orig, err, errlen);
    u = s;
    while (*s && *s != '.' && !(*s >= '0' && *s <= '9'))
      s++;
    if (s == u) {
      char q[NM_GO_QUOTE_MAX];
      snprintf(err, errlen, "time: missing unit in duration %s",
               go_quote(orig, strlen(orig), q, sizeof(q)));
      return -1;
    }
    if ((unit = unit_of(u, (size_t)(s - u))) == 0) {
      char qu[NM_GO_QUOTE_MAX], qo[NM_GO_QUOTE_MAX];
      snprintf(err, errlen, "time: unknown unit %s in duration %s",
               go_quote(u, (size_t)(s - u), qu, sizeof(qu)),
               go_quote(orig, strlen(orig), qo, sizeof(qo)));
      return -1;
    }
    if (v > BIG / unit)
      return invalid(orig, err, errlen);
    v *= unit;
    if (f > 0) {
      v += (uint64_t)((double)f * ((double)unit / scale));
      if (v > BIG)
        return invalid(orig, err, errlen);
    }
    d += v;
    if (d > BIG)
      return invalid(orig, err, errlen);
  }
  if (neg) {
    *out = (int64_t)(0 - d);
    return 0;
  }
  if (d > BIG - 1)
    return invalid(orig, err, errlen);
  *out = (int64_t)d;
  return 0;
}

/* Go's fmtFrac: the fraction of v (prec digits), trailing zeros dropped. */
static size_t fmt_frac(char *buf, size_t w, uint64_t *v, int prec) {
  int print = 0;
  for (int i = 0; i < prec; i++) {
    int digit = (int)(*v % 10);
    print = print || digit != 0;
    if (print)
      buf[--w] = (char)(digit + '0');
    *v /= 10;
  }
  if (print)
    buf[--w] = '.';
  return w;
}

static size_t fmt_int(char *buf, size_t w, uint64_t v) {
  if (v == 0) {
    buf[--w] = '0';
  } else {
    while (v > 0) {
      buf[--w] = (char)(v % 10 + '0');
      v /= 10;
    }
  }
  return w;
}

const char *nm_go_duration_string(int64_t d, char *out, size_t n) {
  char buf[32];
  size_t w = sizeof(buf);
  uint64_t u = (uint64_t)d;
  int neg = d < 0;
  if (neg)
    u = 0 - u;
  if (u < 1000000000) {
    int prec = 0;
    buf[--w] = 's';
    w--;
    if (u == 0) {
      snprintf(out, n, "0s");
      return out;
    } else if (u < 1000) {
      prec = 0;
      buf[w] = 'n';
    } else if (u < 1000000) {
      prec = 3;
      /* Go writes U+00B5 */
      w--;
      memcpy(buf + w, "\xc2\xb5", 2);
    } else {
      prec = 6;
      buf[w] = 'm';
    }
    w = fmt_frac(buf, w, &u, prec);
    w = fmt_int(buf, w, u);
  } else {
    buf[--w] = 's';
    w = fmt_frac(buf, w, &u, 9);
    w = fmt_int(buf, w, u % 60);
    u /= 60;
    if (u > 0) {
      buf[--w] = 'm';
      w = fmt_int(buf, w, u % 60);
      u /= 60;
      if (u > 0) {
        buf[--w] = 'h';
        w = fmt_int(buf, w, u);
      }
    }
  }
  if (neg)
    buf[--w] = '-';
  snprintf(out, n, "%.*s", (int)(sizeof(buf) - w), buf + w);
  return out;
}

const char *nm_go_strerror(int e, char *buf, size_t n) {
  snprintf(buf, n, "%s", strerror(e));
  if (buf[0])
    buf[0] = (char)tolower((unsigned char)buf[0]);
  return buf;
}
