/* The NATS protocol parser (see nm_parser.h for the contract).
 *
 * It mirrors nats-server 2.9.10's parser.go state machine in what it accepts
 * and rejects, but not in shape: a control line is found with memchr and
 * handed whole to line_done() (and nm_parser_frame.c), either straight from
 * the fed buffer (zero-copy) or from the scratch buffer when it was split
 * across feeds.
 * No I/O; the only allocations are the lazily grown scratch and payload
 * buffers, both bounded by the configured limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_parser_int.h"

/* How an op continues after its name. */
enum {
  K_BARE = 0,   /* PING PONG +OK: ignore the rest of the line */
  K_ARGS_BLANK, /* needs >= 1 SP/TAB, then arguments */
  K_ARGS_ANY,   /* CONNECT INFO: blanks optional */
};

typedef struct {
  char name[8];
  unsigned char len;
  unsigned char kind;
  nm_op_t op;
} op_def;

/* Order matters only for the masks below; no name is a prefix of another. */
static const op_def kClientOps[] = {
    {"CONNECT", 7, K_ARGS_ANY, NM_OP_CONNECT},
    {"PUB", 3, K_ARGS_BLANK, NM_OP_PUB},
    {"HPUB", 4, K_ARGS_BLANK, NM_OP_HPUB},
    {"SUB", 3, K_ARGS_BLANK, NM_OP_SUB},
    {"UNSUB", 5, K_ARGS_BLANK, NM_OP_UNSUB},
    {"PING", 4, K_BARE, NM_OP_PING},
    {"PONG", 4, K_BARE, NM_OP_PONG},
    {"INFO", 4, K_ARGS_ANY, NM_OP_INFO},
    {"+OK", 3, K_BARE, NM_OP_OK},
    {"-ERR", 4, K_ARGS_BLANK, NM_OP_ERR},
    /* 2.9.10 lexes HMSG for every connection kind (see nm_parser.h). */
    {"HMSG", 4, K_ARGS_BLANK, NM_OP_HMSG},
};
static const op_def kServerOps[] = {
    {"INFO", 4, K_ARGS_ANY, NM_OP_INFO},   {"MSG", 3, K_ARGS_BLANK, NM_OP_MSG},
    {"HMSG", 4, K_ARGS_BLANK, NM_OP_HMSG}, {"PING", 4, K_BARE, NM_OP_PING},
    {"PONG", 4, K_BARE, NM_OP_PONG},       {"+OK", 3, K_BARE, NM_OP_OK},
    {"-ERR", 4, K_ARGS_BLANK, NM_OP_ERR},
};

#define NM__NOPS(t) (sizeof(t) / sizeof((t)[0]))
/* Smallest scratch and payload-buffer allocations. */
#define NM__SCRATCH_MIN 256
#define NM__PBUF_MIN 4096

static const nm_slice_t kNoSlice = {NULL, 0};

static const op_def *op_table(const nm_parser_t *p, unsigned *n) {
  if (p->mode == NM_PARSE_SERVER_OPS) {
    *n = NM__NOPS(kServerOps);
    return kServerOps;
  }
  *n = NM__NOPS(kClientOps);
  return kClientOps;
}

static inline unsigned char up(unsigned char c) {
  return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 32) : c;
}

static inline int is_blank(char c) {
  return c == ' ' || c == '\t';
}

/* ---- errors ------------------------------------------------------------ */

static const char *perr_text(nm_perr_t why) {
  switch (why) {
  case NM_PERR_NONE:
    return "none";
  case NM_PERR_UNKNOWN_OP:
    return "Unknown Protocol Operation";
  case NM_PERR_CONTROL_LINE:
    return "maximum control line exceeded";
  case NM_PERR_MAX_PAYLOAD:
    return "Maximum Payload Violation";
  case NM_PERR_BAD_ARGS:
    return "bad arguments";
  case NM_PERR_HEADERS_OFF:
    return "message headers not supported";
  case NM_PERR_AUTH:
    return "Authorization Violation";
  case NM_PERR_CALLBACK:
    return "stopped by the frame callback";
  }
  return "?";
}

