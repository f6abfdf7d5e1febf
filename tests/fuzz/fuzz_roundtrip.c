/* libFuzzer target: encoder -> parser round trip. The input is cut into
 * fields (subject, reply, queue, sid, payload, header length); each
 * encoder's frame is parsed back, whole and in two pieces, and must give
 * back exactly the fields that went in. Tokens are made wire-safe first (no
 * SP, TAB, CR or LF, never empty), as every caller of the encoders must. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_encode.h"

/* Token length limit, so that a frame stays under the control-line limit. */
#define FZ_TOKEN_MAX 64

typedef struct {
  nm_frame_t want; /* op and the fields expected back */
  int frames;
  int ok;
} fz_expect_t;

static int same(nm_slice_t a, nm_slice_t b) {
  return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static int expect_cb(nm_parser_t *p, const nm_frame_t *f) {
  fz_expect_t *e = p->data;
  const nm_frame_t *w = &e->want;

  e->frames++;
  e->ok = f->op == w->op && same(f->subject, w->subject) &&
          same(f->reply, w->reply) && same(f->queue, w->queue) &&
          same(f->sid, w->sid) && same(f->payload, w->payload) &&
          f->hdr_len == w->hdr_len;
  return 0;
}

/* Takes a length byte, then up to that many bytes, as a wire-safe token. */
static nm_slice_t token(const uint8_t **in, size_t *n, size_t max, char *buf) {
  size_t want = 0, take, i;
  nm_slice_t s;

  if (*n > 0) {
    want = (size_t)(**in % (max + 1));
    (*in)++;
    (*n)--;
  }
  take = want < *n ? want : *n;
  for (i = 0; i < take; i++) {
    char c = (char)(*in)[i];
    buf[i] = (c == ' ' || c == '\t' || c == '\r' || c == '\n') ? '_' : c;
  }
  *in += take;
  *n -= take;
  if (take == 0)
    buf[take++] = 'x';
  s.p = buf;
  s.n = take;
  return s;
}

static void check(nm_parse_mode_t mode, const nm_buf_t *b,
                  const nm_frame_t *want, size_t cut) {
  int pass;

  for (pass = 0; pass < 2; pass++) {
    fz_expect_t e;
    nm_parser_t p;
    size_t at = pass ? cut % (b->len + 1) : b->len;

    memset(&e, 0, sizeof(e));
    e.want = *want;
    nm_parser_init(&p, mode, expect_cb, &e);
    nm_parser_set_limits(&p, NM_PARSER_SCRATCH_MAX, -1);
    nm_parser_set_flags(&p, NM_PARSER_HEADERS);
    if (nm_parser_feed(&p, b->base, at) != (ssize_t)at ||
        nm_parser_feed(&p, b->base + at, b->len - at) !=
            (ssize_t)(b->len - at)) {
      fprintf(stderr, "round trip %s: %s\n", nm_op_name(want->op),
              nm_parser_errmsg(&p));
      abort();
    }
    nm_parser_free(&p);
    if (e.frames != 1 || !e.ok) {
      fprintf(stderr, "round trip %s: %d frames, fields %s\n",
              nm_op_name(want->op), e.frames, e.ok ? "ok" : "differ");
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char sb[FZ_TOKEN_MAX + 1], rb[FZ_TOKEN_MAX + 1], qb[FZ_TOKEN_MAX + 1],
      ib[FZ_TOKEN_MAX + 1];
  nm_slice_t subject, reply, queue, sid, payload, none = {NULL, 0};
  nm_frame_t w;
  size_t cut;
  int with_reply;
  nm_buf_t b;

  if (size < 2)
    return 0;
  cut = data[0];
  with_reply = data[1] & 1;
  data += 2;
  size -= 2;
  subject = token(&data, &size, FZ_TOKEN_MAX, sb);
  reply = with_reply ? token(&data, &size, FZ_TOKEN_MAX, rb) : none;
  queue = token(&data, &size, FZ_TOKEN_MAX, qb);
  sid = token(&data, &size, 12, ib);
  payload.p = (const char *)data; /* the rest: any bytes */
  payload.n = size;

  nm_buf_init(&b, 0);
  memset(&w, 0, sizeof(w));
  w.subject = subject;
  w.reply = reply;
  w.payload = payload;

  w.op = NM_OP_PUB;
  if (nm_encode_pub(&b, subject, reply, payload) != 0)
    abort();
  check(NM_PARSE_CLIENT_OPS, &b, &w, cut);

  nm_buf_clear(&b);
  w.op = NM_OP_HPUB;
  w.hdr_len = payload.n ? cut % (payload.n + 1) : 0;
  if (nm_encode_hpub(&b, subject, reply, w.hdr_len, payload) != 0)
    abort();
  check(NM_PARSE_CLIENT_OPS, &b, &w, cut);

  nm_buf_clear(&b);
  w.op = NM_OP_HMSG;
  w.sid = sid;
  if (nm_encode_hmsg(&b, subject, sid, reply, w.hdr_len, payload) != 0)
    abort();
  check(NM_PARSE_SERVER_OPS, &b, &w, cut);

  nm_buf_clear(&b);
  w.op = NM_OP_MSG;
  w.hdr_len = 0;
  if (nm_encode_msg(&b, subject, sid, reply, payload) != 0)
    abort();
  check(NM_PARSE_SERVER_OPS, &b, &w, cut);

  nm_buf_clear(&b);
  memset(&w, 0, sizeof(w));
  w.op = NM_OP_SUB;
  w.subject = subject;
  w.queue = with_reply ? queue : none;
  w.sid = sid;
  if (nm_encode_sub(&b, subject, w.queue, sid) != 0)
    abort();
  check(NM_PARSE_CLIENT_OPS, &b, &w, cut);
  nm_buf_free(&b);
  return 0;
}
