/* The outbound buffer and publishing. c->out holds whole frames only; it is
 * handed to the socket in one write (uv_try_write first, the rest with one
 * uv_write), before the loop next waits for I/O or at once past
 * NMC_WRITE_THRESHOLD. At most one write is in flight per socket. */
#include <string.h>

#include "nm_encode.h"
#include "nm_subject.h"
#include "nmc_internal.h"

static void on_prepare(uv_prepare_t *h) {
  nmc_conn_t *c = h->data;
  uv_prepare_stop(h);
  c->prep_on = 0;
  nmc__out_write(c);
}

void nmc__out_kick(nmc_conn_t *c) {
  if (!nmc__connected(c) || c->out.len == 0)
    return;
  /* At once when NMC_WRITE_THRESHOLD more bytes came since the last try (not
   * on every publish: the socket may be full, and each try a syscall). */
  if (c->out.len - c->out_mark >= NMC_WRITE_THRESHOLD) {
    nmc__out_write(c);
  } else if (!c->prep_on) {
    uv_prepare_start(&c->prep, on_prepare);
    c->prep_on = 1;
  }
}

/* Frames in c->out are our own encoding (CRLF line ends), so a frame's size
 * follows from its parsed fields. */
static size_t frame_size(const nm_frame_t *f) {
  size_t n = f->line.n + 2;
  if (f->op == NM_OP_PUB || f->op == NM_OP_HPUB)
    n += f->payload.n + 2;
  return n;
}

typedef struct {
  size_t pos, want;
} scan_ctx_t;

static int scan_frame(nm_parser_t *p, const nm_frame_t *f) {
  scan_ctx_t *s = p->data;
  s->pos += frame_size(f);
  return s->pos >= s->want; /* stop at the first boundary at or past want */
}

/* The unsent bytes of c->out start at c->out_sent; the first c->out_cut of
 * them end a frame whose start was already sent. Returns the offset (from
 * the unsent start) of the first frame boundary at or after `want`. */
size_t nmc__out_boundary(nmc_conn_t *c, size_t want) {
  size_t unsent = c->out.len - c->out_sent;
  scan_ctx_t s = {c->out_cut, want};
  if (want <= c->out_cut)
    return c->out_cut;
  if (!c->scan_on) {
    if (nm_parser_init(&c->scan, NM_PARSE_CLIENT_OPS, scan_frame, NULL) < 0)
      return unsent; /* cannot tell: treat the rest as one frame */
    nm_parser_set_flags(&c->scan, NM_PARSER_HEADERS);
    nm_parser_set_limits(&c->scan, NM_PARSER_SCRATCH_MAX, -1);
    c->scan_on = 1;
  }
  c->scan.data = &s;
  nm_parser_reset(&c->scan);
  nm_parser_feed(&c->scan, c->out.base + c->out_sent + c->out_cut,
                 unsent - c->out_cut);
  return s.pos < want ? unsent : s.pos;
}

static void out_reset(nmc_conn_t *c) {
  nm_buf_clear(&c->out);
  c->out_sent = c->out_cut = c->out_mark = 0;
  nm_buf_shrink(&c->out, NMC_WRITE_THRESHOLD * 2);
}

void nmc__out_write(nmc_conn_t *c) {
  nmc_sock_t *k = c->sock;
  size_t unsent;
  uv_buf_t b;
  int n, r;

  if (!nmc__connected(c))
    return;
  unsent = c->out.len - c->out_sent;
  if (unsent == 0) {
    if (c->out.len)
      out_reset(c);
    return;
  }
  /* With a write in flight whose bytes are all in the kernel already (only
   * its callback is pending), more bytes can follow with uv_try_write without
   * reordering; otherwise they wait for the callback. */
  if (k->writing &&
      uv_stream_get_write_queue_size((uv_stream_t *)&k->tcp) != 0) {
    c->out_mark = c->out.len;
    return;
  }
  b = uv_buf_init(c->out.base + c->out_sent, (unsigned int)unsent);
  n = uv_try_write((uv_stream_t *)&k->tcp, &b, 1);
  if (n < 0 && n != UV_EAGAIN) {
    nmc__conn_lost(c, n, uv_strerror(n));
    return;
  }
  if (n < 0)
    n = 0;
  if ((size_t)n == unsent) {
    out_reset(c);
    return;
  }
  if (k->writing) {
    /* The rest stays in c->out, possibly starting inside a frame: remember
     * where the next whole frame starts, for the replay after a reconnect.
     * The sent bytes are skipped, not moved: c->out can be large. */
    if (n > 0) {
      size_t end = nmc__out_boundary(c, (size_t)n);
      c->out_cut = end - (size_t)n;
      c->out_sent += (size_t)n;
    }
    c->out_mark = c->out.len;
    return;
  }
  /* Everything left goes into the one write. */
  nm_buf_consume(&c->out, c->out_sent + (size_t)n);
  c->out_sent = c->out_cut = c->out_mark = 0;
  r = nmc__sock_write(k, &c->out);
  if (r < 0)
    nmc__conn_lost(c, r, uv_strerror(r));
}