static int perr_code(nm_perr_t why) {
  switch (why) {
  case NM_PERR_CONTROL_LINE:
  case NM_PERR_MAX_PAYLOAD:
    return NM_ETOOBIG;
  case NM_PERR_CALLBACK:
    return NM_ECALLBACK;
  default:
    return NM_EPROTO;
  }
}

/* Records a sticky error; `at` (may be NULL) points at the offending input so
 * that the message carries a printable snippet of it. */
static int fail(nm_parser_t *p, nm_perr_t why, int err, const char *at,
                size_t avail) {
  char snip[40];
  size_t i, o = 0;

  p->why = why;
  p->err = err ? err : perr_code(why);
  for (i = 0; at && i < avail && o + 5 < sizeof(snip); i++) {
    unsigned char c = (unsigned char)at[i];
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      snip[o++] = (char)c;
    } else {
      o += (size_t)snprintf(snip + o, sizeof(snip) - o, "\\x%02x", c);
    }
  }
  snip[o] = '\0';
  snprintf(p->errmsg, sizeof(p->errmsg), "%s (state %d): proto=\"%s\"",
           perr_text(why), p->state, snip);
  return p->err;
}

/* ---- buffers ----------------------------------------------------------- */

static int scratch_reserve(nm_parser_t *p, size_t extra) {
  size_t need = p->line_len + extra, cap;
  char *n;

  if (need <= p->scratch_cap)
    return 0;
  cap = p->scratch_cap ? p->scratch_cap : NM__SCRATCH_MIN;
  while (cap < need)
    cap *= 2;
  n = realloc(p->scratch, cap);
  if (n == NULL)
    return NM_ENOMEM;
  p->scratch = n;
  p->scratch_cap = cap;
  return 0;
}

static int scratch_put(nm_parser_t *p, const char *s, size_t n) {
  if (n == 0)
    return 0;
  if (scratch_reserve(p, n) != 0)
    return NM_ENOMEM;
  memcpy(p->scratch + p->line_len, s, n);
  p->line_len += n;
  return 0;
}

static int is_payload_op(const nm_parser_t *p) {
  return p->op == NM_OP_PUB || p->op == NM_OP_HPUB || p->op == NM_OP_MSG ||
         p->op == NM_OP_HMSG;
}

void nm__parser_frame_reset(nm_parser_t *p) {
  p->state = ST_START;
  p->in_scratch = 0;
  p->in_pbuf = 0;
  p->line_len = 0;
  p->pbuf_len = 0;
  p->drop_cr = 0;
  p->arg_cut = 0;
  if (p->pbuf_cap > NM_PARSER_PBUF_KEEP) {
    free(p->pbuf);
    p->pbuf = NULL;
    p->pbuf_cap = 0;
  }
}

/* emit() result: the callback reset or freed the parser, or paused it; stop
 * at once. */
#define NM__STOPPED 1

/* Emits p->frame. Returns 0, NM__STOPPED or the sticky callback error.
 * Every path that emits (directly or through line_done) sets p->frame_end
 * first: the proxy recovers each frame's exact bytes from it
 * (test_proto_frame_end). */
static int emit(nm_parser_t *p) {
  unsigned gen = p->gen;
  int r;

  p->frames++;
  p->pause = 0;
  r = p->cb != NULL ? p->cb(p, &p->frame) : 0;
  if (p->gen != gen)
    return NM__STOPPED;
  nm__parser_frame_reset(p);
  if (r != 0)
    return fail(p, NM_PERR_CALLBACK, NM_ECALLBACK, NULL, 0);
  if (p->pause) {
    p->pause = 0;
    return NM__STOPPED;
  }
  return 0;
}

/* A control line is complete. Emits argument-only frames; payload ops move
 * to ST_PAYLOAD. Returns 0 or a sticky error. */
