/* Building a frame from a complete control line: argument splitting, sizes
 * and the argument checks, in nats-server 2.9.10's order (processPub,
 * processHeaderPub, parseSub, processUnsub). No I/O, no allocation. */
#include <string.h>

#include "nm_parser_int.h"

/* At most this many arguments are kept; one more is only counted. */
#define NM__MAX_ARGS 6

static const nm_slice_t kNoSlice = {NULL, 0};

static inline int is_blank(char c) {
  return c == ' ' || c == '\t';
}

/* Splits on SP/TAB (PUB, HPUB as processPub does) or also on CR/LF (SUB,
 * UNSUB, MSG, HMSG as splitArg does). Returns the argument count, which may
 * exceed NM__MAX_ARGS (the extra ones are only counted). */
static int split_args(const char *s, size_t n, int crlf, nm_slice_t *out) {
  int count = 0;
  size_t i = 0, start;

  for (;;) {
    while (i < n &&
           (is_blank(s[i]) || (crlf && (s[i] == '\r' || s[i] == '\n'))))
      i++;
    if (i >= n)
      break;
    start = i;
    while (i < n && !is_blank(s[i]) &&
           !(crlf && (s[i] == '\r' || s[i] == '\n')))
      i++;
    if (count < NM__MAX_ARGS) {
      out[count].p = s + start;
      out[count].n = i - start;
    }
    count++;
  }
  return count;
}

