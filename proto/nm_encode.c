/* Frame encoders (see nm_encode.h). Each computes the frame's exact length,
 * reserves it once and writes it, so a frame is appended whole or not at all.
 * libc only. */
#include "nm_encode.h"

#include <string.h>

/* Decimal digits of a size_t (at most 20). */
#define NM__DEC_MAX 20

static size_t dec_len(unsigned long long v) {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    n++;
  }
  return n;
}

static char *put_dec(char *o, unsigned long long v) {
  char tmp[NM__DEC_MAX];
  size_t n = 0;

  do {
    tmp[n++] = (char)('0' + (v % 10));
    v /= 10;
  } while (v != 0);
  while (n > 0)
    *o++ = tmp[--n];
  return o;
}

static char *put(char *o, const void *p, size_t n) {
  if (n > 0)
    memcpy(o, p, n);
  return o + n;
}

static char *put_slice(char *o, nm_slice_t s) {
  return put(o, s.p, s.n);
}

/* Appends `total` bytes produced by the caller into the reserved space;
 * returns the write pointer or NULL (with *err set). */
static char *reserve(nm_buf_t *b, size_t total, int *err) {
  char *o;

  if (b->limit != 0 && (total > b->limit || b->len > b->limit - total)) {
    *err = NM_ETOOBIG;
    return NULL;
  }
  o = nm_buf_reserve(b, total);
  if (o == NULL)
    *err = NM_ENOMEM;
  return o;
}

nm_slice_t nm_slice_str(const char *s) {
  nm_slice_t r = {s, s ? strlen(s) : 0};
  return r;
}

/* "VERB json<tail>" for INFO ("INFO " json " \r\n") and CONNECT. */
static int encode_json_line(nm_buf_t *b, const char *verb, nm_slice_t json,
                            const char *tail) {
  size_t vl = strlen(verb), tl = strlen(tail);
  size_t total = vl + 1 + json.n + tl;
  int err = 0;
  char *o = reserve(b, total, &err);

  if (o == NULL)
    return err;
  o = put(o, verb, vl);
  *o++ = ' ';
  o = put_slice(o, json);
  put(o, tail, tl);
  nm_buf_commit(b, total);
  return 0;
}

int nm_encode_info(nm_buf_t *b, nm_slice_t json) {
  /* 2.9.10 joins "INFO", the JSON and "\r\n" with spaces. */
  return encode_json_line(b, "INFO", json, " \r\n");
}

int nm_encode_connect(nm_buf_t *b, nm_slice_t json) {
  return encode_json_line(b, "CONNECT", json, "\r\n");
}

/* The shared shape of MSG/HMSG/PUB/HPUB:
 *   VERB subj [sid] [reply] [hdr] size\r\n payload \r\n
 * `sid` is omitted when NULL (PUB, HPUB); `hdr` when has_hdr is 0. A
 * non-NULL hdr_text / size_text is written instead of the number. */
static int encode_payload_frame_t(nm_buf_t *b, const char *verb,
                                  nm_slice_t subject, const nm_slice_t *sid,
                                  nm_slice_t reply, int has_hdr, size_t hdr,
                                  const nm_slice_t *hdr_text,
                                  const nm_slice_t *size_text,
                                  nm_slice_t payload) {
  size_t vl = strlen(verb);
  size_t total = vl + 1 + subject.n;
  int err = 0;
  char *o;

  if (sid != NULL)
    total += 1 + sid->n;
  if (reply.n > 0)
    total += 1 + reply.n;
  if (has_hdr)
    total += 1 + (hdr_text ? hdr_text->n : dec_len(hdr));
  total += 1 + (size_text ? size_text->n : dec_len(payload.n));
  total += 2 + payload.n + 2;
  if ((o = reserve(b, total, &err)) == NULL)
    return err;
  o = put(o, verb, vl);
  *o++ = ' ';
  o = put_slice(o, subject);
  if (sid != NULL) {
    *o++ = ' ';
    o = put_slice(o, *sid);
  }
  if (reply.n > 0) {
    *o++ = ' ';
    o = put_slice(o, reply);
  }
  if (has_hdr) {
    *o++ = ' ';
    o = hdr_text ? put_slice(o, *hdr_text) : put_dec(o, hdr);
  }
  *o++ = ' ';
  o = size_text ? put_slice(o, *size_text) : put_dec(o, payload.n);
  o = put(o, "\r\n", 2);
  o = put_slice(o, payload);
  put(o, "\r\n", 2);
  nm_buf_commit(b, total);
  return 0;
}