static int line_done(nm_parser_t *p, const char *line, size_t n, size_t arg_off,
                     size_t arg_n) {
  nm_perr_t e = nm__parser_build_frame(p, line, n, arg_off, arg_n);

  if (e != NM_PERR_NONE)
    return fail(p, e, 0, line, n);
  if (is_payload_op(p)) {
    p->state = ST_PAYLOAD;
    p->pbuf_len = 0;
    return 0;
  }
  return emit(p);
}

/* Copies a complete line (op name, at most NM_PARSER_BLANKS_KEEP blanks, the
 * raw argument part) into scratch, as a split line would be kept. */
static int line_compact(nm_parser_t *p, const char *line, size_t arg_off,
                        size_t raw_arg_n) {
  size_t blanks = arg_off - p->oplen, keep;
  int r;

  keep = blanks < NM_PARSER_BLANKS_KEEP ? blanks : NM_PARSER_BLANKS_KEEP;
  p->line_len = 0;
  if ((r = scratch_put(p, line, p->oplen + keep)) != 0 ||
      (r = scratch_put(p, line + arg_off, raw_arg_n)) != 0)
    return r;
  p->arg_start_len = p->oplen + keep;
  p->blanks_kept = keep;
  p->in_scratch = 1;
  return 0;
}

/* The payload does not fit in the fed buffer: the frame's argument slices
 * point into that buffer, so the line moves to scratch and the frame is
 * rebuilt from there. */
static int line_to_scratch(nm_parser_t *p, const char *line, size_t arg_off,
                           size_t raw_arg_n) {
  nm_perr_t e;
  int r;

  if ((r = line_compact(p, line, arg_off, raw_arg_n)) != 0)
    return r;
  e = nm__parser_build_frame(p, p->scratch, p->line_len, p->arg_start_len,
                             raw_arg_n - (p->drop_cr ? 1 : 0));
  /* The same bytes passed build_frame a moment ago. */
  return e == NM_PERR_NONE ? 0 : NM_EINVAL;
}

/* Grows pbuf to hold `need` payload bytes. It grows with the bytes that
 * actually arrive (doubling, capped at the declared size) rather than to the
 * declared size at once, so a short control line cannot make the parser
 * allocate max_payload by itself. */
static int pbuf_reserve(nm_parser_t *p, size_t need) {
  size_t cap;
  char *n;

  if (need <= p->pbuf_cap)
    return 0;
  cap = p->pbuf_cap * 2;
  if (cap < NM__PBUF_MIN)
    cap = NM__PBUF_MIN;
  if (cap < need)
    cap = need;
  if (cap > p->payload_size)
    cap = p->payload_size;
  n = realloc(p->pbuf, cap);
  if (n == NULL)
    return NM_ENOMEM;
  p->pbuf = n;
  p->pbuf_cap = cap;
  return 0;
}

/* The feed ends inside a control line that started in this buffer: copy what
 * the line holds so far into scratch (bounded as described in nm_parser.h). */
static int save_partial_line(nm_parser_t *p, const char *buf, size_t ls,
                             size_t as, size_t len) {
  size_t keep, blanks;
  int r;

  p->line_len = 0;
  switch (p->state) {
  case ST_OPNAME:
  case ST_NEED_BLANK:
    r = scratch_put(p, buf + ls, len - ls);
    break;
  case ST_BLANKS:
    blanks = len - ls - p->oplen;
    keep = blanks < NM_PARSER_BLANKS_KEEP ? blanks : NM_PARSER_BLANKS_KEEP;
    p->blanks_kept = keep;
    r = scratch_put(p, buf + ls, p->oplen + keep);
    break;
  case ST_ARG:
    blanks = as - ls - p->oplen;
    keep = blanks < NM_PARSER_BLANKS_KEEP ? blanks : NM_PARSER_BLANKS_KEEP;
    p->blanks_kept = keep;
    r = scratch_put(p, buf + ls, p->oplen + keep);
    if (r == 0) {
      p->arg_start_len = p->line_len;
      r = scratch_put(p, buf + as, len - as);
    }
    break;
  case ST_SKIP:
    keep = len - ls;
    if (keep > NM_PARSER_BARE_LINE_MAX)
      keep = NM_PARSER_BARE_LINE_MAX;
    r = scratch_put(p, buf + ls, keep);
    break;
  default:
    return 0;
  }
  if (r != 0)
    return r;
  p->in_scratch = 1;
  return 0;
}

