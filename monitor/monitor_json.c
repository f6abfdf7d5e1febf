/* Go's encoding/json output and Go's time and duration strings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "go_duration.h"
#include "monitor_json.h"

void nm__jw_init(nm__jw_t *w, nm_buf_t *b, int indent) {
  memset(w, 0, sizeof(*w));
  w->b = b;
  w->indent = indent;
}

static void put(nm__jw_t *w, const char *p, size_t n) {
  if (!w->err && nm_buf_append(w->b, p, n) != 0)
    w->err = 1;
}

static void puts_(nm__jw_t *w, const char *s) {
  put(w, s, strlen(s));
}

static void newline(nm__jw_t *w) {
  if (!w->indent)
    return;
  put(w, "\n", 1);
  for (int i = 0; i < w->depth; i++)
    put(w, "  ", 2);
}

size_t nm__utf8_len(const unsigned char *p, const unsigned char *end) {
  unsigned char lo = 0x80, hi = 0xbf;
  size_t n;
  if (*p >= 0xc2 && *p <= 0xdf)
    n = 2;
  else if (*p >= 0xe0 && *p <= 0xef)
    n = 3;
  else if (*p >= 0xf0 && *p <= 0xf4)
    n = 4;
  else
    return 0;
  if (*p == 0xe0)
    lo = 0xa0;
  else if (*p == 0xed)
    hi = 0x9f;
  else if (*p == 0xf0)
    lo = 0x90;
  else if (*p == 0xf4)
    hi = 0x8f;
  if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t k = 2; k < n; k++)
    if (p[k] < 0x80 || p[k] > 0xbf)
      return 0;
  return n;
}

/* `decoded`: the string came out of a JSON document (a CONNECT), where
 * Go's decoder has already turned each invalid UTF-8 byte into U+FFFD, so
 * the encoder writes that character; otherwise (bytes from the wire, a
 * subject) Go's encoder writes each invalid byte as \ufffd. */
static void quoted_as(nm__jw_t *w, const char *s, size_t n, int decoded) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *end = (const unsigned char *)s + n;
  put(w, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; p < end; p++) {
    char esc[8];
    size_t len;
    switch (*p) {
    case '"':
      puts_(w, "\\\"");
      break;
    case '\\':
      puts_(w, "\\\\");
      break;
    case '\n':
      puts_(w, "\\n");
      break;
    case '\r':
      puts_(w, "\\r");
      break;
    case '\t':
      puts_(w, "\\t");
      break;
    default:
      /* Control characters, and HTML's <, > and & (Go's HTML-safe
       * default), as \u00XX; U+2028 and U+2029 as \u2028, \u2029 (Go does
       * so for JavaScript's sake). */
      if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&') {
        snprintf(esc, sizeof(esc), "\\u00%c%c", hex[*p >> 4], hex[*p & 15]);
        puts_(w, esc);
      } else if (*p < 0x80) {
        put(w, (const char *)p, 1);
      } else if ((len = nm__utf8_len(p, end)) == 0) {
        puts_(w, decoded ? "\xef\xbf\xbd" : "\\ufffd");
      } else {
        if (len == 3 && p[0] == 0xe2 && p[1] == 0x80 &&
            (p[2] == 0xa8 || p[2] == 0xa9))
          puts_(w, p[2] == 0xa8 ? "\\u2028" : "\\u2029");
        else
          put(w, (const char *)p, len);
        p += len - 1;
      }
    }
  }
  put(w, "\"", 1);
}

static void quoted(nm__jw_t *w, const char *s, size_t n) {
  quoted_as(w, s, n, 0);
}

/* The comma, new line and key before a value. */
static void member(nm__jw_t *w, const char *key) {
  if (w->depth > 0) {
    if (w->count[w->depth - 1]++ > 0)
      put(w, ",", 1);
    newline(w);
  }
  if (key) {
    quoted(w, key, strlen(key));
    puts_(w, w->indent ? ": " : ":");
  }
}

static void open_(nm__jw_t *w, const char *key, const char *c) {
  member(w, key);
  puts_(w, c);
  if (w->depth < NM_JW_MAX_DEPTH) {
    w->count[w->depth] = 0;
    w->depth++;
  } else {
    w->err = 1;
  }
}

static void close_(nm__jw_t *w, const char *c) {
  int had;
  if (w->depth == 0) {
    w->err = 1;
    return;
  }
  had = w->count[w->depth - 1] > 0;
  w->depth--;
  if (had)
    newline(w);
  puts_(w, c);
}