static int encode_payload_frame(nm_buf_t *b, const char *verb,
                                nm_slice_t subject, const nm_slice_t *sid,
                                nm_slice_t reply, int has_hdr, size_t hdr,
                                nm_slice_t payload) {
  return encode_payload_frame_t(b, verb, subject, sid, reply, has_hdr, hdr,
                                NULL, NULL, payload);
}

int nm_encode_msg_sized(nm_buf_t *b, nm_slice_t subject, nm_slice_t sid,
                        nm_slice_t reply, nm_slice_t hdr_text,
                        nm_slice_t size_text, nm_slice_t payload) {
  int has_hdr = hdr_text.n > 0;
  return encode_payload_frame_t(b, has_hdr ? "HMSG" : "MSG", subject, &sid,
                                reply, has_hdr, 0, has_hdr ? &hdr_text : NULL,
                                size_text.n > 0 ? &size_text : NULL, payload);
}

int nm_encode_msg(nm_buf_t *b, nm_slice_t subject, nm_slice_t sid,
                  nm_slice_t reply, nm_slice_t payload) {
  return encode_payload_frame(b, "MSG", subject, &sid, reply, 0, 0, payload);
}

int nm_encode_hmsg(nm_buf_t *b, nm_slice_t subject, nm_slice_t sid,
                   nm_slice_t reply, size_t hdr_len, nm_slice_t payload) {
  if (hdr_len > payload.n)
    return NM_EINVAL;
  return encode_payload_frame(b, "HMSG", subject, &sid, reply, 1, hdr_len,
                              payload);
}

int nm_encode_pub(nm_buf_t *b, nm_slice_t subject, nm_slice_t reply,
                  nm_slice_t payload) {
  return encode_payload_frame(b, "PUB", subject, NULL, reply, 0, 0, payload);
}

int nm_encode_hpub(nm_buf_t *b, nm_slice_t subject, nm_slice_t reply,
                   size_t hdr_len, nm_slice_t payload) {
  if (hdr_len > payload.n)
    return NM_EINVAL;
  return encode_payload_frame(b, "HPUB", subject, NULL, reply, 1, hdr_len,
                              payload);
}

static int encode_const(nm_buf_t *b, const char *s) {
  size_t n = strlen(s);
  int err = 0;
  char *o = reserve(b, n, &err);

  if (o == NULL)
    return err;
  put(o, s, n);
  nm_buf_commit(b, n);
  return 0;
}

int nm_encode_ping(nm_buf_t *b) {
  return encode_const(b, "PING\r\n");
}

int nm_encode_pong(nm_buf_t *b) {
  return encode_const(b, "PONG\r\n");
}

int nm_encode_ok(nm_buf_t *b) {
  return encode_const(b, "+OK\r\n");
}

int nm_encode_err(nm_buf_t *b, const char *text) {
  size_t tl = text ? strlen(text) : 0;
  size_t total = 6 + tl + 3; /* "-ERR '" text "'\r\n" */
  int err = 0;
  char *o = reserve(b, total, &err);

  if (o == NULL)
    return err;
  o = put(o, "-ERR '", 6);
  o = put(o, text, tl);
  put(o, "'\r\n", 3);
  nm_buf_commit(b, total);
  return 0;
}

int nm_encode_sub(nm_buf_t *b, nm_slice_t subject, nm_slice_t queue,
                  nm_slice_t sid) {
  size_t total = 4 + subject.n + (queue.n ? 1 + queue.n : 0) + 1 + sid.n + 2;
  int err = 0;
  char *o = reserve(b, total, &err);

  if (o == NULL)
    return err;
  o = put(o, "SUB ", 4);
  o = put_slice(o, subject);
  if (queue.n > 0) {
    *o++ = ' ';
    o = put_slice(o, queue);
  }
  *o++ = ' ';
  o = put_slice(o, sid);
  put(o, "\r\n", 2);
  nm_buf_commit(b, total);
  return 0;
}

int nm_encode_unsub(nm_buf_t *b, nm_slice_t sid, long long max) {
  size_t total =
      6 + sid.n + (max >= 0 ? 1 + dec_len((unsigned long long)max) : 0) + 2;
  int err = 0;
  char *o = reserve(b, total, &err);

  if (o == NULL)
    return err;
  o = put(o, "UNSUB ", 6);
  o = put_slice(o, sid);
  if (max >= 0) {
    *o++ = ' ';
    o = put_dec(o, (unsigned long long)max);
  }
  put(o, "\r\n", 2);
  nm_buf_commit(b, total);
  return 0;
}