/* ---- the feed loop ----------------------------------------------------- */

/* The op name is complete: go on as the op's kind says. */
static void op_found(nm_parser_t *p, const op_def *d) {
  p->op = d->op;
  p->state = d->kind == K_BARE         ? ST_SKIP
             : d->kind == K_ARGS_BLANK ? ST_NEED_BLANK
                                       : ST_BLANKS;
  p->blanks_kept = 0;
}

/* Matches one more op-name byte. Returns 0 or a perr. */
static nm_perr_t op_byte(nm_parser_t *p, unsigned char b) {
  unsigned n, i, mask = 0;
  const op_def *t = op_table(p, &n);
  unsigned char u = up(b);

  for (i = 0; i < n; i++) {
    if ((p->opmask & (1u << i)) && t[i].len > p->oplen &&
        (unsigned char)t[i].name[p->oplen] == u)
      mask |= 1u << i;
  }
  if (mask == 0)
    return NM_PERR_UNKNOWN_OP;
  p->opmask = mask;
  p->oplen++;
  for (i = 0; i < n; i++) {
    if ((mask & (1u << i)) && t[i].len == p->oplen) {
      op_found(p, &t[i]);
      break;
    }
  }
  return NM_PERR_NONE;
}

/* Maps a non-zero emit()/line_done() result to feed's return: an error as
 * is, NM__STOPPED as the `consumed` bytes taken so far. */
static ssize_t stopped(nm_parser_t *p, int r, size_t consumed) {
  if (r != NM__STOPPED)
    return r;
  p->bytes += consumed;
  return (ssize_t)consumed;
}

/* The fast path for an op name wholly inside the buffer: compares whole
 * names (folding case) instead of stepping the mask one byte at a time.
 * Names are prefix-free, so a full match is what op_byte would reach.
 * Returns 1 when it recognised the op (state and oplen set), else 0 and the
 * caller falls back to op_byte. */
static int op_fast(nm_parser_t *p, const char *s, size_t avail) {
  unsigned n, i, k;
  const op_def *t = op_table(p, &n);
  unsigned char c0 = up((unsigned char)s[0]);

  for (i = 0; i < n; i++) {
    if ((unsigned char)t[i].name[0] != c0 || t[i].len > avail)
      continue;
    for (k = 1; k < t[i].len; k++)
      if (up((unsigned char)s[k]) != (unsigned char)t[i].name[k])
        break;
    if (k < t[i].len)
      continue;
    p->oplen = t[i].len;
    p->opmask = 1u << i;
    op_found(p, &t[i]);
    return 1;
  }
  return 0;
}

/* The PUB fast path: "PUB subject [reply] size\r\n", the payload and its
 * CRLF wholly in the buffer, single spaces between the arguments, no TAB and
 * no other CR, every check passing. It fills the frame exactly as
 * nm__parser_build_frame would, without the general state machine. Anything
 * else (including every error) returns 0 and goes the general way, which
 * gives the same frame or the right error. On success *next is the offset
 * after the frame's CRLF and the frame is ready to emit. */
