/* JSON as Go's encoding/json writes it (json.MarshalIndent with "  ", or
 * json.Marshal): members in the order written, the same number forms, the
 * same string escapes (<, > and & as \u003c...), "{}" and "[]" when empty.
 * Times and durations as Go prints them. */
#ifndef NM_MONITOR_JSON_H
#define NM_MONITOR_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "nm_buf.h"

/* Nesting depth of a document. */
#define NM_JW_MAX_DEPTH 16

typedef struct {
  nm_buf_t *b;
  int indent; /* 1: MarshalIndent(v, "", "  "); 0: Marshal */
  int depth;
  int count[NM_JW_MAX_DEPTH]; /* members written at each level */
  int err;                    /* a write failed (the buffer's limit) */
} nm__jw_t;

void nm__jw_init(nm__jw_t *w, nm_buf_t *b, int indent);
/* key: the member name inside an object, NULL in an array or at the top. */
void nm__jw_obj(nm__jw_t *w, const char *key);
void nm__jw_arr(nm__jw_t *w, const char *key);
void nm__jw_end_obj(nm__jw_t *w);
void nm__jw_end_arr(nm__jw_t *w);
void nm__jw_str(nm__jw_t *w, const char *key, const char *v);
/* v[0..n), which need not end in a NUL. */
void nm__jw_strn(nm__jw_t *w, const char *key, const char *v, size_t n);
/* A string a client sent inside JSON (its CONNECT's name, lang, version,
 * user): invalid UTF-8 is written as the U+FFFD nats-server's JSON decoder
 * stored in its place (nm__jw_str and nm__jw_strn write Go's encoder's
 * \ufffd escape, as for a subject). */
void nm__jw_decoded_str(nm__jw_t *w, const char *key, const char *v);
void nm__jw_int(nm__jw_t *w, const char *key, int64_t v);
void nm__jw_uint(nm__jw_t *w, const char *key, uint64_t v);
void nm__jw_float(nm__jw_t *w, const char *key, double v);
void nm__jw_bool(nm__jw_t *w, const char *key, int v);
/* A value written as given (e.g. "null"). */
void nm__jw_raw(nm__jw_t *w, const char *key, const char *v);

/* The length of the valid UTF-8 sequence at p (before end), 0 when the
 * byte starts none: Go's utf8.DecodeRune rules (no overlong forms, no
 * surrogates, nothing past U+10FFFF). */
size_t nm__utf8_len(const unsigned char *p, const unsigned char *end);

/* time.Time in RFC 3339 with nanoseconds, UTC ("2026-12-04T14:15:04.2055Z",
 * trailing zeros of the fraction dropped), from wall-clock ns. */
void nm__go_time(uint64_t wall_ns, char *out, size_t n);
/* nats-server's uptime form: "4s", "1m2s", "3h0m1s", "2d1h0m0s", "1y...". */
void nm__go_uptime(uint64_t ns, char *out, size_t n);
/* nats-server's RTT form: Go's Duration.String, truncated to the
 * microsecond between 1 µs and 1 ms. */
void nm__go_rtt(int64_t ns, char *out, size_t n);

#endif