/* Re-encodes the PUB/HPUB frames of c->out into a fresh buffer, dropping
 * PING, PONG, SUB and UNSUB: their meaning died with the connection (the
 * flushes were failed, subscriptions are resent). */
typedef struct {
  nm_buf_t keep;
  int err;
} keep_ctx_t;

static int keep_frame(nm_parser_t *p, const nm_frame_t *f) {
  keep_ctx_t *k = p->data;
  if (f->op == NM_OP_PUB)
    k->err = nm_encode_pub(&k->keep, f->subject, f->reply, f->payload);
  else if (f->op == NM_OP_HPUB)
    k->err =
        nm_encode_hpub(&k->keep, f->subject, f->reply, f->hdr_len, f->payload);
  return k->err;
}

void nmc__out_keep_pubs(nmc_conn_t *c) {
  nm_parser_t p;
  keep_ctx_t k = {.err = 0};

  if (c->out.len == 0)
    return;
  nm_buf_init(&k.keep, 0);
  /* Skip what was sent, and the out_cut bytes that end a frame whose start
   * went to the old socket: replaying them would send half a frame. */
  if (c->out_sent + c->out_cut < c->out.len &&
      nm_parser_init(&p, NM_PARSE_CLIENT_OPS, keep_frame, &k) == 0) {
    size_t from = c->out_sent + c->out_cut;
    nm_parser_set_flags(&p, NM_PARSER_HEADERS);
    nm_parser_set_limits(&p, NM_PARSER_SCRATCH_MAX, -1);
    nm_parser_feed(&p, c->out.base + from, c->out.len - from);
    nm_parser_free(&p);
  }
  c->out_sent = c->out_cut = c->out_mark = 0;
  nm_buf_free(&c->out);
  c->out = k.keep;
}

static int publish(nmc_conn_t *c, const char *subject, const char *reply,
                   const char *hdr, size_t hdr_len, const void *data,
                   size_t len) {
  nm_slice_t subj = nm_slice_str(subject), rep = nm_slice_str(reply);
  nm_slice_t payload;
  char *p;
  size_t total = hdr_len + len;
  int r;

  /* Whitespace would split the control line: checked here as well. */
  if (!subject || !nm_subject_valid(subj) || strpbrk(subject, " \t\r\n") ||
      (reply && reply[0] &&
       (!nm_subject_valid(rep) || strpbrk(reply, " \t\r\n"))))
    return NMC_EBADSUBJECT;
  if (c->closing || c->status == NMC_CLOSED)
    return NM_ECLOSED;
  if (c->status == NMC_DRAINING_PUBS)
    return NMC_EDRAINING;
  if (hdr && !c->srv_headers && c->ever_connected)
    return NMC_ENOTSUP;
  if (c->max_payload > 0 && (int64_t)total > c->max_payload)
    return NMC_EMAXPAYLOAD;
  if (!hdr) {
    payload.p = data;
    payload.n = len;
    r = nm_encode_pub(&c->out, subj, rep, payload);
  } else {
    /* The header block and body must be one contiguous payload. */
    nm_buf_t t;
    nm_buf_init(&t, 0);
    p = nm_buf_reserve(&t, total);
    if (!p)
      return NM_ENOMEM;
    memcpy(p, hdr, hdr_len);
    if (len)
      memcpy(p + hdr_len, data, len);
    nm_buf_commit(&t, total);
    payload.p = t.base;
    payload.n = total;
    r = nm_encode_hpub(&c->out, subj, rep, hdr_len, payload);
    nm_buf_free(&t);
  }
  if (r == NM_ETOOBIG)
    return NMC_EBUFFULL;
  if (r < 0)
    return r;
  nmc__out_kick(c);
  return 0;
}

int nmc_publish(nmc_conn_t *c, const char *subject, const char *reply,
                const void *data, size_t len) {
  return publish(c, subject, reply, NULL, 0, data, len);
}

int nmc_publish_hdr(nmc_conn_t *c, const char *subject, const char *reply,
                    const char *hdr, size_t hdr_len, const void *data,
                    size_t len) {
  if (!hdr || hdr_len < 12 || memcmp(hdr, "NATS/1.0", 8) != 0)
    return NM_EINVAL;
  return publish(c, subject, reply, hdr, hdr_len, data, len);
}