static int pub_fast(nm_parser_t *p, const char *buf, size_t len, size_t i,
                    size_t *next) {
  const char *s = buf + i, *lf, *q, *start, *pay;
  nm_slice_t a[3];
  nm_frame_t *f = &p->frame;
  int c = 0;
  int64_t size;

  if (len - i < 9 || s[1] != 'U' || s[2] != 'B' || s[3] != ' ' ||
      p->mode != NM_PARSE_CLIENT_OPS)
    return 0;
  lf = memchr(s + 4, '\n', len - i - 4);
  if (lf == NULL || lf[-1] != '\r' ||
      (int64_t)(lf - 1 - (s + 4)) > p->max_control_line)
    return 0;
  for (q = start = s + 4; q < lf - 1; q++) {
    if (*q == ' ') {
      if (q == start || c == 2)
        return 0;
      a[c].p = start;
      a[c++].n = (size_t)(q - start);
      start = q + 1;
    } else if (*q == '\t' || *q == '\r') {
      return 0;
    }
  }
  if (q == start || c == 0)
    return 0;
  a[c].p = start;
  a[c++].n = (size_t)(q - start);
  size = nm_parse_size(a[c - 1]);
  if (size < 0 ||
      size > (p->max_payload >= 0 ? p->max_payload
                                  : (int64_t)NM_PARSER_HARD_MAX_PAYLOAD))
    return 0;
  pay = lf + 1;
  if ((size_t)(buf + len - pay) < (size_t)size + 2 || pay[size] != '\r' ||
      pay[size + 1] != '\n')
    return 0;
  f->op = NM_OP_PUB;
  f->subject = a[0];
  f->reply = c == 3 ? a[1] : kNoSlice;
  nm__frame_clear_args(f);
  f->size_text = a[c - 1];
  f->hdr_len = 0;
  f->line.p = s;
  f->line.n = (size_t)(lf - 1 - s);
  f->payload.p = pay;
  f->payload.n = (size_t)size;
  p->op = NM_OP_PUB;
  p->oplen = 3;
  p->drop_cr = 1;
  p->payload_size = (size_t)size;
  p->state = ST_PAYLOAD;
  *next = (size_t)(pay + size + 2 - buf);
  return 1;
}