int64_t nm_parse_size(nm_slice_t s) {
  int64_t v = 0;
  size_t i;

  /* 2.9.10's parseSize: 1..9 digits (maxParseSizeLen), so no overflow. */
  if (s.p == NULL || s.n == 0 || s.n > 9)
    return -1;
  for (i = 0; i < s.n; i++) {
    unsigned char c = (unsigned char)s.p[i];
    if (c < '0' || c > '9')
      return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

static nm_perr_t check_payload_size(const nm_parser_t *p, int64_t size) {
  /* -1 is no limit (nats-server's jwt.NoLimit); below it every size is
   * over, as nats-server compares int64(size) > int64(max_payload). */
  if (p->max_payload != -1) {
    if (size > p->max_payload)
      return NM_PERR_MAX_PAYLOAD;
  } else if (size > NM_PARSER_HARD_MAX_PAYLOAD) {
    return NM_PERR_MAX_PAYLOAD;
  }
  return NM_PERR_NONE;
}

/* The payload ops share one argument shape: subject, [sid] (MSG, HMSG),
 * [reply], [hdr_len] (HPUB, HMSG), size. `c` arguments were split into `a`.
 * Sizes are kept as sent (MSG repeats the publisher's text) and parsed as
 * nats-server's parseSize does; a bad count or size is a silent close. */
static nm_perr_t payload_args(nm_frame_t *f, const nm_slice_t *a, int c,
                              int has_sid, int has_hdr, int64_t *hdr,
                              int64_t *size) {
  int fixed = 2 + has_sid + has_hdr; /* subject, [sid], [hdr_len], size */
  if (c != fixed && c != fixed + 1)
    return NM_PERR_BAD_ARGS;
  f->subject = a[0];
  if (has_sid)
    f->sid = a[1];
  if (c == fixed + 1)
    f->reply = a[1 + has_sid];
  f->size_text = a[c - 1];
  *size = nm_parse_size(a[c - 1]);
  if (has_hdr) {
    f->hdr_text = a[c - 2];
    *hdr = nm_parse_size(a[c - 2]);
    if (*hdr < 0 || *hdr > *size)
      return NM_PERR_BAD_ARGS;
  }
  return *size < 0 ? NM_PERR_BAD_ARGS : NM_PERR_NONE;
}

/* Fills p->frame from a complete control line: `line` holds `n` bytes (no
 * LF), the argument part starts at `arg_off` and is `arg_n` bytes long (a
 * dropped CR already excluded). Checks in processPub/processHeaderPub/
 * parseSub/processUnsub order. Sets p->payload_size for payload ops. */
nm_perr_t nm__parser_build_frame(nm_parser_t *p, const char *line, size_t n,
                                 size_t arg_off, size_t arg_n) {
  nm_frame_t *f = &p->frame;
  nm_slice_t a[NM__MAX_ARGS];
  const char *arg = line + arg_off;
  int64_t size = 0, hdr = 0;
  nm_perr_t e;
  int c;

  nm__frame_clear_args(f);
  f->subject = kNoSlice;
  f->reply = kNoSlice;
  f->payload = kNoSlice;
  f->size_text = kNoSlice;
  f->hdr_len = 0;
  f->op = p->op;
  /* The line without its terminator; a CR right before the LF is part of
   * the terminator. PING/PONG/+OK lines are cut at NM_PARSER_BARE_LINE_MAX
   * so that a split one (kept in bounded scratch) reads the same. */
  if (p->op == NM_OP_PING || p->op == NM_OP_PONG || p->op == NM_OP_OK) {
    if (n > NM_PARSER_BARE_LINE_MAX)
      n = NM_PARSER_BARE_LINE_MAX;
  }
  if (n > 0 && line[n - 1] == '\r')
    n--;
  f->line.p = line;
  f->line.n = n;
  p->payload_size = 0;

  switch (p->op) {
  case NM_OP_PUB:
    c = split_args(arg, arg_n, 0, a);
    e = payload_args(f, a, c, 0, 0, &hdr, &size);
    if (e != NM_PERR_NONE)
      return e;
    break;
  case NM_OP_HPUB:
    /* processHeaderPub refuses before it looks at the arguments. */
    if (!(p->flags & NM_PARSER_HEADERS))
      return NM_PERR_HEADERS_OFF;
    c = split_args(arg, arg_n, 0, a);
    e = payload_args(f, a, c, 0, 1, &hdr, &size);
    if (e != NM_PERR_NONE)
      return e;
    break;
  case NM_OP_MSG:
    c = split_args(arg, arg_n, 1, a);
    e = payload_args(f, a, c, 1, 0, &hdr, &size);
    if (e != NM_PERR_NONE)
      return e;
    break;
  case NM_OP_HMSG:
    if (p->mode == NM_PARSE_CLIENT_OPS) {
      /* A client's HMSG: 2.9.10 parses no argument and expects an empty
       * payload (its pending size is always 0 between messages). */
      f->payload.p = line;
      return NM_PERR_NONE;
    }
    c = split_args(arg, arg_n, 1, a);
    e = payload_args(f, a, c, 1, 1, &hdr, &size);
    if (e != NM_PERR_NONE)
      return e;
    break;
  case NM_OP_SUB:
    c = split_args(arg, arg_n, 1, a);
    if (c != 2 && c != 3)
      return NM_PERR_BAD_ARGS;
    f->subject = a[0];
    if (c == 3)
      f->queue = a[1];
    f->sid = a[c - 1];
    return NM_PERR_NONE;
  case NM_OP_UNSUB:
    c = split_args(arg, arg_n, 1, a);
    if (c != 1 && c != 2)
      return NM_PERR_BAD_ARGS;
    f->sid = a[0];
    if (c == 2)
      f->max = a[1];
    return NM_PERR_NONE;
  case NM_OP_CONNECT:
  case NM_OP_INFO:
    f->json.p = arg;
    f->json.n = arg_n;
    return NM_PERR_NONE;
  case NM_OP_ERR:
    f->text.p = arg;
    f->text.n = arg_n;
    return NM_PERR_NONE;
  default:
    return NM_PERR_NONE;
  }
  /* Payload ops: the size limit is checked on the control line, before any
   * payload byte is read (processPub order: count, size, then max). */
  e = check_payload_size(p, size);
  if (e != NM_PERR_NONE)
    return e;
  f->hdr_len = (size_t)hdr;
  p->payload_size = (size_t)size;
  return NM_PERR_NONE;
}