void nm__jw_obj(nm__jw_t *w, const char *key) {
  open_(w, key, "{");
}
void nm__jw_arr(nm__jw_t *w, const char *key) {
  open_(w, key, "[");
}
void nm__jw_end_obj(nm__jw_t *w) {
  close_(w, "}");
}
void nm__jw_end_arr(nm__jw_t *w) {
  close_(w, "]");
}

void nm__jw_str(nm__jw_t *w, const char *key, const char *v) {
  member(w, key);
  quoted(w, v ? v : "", v ? strlen(v) : 0);
}

void nm__jw_strn(nm__jw_t *w, const char *key, const char *v, size_t n) {
  member(w, key);
  quoted(w, v, n);
}

void nm__jw_decoded_str(nm__jw_t *w, const char *key, const char *v) {
  member(w, key);
  quoted_as(w, v ? v : "", v ? strlen(v) : 0, 1);
}

void nm__jw_int(nm__jw_t *w, const char *key, int64_t v) {
  char t[32];
  member(w, key);
  snprintf(t, sizeof(t), "%lld", (long long)v);
  puts_(w, t);
}

void nm__jw_uint(nm__jw_t *w, const char *key, uint64_t v) {
  char t[32];
  member(w, key);
  snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
  puts_(w, t);
}

void nm__jw_raw(nm__jw_t *w, const char *key, const char *v) {
  member(w, key);
  puts_(w, v);
}

void nm__jw_bool(nm__jw_t *w, const char *key, int v) {
  member(w, key);
  puts_(w, v ? "true" : "false");
}

/* Go's float64 encoding: the shortest digits that read back the same, in
 * plain notation unless the exponent is below -6 or at least 21. */
void nm__jw_float(nm__jw_t *w, const char *key, double v) {
  char t[64];
  int p;
  member(w, key);
  if (!isfinite(v)) {
    puts_(w, "0");
    return;
  }
  for (p = 1; p <= 17; p++) {
    snprintf(t, sizeof(t), "%.*e", p - 1, v);
    if (strtod(t, NULL) == v)
      break;
  }
  {
    double a = fabs(v);
    if (a != 0 && (a < 1e-6 || a >= 1e21)) {
      /* Go: 1e-07 form (two-digit exponent at least). */
      char *e = strchr(t, 'e');
      char mant[40];
      int ex = atoi(e + 1);
      snprintf(mant, sizeof(mant), "%.*s", (int)(e - t), t);
      snprintf(t, sizeof(t), "%se%c%02d", mant, ex < 0 ? '-' : '+',
               ex < 0 ? -ex : ex);
    } else {
      int ex = a == 0 ? 0 : atoi(strchr(t, 'e') + 1);
      int dec = p - 1 - ex;
      snprintf(t, sizeof(t), "%.*f", dec > 0 ? dec : 0, v);
    }
  }
  puts_(w, t);
}

void nm__go_time(uint64_t wall_ns, char *out, size_t n) {
  time_t sec = (time_t)(wall_ns / 1000000000u);
  unsigned frac = (unsigned)(wall_ns % 1000000000u);
  struct tm tm;
  char f[16];
  size_t len;
  gmtime_r(&sec, &tm);
  len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
  f[0] = 0;
  if (frac) {
    int k;
    snprintf(f, sizeof(f), ".%09u", frac);
    for (k = (int)strlen(f) - 1; f[k] == '0'; k--)
      f[k] = 0;
  }
  snprintf(out + len, n > len ? n - len : 0, "%sZ", f);
}

void nm__go_uptime(uint64_t ns, char *out, size_t n) {
  uint64_t s = ns / 1000000000u, m = s / 60, h = m / 60, d = h / 24,
           y = d / 365;
  if (y > 0)
    snprintf(out, n, "%lluy%llud%lluh%llum%llus", (unsigned long long)y,
             (unsigned long long)(d % 365), (unsigned long long)(h % 24),
             (unsigned long long)(m % 60), (unsigned long long)(s % 60));
  else if (d > 0)
    snprintf(out, n, "%llud%lluh%llum%llus", (unsigned long long)d,
             (unsigned long long)(h % 24), (unsigned long long)(m % 60),
             (unsigned long long)(s % 60));
  else if (h > 0)
    snprintf(out, n, "%lluh%llum%llus", (unsigned long long)h,
             (unsigned long long)(m % 60), (unsigned long long)(s % 60));
  else if (m > 0)
    snprintf(out, n, "%llum%llus", (unsigned long long)m,
             (unsigned long long)(s % 60));
  else
    snprintf(out, n, "%llus", (unsigned long long)s);
}

void nm__go_rtt(int64_t ns, char *out, size_t n) {
  if (ns > 1000 && ns < 1000000)
    ns -= ns % 1000;
  nm_go_duration_string(ns, out, n);
}