ssize_t nm_parser_feed(nm_parser_t *p, const char *buf, size_t len) {
  size_t i = 0;
  size_t ls = 0; /* line start in buf, while the line is not in scratch */
  size_t as = 0; /* argument start in buf, likewise */
  int r;

  if (p->err != 0)
    return p->err;
  if (buf == NULL && len > 0)
    return NM_EINVAL;

  while (i < len) {
    switch (p->state) {
    case ST_START: {
      unsigned char b = (unsigned char)buf[i];
      /* nats-server checks auth on the first byte of every op, before it
       * even looks at which op it is. */
      if ((p->flags & NM_PARSER_EXPECT_CONNECT) && b != 'C' && b != 'c')
        return fail(p, NM_PERR_AUTH, 0, buf + i, len - i);
      ls = i;
      p->in_scratch = 0;
      p->line_len = 0;
      p->oplen = 0;
      p->opmask = ~0u;
      p->drop_cr = 0;
      p->arg_cut = 0;
      if (b == 'P') {
        size_t next;
        if (pub_fast(p, buf, len, i, &next)) {
          p->frame_end = next;
          if ((r = emit(p)) != 0)
            return stopped(p, r, next);
          i = next;
          break;
        }
      }
      p->state = ST_OPNAME;
      if (op_fast(p, buf + i, len - i)) {
        i += p->oplen;
        break;
      }
    }
      /* fall through */
    case ST_OPNAME:
      while (i < len && p->state == ST_OPNAME) {
        if (op_byte(p, (unsigned char)buf[i]) != NM_PERR_NONE)
          return fail(p, NM_PERR_UNKNOWN_OP, 0, buf + i, len - i);
        if (p->in_scratch && (r = scratch_put(p, buf + i, 1)) != 0)
          return fail(p, NM_PERR_NONE, r, NULL, 0);
        i++;
      }
      break;
    case ST_NEED_BLANK:
      if (!is_blank(buf[i]))
        return fail(p, NM_PERR_UNKNOWN_OP, 0, buf + i, len - i);
      p->state = ST_BLANKS;
      /* fall through */
    case ST_BLANKS:
      while (i < len && is_blank(buf[i])) {
        if (p->in_scratch && p->blanks_kept < NM_PARSER_BLANKS_KEEP) {
          if ((r = scratch_put(p, buf + i, 1)) != 0)
            return fail(p, NM_PERR_NONE, r, NULL, 0);
          p->blanks_kept++;
        }
        i++;
      }
      if (i == len)
        break;
      /* The first non-blank byte starts the argument part and is taken as
       * is, even a CR or LF (nats-server's *_SPC states do the same): so
       * `CONNECT\r\n` has the argument "\r" and `PUB \n` does not end. */
      p->state = ST_ARG;
      p->drop_cr = 0;
      if (p->in_scratch) {
        p->arg_start_len = p->line_len;
        if ((r = scratch_put(p, buf + i, 1)) != 0)
          return fail(p, NM_PERR_NONE, r, NULL, 0);
      } else {
        as = i;
      }
      i++;
      /* fall through */
    case ST_ARG: {
      const char *lf = memchr(buf + i, '\n', len - i);
      size_t end = lf ? (size_t)(lf - buf) : len;
      size_t arg_n;

      /* nats-server drops one byte before the LF when it saw a CR anywhere
       * after the first argument byte (its `drop` flag). */
      if (!p->drop_cr && memchr(buf + i, '\r', end - i) != NULL)
        p->drop_cr = 1;
      if (!p->in_scratch) {
        arg_n = end - as - (size_t)p->drop_cr;
        if ((int64_t)arg_n > p->max_control_line)
          return fail(p, NM_PERR_CONTROL_LINE, 0, buf + as, len - as);
        if (lf == NULL) {
          i = len;
          break;
        }
        i = end + 1;
        p->frame_end = i;
        if (as - ls - p->oplen > NM_PARSER_BLANKS_KEEP) {
          /* Rare: more blanks than a split line keeps. Compact the line so
           * that frame.line reads the same however the input was split. */
          if ((r = line_compact(p, buf + ls, as - ls, end - as)) != 0)
            return fail(p, NM_PERR_NONE, r, NULL, 0);
          r = line_done(p, p->scratch, p->line_len, p->arg_start_len, arg_n);
        } else {
          r = line_done(p, buf + ls, end - ls, as - ls, arg_n);
        }
        if (r != 0)
          return stopped(p, r, i);
        if (p->state == ST_PAYLOAD) {
          /* Zero-copy when the payload and its CRLF are all here. */
          size_t sz = p->payload_size;
          if (len - i >= sz + 2) {
            if (buf[i + sz] != '\r')
              return fail(p, NM_PERR_UNKNOWN_OP, 0, buf + i + sz, len - i - sz);
            if (buf[i + sz + 1] != '\n')
              return fail(p, NM_PERR_UNKNOWN_OP, 0, buf + i + sz + 1,
                          len - i - sz - 1);
            p->frame.payload.p = buf + i;
            p->frame.payload.n = sz;
            i += sz + 2;
            p->frame_end = i;
            if ((r = emit(p)) != 0)
              return stopped(p, r, i);
          } else if (!p->in_scratch) {
            r = line_to_scratch(p, buf + ls, as - ls, end - as);
            if (r != 0)
              return fail(p, NM_PERR_NONE, r, NULL, 0);
          }
        }
      } else {
        /* The line is in scratch. After a cut (READ_SPLIT_ARGS) nats-server
         * appends the later pieces without their CRs and drops nothing
         * before the LF; otherwise one byte goes when a CR was seen. */
        size_t k, drop = p->arg_cut ? 0 : (size_t)p->drop_cr;
        if (p->arg_cut)
          for (k = i; k < end; k++)
            drop += buf[k] == '\r';
        arg_n = (p->line_len - p->arg_start_len) + (end - i) - drop;
        if ((int64_t)arg_n > p->max_control_line)
          return fail(p, NM_PERR_CONTROL_LINE, 0, p->scratch + p->arg_start_len,
                      p->line_len - p->arg_start_len);
        if (p->arg_cut) {
          for (k = i; k < end; k++)
            if (buf[k] != '\r' && (r = scratch_put(p, buf + k, 1)) != 0)
              return fail(p, NM_PERR_NONE, r, NULL, 0);
        } else if ((r = scratch_put(p, buf + i, end - i)) != 0) {
          return fail(p, NM_PERR_NONE, r, NULL, 0);
        }
        if (lf == NULL) {
          i = len;
          break;
        }
        i = end + 1;
        p->frame_end = i;
        if ((r = line_done(p, p->scratch, p->line_len, p->arg_start_len,
                           arg_n)) != 0)
          return stopped(p, r, i);
      }
      break;
    }
    case ST_SKIP: {
      const char *lf = memchr(buf + i, '\n', len - i);
      size_t end = lf ? (size_t)(lf - buf) : len;

      if (p->in_scratch && p->line_len < NM_PARSER_BARE_LINE_MAX) {
        size_t room = NM_PARSER_BARE_LINE_MAX - p->line_len;
        size_t n = end - i < room ? end - i : room;
        if ((r = scratch_put(p, buf + i, n)) != 0)
          return fail(p, NM_PERR_NONE, r, NULL, 0);
      }
      if (lf == NULL) {
        i = len;
        break;
      }
      i = end + 1;
      p->frame_end = i;
      if (p->in_scratch)
        r = line_done(p, p->scratch, p->line_len, p->line_len, 0);
      else
        r = line_done(p, buf + ls, end - ls, end - ls, 0);
      if (r != 0)
        return stopped(p, r, i);
      break;
    }
    case ST_PAYLOAD: {
      size_t want, n;

      if (!p->in_pbuf) {
        p->in_pbuf = 1;
        p->pbuf_len = 0;
      }
      want = p->payload_size - p->pbuf_len;
      n = len - i < want ? len - i : want;
      if (n > 0) {
        if ((r = pbuf_reserve(p, p->pbuf_len + n)) != 0)
          return fail(p, NM_PERR_NONE, r, NULL, 0);
        memcpy(p->pbuf + p->pbuf_len, buf + i, n);
      }
      p->pbuf_len += n;
      i += n;
      if (p->pbuf_len == p->payload_size)
        p->state = ST_END_R;
      break;
    }
    case ST_END_R:
      if (buf[i] != '\r')
        return fail(p, NM_PERR_UNKNOWN_OP, 0, buf + i, len - i);
      p->state = ST_END_N;
      i++;
      break;
    case ST_END_N:
      if (buf[i] != '\n')
        return fail(p, NM_PERR_UNKNOWN_OP, 0, buf + i, len - i);
      i++;
      p->frame_end = i;
      p->frame.payload.p = p->pbuf ? p->pbuf : p->frame.line.p;
      p->frame.payload.n = p->payload_size;
      if ((r = emit(p)) != 0)
        return stopped(p, r, i);
      break;
    default:
      return fail(p, NM_PERR_UNKNOWN_OP, 0, buf + i, len - i);
    }
  }

  if (!p->in_scratch &&
      (p->state == ST_OPNAME || p->state == ST_NEED_BLANK ||
       p->state == ST_BLANKS || p->state == ST_ARG || p->state == ST_SKIP)) {
    if ((r = save_partial_line(p, buf, ls, as, len)) != 0)
      return fail(p, NM_PERR_NONE, r, NULL, 0);
  }
  if (p->state == ST_ARG && (p->flags & NM_PARSER_READ_SPLIT_ARGS) &&
      !p->arg_cut) {
    /* The read ends inside the argument: nats-server keeps what it read of
     * it, less the last byte when a CR was among it (its `drop`). */
    if (p->drop_cr && p->line_len > p->arg_start_len)
      p->line_len--;
    p->arg_cut = 1;
  }
  p->bytes += len;
  return (ssize_t)len;
}
