/* The parser: split invariance (every cut point, every pair of cut points,
 * one byte at a time), limits at N-1/N/N+1, the malformed-input table, sticky
 * errors, reset, callbacks, zero-copy and bounded buffers. No I/O. */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_parser.h"
#include "test_parser_table.h"

/* ---- the recorder ------------------------------------------------------ */

#define REC_CAP (8 * 1024)

typedef struct {
  char log[REC_CAP];
  size_t n;
  int frames;
  int stop_at;         /* return non-zero on this frame (1-based); 0 never */
  int auth_on_connect; /* clear EXPECT_CONNECT on CONNECT */
  const char *last_payload_p;
} recorder_t;

static void rec_put(recorder_t *r, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n && r->n + 5 < REC_CAP; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\r') {
      memcpy(r->log + r->n, "\\r", 2);
      r->n += 2;
    } else if (c == '\n') {
      memcpy(r->log + r->n, "\\n", 2);
      r->n += 2;
    } else if (c < 0x20 || c >= 0x7f) {
      r->n += (size_t)snprintf(r->log + r->n, REC_CAP - r->n, "\\x%02x", c);
    } else {
      r->log[r->n++] = (char)c;
    }
  }
  r->log[r->n] = '\0';
}

static void rec_field(recorder_t *r, const char *key, nm_slice_t s) {
  if (s.n == 0)
    return;
  rec_put(r, "|", 1);
  rec_put(r, key, strlen(key));
  rec_put(r, "=", 1);
  rec_put(r, s.p, s.n);
}

/* Logs a frame as one line: OP|l=line|subj=|reply=|q=|sid=|max=|json=|
 * text=|hdr=|pl= (empty fields left out). A CONNECT whose JSON says
 * "headers":true turns headers on, as the server would. */
static int rec_cb(nm_parser_t *p, const nm_frame_t *f) {
  recorder_t *r = p->data;
  const char *op = nm_op_name(f->op);
  char num[32];

  r->frames++;
  rec_put(r, op, strlen(op));
  rec_field(r, "l", f->line);
  rec_field(r, "subj", f->subject);
  rec_field(r, "reply", f->reply);
  rec_field(r, "q", f->queue);
  rec_field(r, "sid", f->sid);
  rec_field(r, "max", f->max);
  rec_field(r, "json", f->json);
  rec_field(r, "text", f->text);
  if (f->hdr_len > 0) {
    snprintf(num, sizeof(num), "%zu", f->hdr_len);
    rec_field(r, "hdr", (nm_slice_t){num, strlen(num)});
  }
  rec_field(r, "pl", f->payload);
  if (r->n + 1 < REC_CAP) {
    r->log[r->n++] = '\n';
    r->log[r->n] = '\0';
  }
  r->last_payload_p = f->payload.p;
  if (f->op == NM_OP_CONNECT) {
    if (f->json.n >= 14 && memmem(f->json.p, f->json.n, "\"headers\":true", 14))
      nm_parser_set_flags(p, nm_parser_flags(p) | NM_PARSER_HEADERS);
    if (r->auth_on_connect)
      nm_parser_set_flags(p, nm_parser_flags(p) & ~NM_PARSER_EXPECT_CONNECT);
  }
  return r->stop_at != 0 && r->frames == r->stop_at;
}

static recorder_t *rec_new(void) {
  recorder_t *r = calloc(1, sizeof(*r));
  ck_assert_ptr_nonnull(r);
  return r;
}

/* Feeds `in` cut at the sorted points cuts[0..ncuts) and returns the parser's
 * final result (the last feed's return, or the first error). The log is in
 * r->log. */
static ssize_t feed_cuts(nm_parser_t *p, const char *in, size_t n,
                         const size_t *cuts, int ncuts) {
  size_t at = 0;
  ssize_t rv = 0;
  int k;

  for (k = 0; k <= ncuts; k++) {
    size_t end = k < ncuts ? cuts[k] : n;
    rv = nm_parser_feed(p, in + at, end - at);
    if (rv < 0)
      return rv;
    ck_assert_msg((size_t)rv == end - at, "feed consumed %zd of %zu", rv,
                  end - at);
    at = end;
  }
  return rv;
}

static ssize_t feed_bytewise(nm_parser_t *p, const char *in, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    ssize_t rv = nm_parser_feed(p, in + i, 1);
    if (rv < 0)
      return rv;
    ck_assert_int_eq(rv, 1);
  }
  return 0;
}

/* ---- the multi-op streams ---------------------------------------------- */

static const char kClientWire[] =
    "CONNECT {\"verbose\":false,\"headers\":true}\r\n"
    "sub foo  1\r\n"
    "SUB bar q 2\r\n"
    "UNSUB 1 \r\n"
    "UNSUB 2 5\r\n"
    "PUB foo 5\r\nhello\r\n"
    "pub foo reply 11\r\nhello\r\nPING\r\n"
    "HPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n"
    "hpub foo r 18 18\r\nNATS/1.0\r\nA: b\r\n\r\n\r\n"
    "PUB empty 0\r\n\r\n"
    "PUB\t tabs \t 2\r\n\r\n\r\n"
    "PING\r\n"
    "PONG\n"
    "ping junk\r\n"
    "+OK\r\n"
    "INFO {\"x\":1}\r\n"
    "CONNECT{}\n"
    "-ERR 'bye'\r\n";

static const char kClientLog[] =
    "CONNECT|l=CONNECT {\"verbose\":false,\"headers\":true}"
    "|json={\"verbose\":false,\"headers\":true}\n"
    "SUB|l=sub foo  1|subj=foo|sid=1\n"
    "SUB|l=SUB bar q 2|subj=bar|q=q|sid=2\n"
    "UNSUB|l=UNSUB 1 |sid=1\n"
    "UNSUB|l=UNSUB 2 5|sid=2|max=5\n"
    "PUB|l=PUB foo 5|subj=foo|pl=hello\n"
    "PUB|l=pub foo reply 11|subj=foo|reply=reply|pl=hello\\r\\nPING\n"
    "HPUB|l=HPUB foo 18 23|subj=foo|hdr=18|pl=NATS/1.0\\r\\nA: b\\r\\n\\r\\n"
    "hello\n"
    "HPUB|l=hpub foo r 18 18|subj=foo|reply=r|hdr=18"
    "|pl=NATS/1.0\\r\\nA: b\\r\\n\\r\\n\n"
    "PUB|l=PUB empty 0|subj=empty\n"
    "PUB|l=PUB\\x09 tabs \\x09 2|subj=tabs|pl=\\r\\n\n"
    "PING|l=PING\n"
    "PONG|l=PONG\n"
    "PING|l=ping junk\n"
    "+OK|l=+OK\n"
    "INFO|l=INFO {\"x\":1}|json={\"x\":1}\n"
    "CONNECT|l=CONNECT{}|json={}\n"
    "-ERR|l=-ERR 'bye'|text='bye'\n";

static const char kServerWire[] =
    "INFO {\"server_id\":\"x\",\"headers\":true} \r\n"
    "MSG foo 1 5\r\nhello\r\n"
    "msg foo 2 reply 11\r\nhello\r\nPING\r\n"
    "HMSG foo 3 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n"
    "HMSG _INBOX.x 4 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    "PING\r\n"
    "PONG\r\n"
    "+OK\r\n"
    "-ERR 'Stale Connection'\r\n"
    "MSG e 5 0\r\n\r\n";

static const char kServerLog[] =
    "INFO|l=INFO {\"server_id\":\"x\",\"headers\":true} "
    "|json={\"server_id\":\"x\",\"headers\":true} \n"
    "MSG|l=MSG foo 1 5|subj=foo|sid=1|pl=hello\n"
    "MSG|l=msg foo 2 reply 11|subj=foo|reply=reply|sid=2|pl=hello\\r\\nPING\n"
    "HMSG|l=HMSG foo 3 18 23|subj=foo|sid=3|hdr=18"
    "|pl=NATS/1.0\\r\\nA: b\\r\\n\\r\\nhello\n"
    "HMSG|l=HMSG _INBOX.x 4 16 16|subj=_INBOX.x|sid=4|hdr=16"
    "|pl=NATS/1.0 503\\r\\n\\r\\n\n"
    "PING|l=PING\n"
    "PONG|l=PONG\n"
    "+OK|l=+OK\n"
    "-ERR|l=-ERR 'Stale Connection'|text='Stale Connection'\n"
    "MSG|l=MSG e 5 0|subj=e|sid=5\n";

typedef struct {
  nm_parse_mode_t mode;
  const char *wire;
  size_t n;
  const char *log;
  int frames;
} stream_t;

static const stream_t kStreams[2] = {
    {NM_PARSE_CLIENT_OPS, kClientWire, sizeof(kClientWire) - 1, kClientLog, 18},
    {NM_PARSE_SERVER_OPS, kServerWire, sizeof(kServerWire) - 1, kServerLog, 10},
};

/* Runs stream `s` with the given cuts and checks the log. */
static void check_stream(const stream_t *s, const size_t *cuts, int ncuts) {
  recorder_t *r = rec_new();
  nm_parser_t p;
  ssize_t rv;

  ck_assert_int_eq(nm_parser_init(&p, s->mode, rec_cb, r), 0);
  rv = feed_cuts(&p, s->wire, s->n, cuts, ncuts);
  ck_assert_msg(rv >= 0, "cuts %zu/%zu: error %s", ncuts > 0 ? cuts[0] : 0,
                ncuts > 1 ? cuts[1] : 0, nm_parser_errmsg(&p));
  ck_assert_msg(strcmp(r->log, s->log) == 0, "cuts %zu/%zu: log\n%s\nwant\n%s",
                ncuts > 0 ? cuts[0] : 0, ncuts > 1 ? cuts[1] : 0, r->log,
                s->log);
  ck_assert_int_eq(r->frames, s->frames);
  ck_assert(!nm_parser_in_frame(&p));
  nm_parser_free(&p);
  free(r);
}

START_TEST(test_client_stream_whole) {
  check_stream(&kStreams[0], NULL, 0);
}
END_TEST

START_TEST(test_client_stream_any_split) {
  size_t cut = (size_t)_i;
  check_stream(&kStreams[0], &cut, 1);
}
END_TEST

START_TEST(test_server_stream_any_split) {
  size_t cut = (size_t)_i;
  check_stream(&kStreams[1], &cut, 1);
}
END_TEST

/* Short streams for every pair of cut points: they still hold a split CRLF
 * candidate at every position, HPUB/HMSG, and payloads with CRLF and PING. */
static const char kShortClient[] =
    "CONNECT {\"headers\":true}\r\nsub a 1\r\nPUB a 7\r\nx\r\nPING\r\n"
    "HPUB a 12 13\r\nNATS/1.0\r\n\r\nz\r\nPING\n";
static const char kShortClientLog[] =
    "CONNECT|l=CONNECT {\"headers\":true}|json={\"headers\":true}\n"
    "SUB|l=sub a 1|subj=a|sid=1\n"
    "PUB|l=PUB a 7|subj=a|pl=x\\r\\nPING\n"
    "HPUB|l=HPUB a 12 13|subj=a|hdr=12|pl=NATS/1.0\\r\\n\\r\\nz\n"
    "PING|l=PING\n";
static const char kShortServer[] =
    "INFO {} \r\nMSG a 1 7\r\nx\r\nPING\r\n"
    "HMSG a 1 r 12 13\r\nNATS/1.0\r\n\r\nz\r\n-ERR 'e'\n";
static const char kShortServerLog[] =
    "INFO|l=INFO {} |json={} \n"
    "MSG|l=MSG a 1 7|subj=a|sid=1|pl=x\\r\\nPING\n"
    "HMSG|l=HMSG a 1 r 12 13|subj=a|reply=r|sid=1|hdr=12"
    "|pl=NATS/1.0\\r\\n\\r\\nz\n"
    "-ERR|l=-ERR 'e'|text='e'\n";

static const stream_t kShortStreams[2] = {
    {NM_PARSE_CLIENT_OPS, kShortClient, sizeof(kShortClient) - 1,
     kShortClientLog, 5},
    {NM_PARSE_SERVER_OPS, kShortServer, sizeof(kShortServer) - 1,
     kShortServerLog, 4},
};

/* Every pair of cut points (i <= j), for both short streams. */
START_TEST(test_stream_every_pair) {
  const stream_t *s = &kShortStreams[_i];
  size_t i, j, cuts[2];

  for (i = 0; i <= s->n; i++) {
    for (j = i; j <= s->n; j++) {
      cuts[0] = i;
      cuts[1] = j;
      check_stream(s, cuts, 2);
    }
  }
}
END_TEST

START_TEST(test_stream_bytewise) {
  const stream_t *s = &kStreams[_i];
  recorder_t *r = rec_new();
  nm_parser_t p;

  ck_assert_int_eq(nm_parser_init(&p, s->mode, rec_cb, r), 0);
  ck_assert_int_eq(feed_bytewise(&p, s->wire, s->n), 0);
  ck_assert_str_eq(r->log, s->log);
  nm_parser_free(&p);
  free(r);
}
END_TEST

/* ---- the table --------------------------------------------------------- */

static int perr_is_toobig(nm_perr_t w) {
  return w == NM_PERR_CONTROL_LINE || w == NM_PERR_MAX_PAYLOAD;
}

/* Row _i, fed whole, at every cut point and one byte at a time. */
START_TEST(test_table_row) {
  const nm_tt_row_t *row = &nm_tt_rows[_i];
  static char gen[NM_TT_GEN_MAX];
  size_t n, cut;
  const char *in = nm_tt_input(row, gen, &n);

  for (cut = 0; cut <= n + 1; cut++) {
    recorder_t *r = rec_new();
    nm_parser_t p;
    ssize_t rv;

    ck_assert_int_eq(nm_parser_init(&p, row->mode, rec_cb, r), 0);
    nm_parser_set_limits(&p, NM_TT_MCL, NM_TT_MPAY);
    nm_parser_set_flags(&p, row->flags);
    if (cut <= n) {
      rv = feed_cuts(&p, in, n, &cut, 1);
    } else {
      rv = feed_bytewise(&p, in, n);
    }
    ck_assert_msg(nm_parser_error(&p) == row->want,
                  "row '%s' cut %zu: perr %d, want %d (%s)", row->name, cut,
                  nm_parser_error(&p), row->want, nm_parser_errmsg(&p));
    ck_assert_msg(r->frames == row->frames, "row '%s' cut %zu: %d frames",
                  row->name, cut, r->frames);
    if (row->want == NM_PERR_NONE) {
      ck_assert_msg(rv >= 0, "row '%s'", row->name);
      ck_assert_msg(!nm_parser_in_frame(&p), "row '%s' left mid-frame",
                    row->name);
    } else {
      ck_assert_int_eq(rv, perr_is_toobig(row->want) ? NM_ETOOBIG : NM_EPROTO);
      ck_assert_str_ne(nm_parser_errmsg(&p), "no error");
    }
    nm_parser_free(&p);
    free(r);
  }
}
END_TEST

START_TEST(test_table_size) {
  int i, bad = 0;
  for (i = 0; i < NM_TT_NROWS; i++)
    bad += nm_tt_rows[i].want != NM_PERR_NONE;
  ck_assert_int_ge(bad, 30);
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

/* "SUB " + an argument of exactly `arg` bytes ("<subject> 1"). */
static char *sub_line(size_t arg, size_t *n) {
  char *b = malloc(arg + 16);
  size_t o = 0;

  ck_assert_ptr_nonnull(b);
  memcpy(b, "SUB ", 4);
  o = 4;
  memset(b + o, 's', arg - 2);
  o += arg - 2;
  memcpy(b + o, " 1\r\n", 4);
  o += 4;
  *n = o;
  return b;
}

/* _i in {-1, 0, +1} around limit L, fed whole, split in the argument and
 * byte by byte: N-1 and N pass, N+1 is CONTROL_LINE. */
static void check_mcl(size_t limit, int delta) {
  size_t n, arg = limit + (size_t)(ssize_t)delta;
  char *line = sub_line(arg, &n);
  int how;

  for (how = 0; how < 3; how++) {
    recorder_t *r = rec_new();
    nm_parser_t p;
    size_t cut = n / 2;
    ssize_t rv;

    nm_parser_init(&p, NM_PARSE_CLIENT_OPS, rec_cb, r);
    if (limit != NM_DEFAULT_MAX_CONTROL_LINE)
      nm_parser_set_limits(&p, limit, NM_DEFAULT_MAX_PAYLOAD);
    if (how == 0)
      rv = nm_parser_feed(&p, line, n);
    else if (how == 1)
      rv = feed_cuts(&p, line, n, &cut, 1);
    else
      rv = feed_bytewise(&p, line, n);
    if (delta <= 0) {
      ck_assert_msg(rv >= 0 && r->frames == 1, "limit %zu arg %zu how %d: %s",
                    limit, arg, how, nm_parser_errmsg(&p));
    } else {
      ck_assert_int_eq(rv, NM_ETOOBIG);
      ck_assert_int_eq(nm_parser_error(&p), NM_PERR_CONTROL_LINE);
      ck_assert_int_eq(r->frames, 0);
    }
    nm_parser_free(&p);
    free(r);
  }
  free(line);
}

START_TEST(test_mcl_default) {
  check_mcl(NM_DEFAULT_MAX_CONTROL_LINE, _i - 1);
}
END_TEST

START_TEST(test_mcl_custom) {
  check_mcl(100, _i - 1);
}
END_TEST

/* The limit counts the argument part only: the op name, any number of
 * blanks before the arguments and the CR before LF are free. */
START_TEST(test_mcl_counts_args_only) {
  recorder_t *r = rec_new();
  nm_parser_t p;
  char in[400];
  size_t o;

  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, rec_cb, r);
  nm_parser_set_limits(&p, 10, 100);
  o = (size_t)sprintf(in, "CONNECT");
  memset(in + o, ' ', 300);
  o += 300;
  o += (size_t)sprintf(in + o, "0123456789\r\n");
  ck_assert_int_eq(feed_bytewise(&p, in, o), 0);
  ck_assert_int_eq(r->frames, 1);
  /* 11 argument bytes: over, even before the LF arrives. */
  ck_assert_int_eq(nm_parser_feed(&p, "SUB 0123456789A", 15), NM_ETOOBIG);
  ck_assert_int_eq(nm_parser_error(&p), NM_PERR_CONTROL_LINE);
  nm_parser_free(&p);
  free(r);
}
END_TEST

/* A limit above the scratch size is capped there. */
START_TEST(test_mcl_capped) {
  nm_parser_t p;
  size_t n;
  char *line = sub_line(NM_PARSER_SCRATCH_MAX + 1, &n);

  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, NULL, NULL);
  nm_parser_set_limits(&p, 1u << 24, -1);
  ck_assert_int_eq(feed_cuts(&p, line, n, &(size_t){10}, 1), NM_ETOOBIG);
  ck_assert_uint_le(p.scratch_cap, 2 * (size_t)NM_PARSER_SCRATCH_MAX);
  nm_parser_reset(&p);
  nm_parser_set_limits(&p, 0, -1); /* 0: back to the default */
  ck_assert_uint_eq(p.max_control_line, NM_DEFAULT_MAX_CONTROL_LINE);
  nm_parser_free(&p);
  free(line);
}
END_TEST

/* PUB size at max_payload - 1, max_payload, max_payload + 1 (default 1 MiB):
 * the last fails on the control line, before any payload byte. */
START_TEST(test_max_payload_default) {
  int delta = _i - 1;
  size_t size = (size_t)(NM_DEFAULT_MAX_PAYLOAD + delta);
  recorder_t *r = rec_new();
  nm_parser_t p;
  char line[64];
  int n = snprintf(line, sizeof(line), "PUB big %zu\r\n", size);
  char *payload;
  size_t i;

  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, rec_cb, r);
  if (delta > 0) {
    ck_assert_int_eq(nm_parser_feed(&p, line, (size_t)n), NM_ETOOBIG);
    ck_assert_int_eq(nm_parser_error(&p), NM_PERR_MAX_PAYLOAD);
    ck_assert_ptr_null(p.pbuf);
  } else {
    payload = malloc(size + 2);
    memset(payload, 'b', size);
    memcpy(payload + size, "\r\n", 2);
    ck_assert_int_eq(nm_parser_feed(&p, line, (size_t)n), n);
    /* in 4 KiB reads, as a socket would deliver it */
    for (i = 0; i < size + 2; i += 4096) {
      size_t k = size + 2 - i < 4096 ? size + 2 - i : 4096;
      ck_assert_int_eq(nm_parser_feed(&p, payload + i, k), (ssize_t)k);
    }
    ck_assert_int_eq(r->frames, 1);
    ck_assert_uint_le(p.pbuf_cap, NM_PARSER_PBUF_KEEP); /* given back */
    free(payload);
  }
  nm_parser_free(&p);
  free(r);
}
END_TEST

/* The same for HPUB (total size) and, in server-ops mode, MSG. */
START_TEST(test_max_payload_hpub_msg) {
  static const struct {
    nm_parse_mode_t mode;
    const char *line;
    nm_perr_t want;
  } rows[] = {
      {NM_PARSE_CLIENT_OPS, "HPUB a 5 99\r\n", NM_PERR_NONE},
      {NM_PARSE_CLIENT_OPS, "HPUB a 5 100\r\n", NM_PERR_NONE},
      {NM_PARSE_CLIENT_OPS, "HPUB a 5 101\r\n", NM_PERR_MAX_PAYLOAD},
      {NM_PARSE_SERVER_OPS, "MSG a 1 99\r\n", NM_PERR_NONE},
      {NM_PARSE_SERVER_OPS, "MSG a 1 100\r\n", NM_PERR_NONE},
      {NM_PARSE_SERVER_OPS, "MSG a 1 101\r\n", NM_PERR_MAX_PAYLOAD},
      {NM_PARSE_SERVER_OPS, "HMSG a 1 0 101\r\n", NM_PERR_MAX_PAYLOAD},
  };
  size_t k;

  for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
    nm_parser_t p;
    nm_parser_init(&p, rows[k].mode, NULL, NULL);
    nm_parser_set_limits(&p, 0, 100);
    nm_parser_set_flags(&p, NM_PARSER_HEADERS);
    nm_parser_feed(&p, rows[k].line, strlen(rows[k].line));
    ck_assert_msg(nm_parser_error(&p) == rows[k].want, "%s", rows[k].line);
    nm_parser_free(&p);
  }
}
END_TEST

/* With no limit, a declared size is still bounded by the hard cap. */
START_TEST(test_max_payload_unlimited) {
  nm_parser_t p;
  char line[64];
  int n;

  nm_parser_init(&p, NM_PARSE_SERVER_OPS, NULL, NULL);
  ck_assert_int_lt(p.max_payload, 0); /* server-ops default: no limit */
  n = snprintf(line, sizeof(line), "MSG a 1 %d\r\n",
               NM_PARSER_HARD_MAX_PAYLOAD);
  ck_assert_int_eq(nm_parser_feed(&p, line, (size_t)n), n);
  ck_assert(nm_parser_in_frame(&p));
  nm_parser_reset(&p);
  n = snprintf(line, sizeof(line), "MSG a 1 %d\r\n",
               NM_PARSER_HARD_MAX_PAYLOAD + 1);
  ck_assert_int_eq(nm_parser_feed(&p, line, (size_t)n), NM_ETOOBIG);
  ck_assert_int_eq(nm_parser_error(&p), NM_PERR_MAX_PAYLOAD);
  nm_parser_free(&p);
}
END_TEST

/* ---- memory bounds ------------------------------------------------------ */

/* 8 MiB of junk after PING, in 64 KiB feeds: one frame, small scratch.
 * 8 MiB after "SUB ": CONTROL_LINE, scratch within the limit. */
START_TEST(test_unbounded_input_bounded_memory) {
  size_t chunk = 64 * 1024, i;
  char *junk = malloc(chunk);
  recorder_t *r = rec_new();
  nm_parser_t p;
  ssize_t rv = 0;

  memset(junk, 'j', chunk);
  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, rec_cb, r);
  ck_assert_int_eq(nm_parser_feed(&p, "PING", 4), 4);
  for (i = 0; i < 128; i++)
    ck_assert_int_eq(nm_parser_feed(&p, junk, chunk), (ssize_t)chunk);
  ck_assert_int_eq(nm_parser_feed(&p, "\r\n", 2), 2);
  ck_assert_int_eq(r->frames, 1);
  ck_assert_uint_le(p.scratch_cap, 256);
  ck_assert(strncmp(r->log, "PING|l=PINGjjj", 14) == 0);

  nm_parser_reset(&p);
  ck_assert_int_eq(nm_parser_feed(&p, "SUB ", 4), 4);
  for (i = 0; i < 128 && rv >= 0; i++)
    rv = nm_parser_feed(&p, junk, chunk);
  ck_assert_int_eq(rv, NM_ETOOBIG);
  ck_assert_uint_le(p.scratch_cap, 2 * (NM_DEFAULT_MAX_CONTROL_LINE + 64));
  nm_parser_free(&p);
  free(junk);
  free(r);
}
END_TEST

/* A split payload is gathered in a buffer no larger than the declared size;
 * a whole one is handed out zero-copy. */
START_TEST(test_zero_copy_and_split_payload) {
  static const char in[] = "PUB a 10\r\n0123456789\r\n";
  size_t n = sizeof(in) - 1, cut = 12;
  recorder_t *r = rec_new();
  nm_parser_t p;

  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, rec_cb, r);
  ck_assert_int_eq(nm_parser_feed(&p, in, n), (ssize_t)n);
  ck_assert_ptr_eq(r->last_payload_p, in + 10);
  ck_assert_ptr_null(p.pbuf);
  ck_assert_ptr_null(p.scratch);

  ck_assert_int_eq(feed_cuts(&p, in, n, &cut, 1), (ssize_t)(n - cut));
  ck_assert_ptr_nonnull(p.pbuf);
  /* (the payload buffer below holds the last split payload) */
  ck_assert_ptr_eq(r->last_payload_p, p.pbuf);
  ck_assert_uint_eq(p.pbuf_cap, 10);
  ck_assert_str_eq(r->log, "PUB|l=PUB a 10|subj=a|pl=0123456789\n"
                           "PUB|l=PUB a 10|subj=a|pl=0123456789\n");
  nm_parser_free(&p);
  free(r);
}
END_TEST

/* The payload buffer grows with the bytes received, not with the size a
 * control line declares. */
START_TEST(test_pbuf_grows_with_input) {
  static const char line[] = "PUB a 1000000\r\n";
  char chunk[100];
  nm_parser_t p;
  int i;

  memset(chunk, 'c', sizeof(chunk));
  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, NULL, NULL);
  ck_assert_int_eq(nm_parser_feed(&p, line, sizeof(line) - 1),
                   (ssize_t)sizeof(line) - 1);
  ck_assert_int_eq(nm_parser_feed(&p, chunk, 10), 10);
  ck_assert_uint_le(p.pbuf_cap, 4096);
  for (i = 0; i < 100; i++)
    ck_assert_int_eq(nm_parser_feed(&p, chunk, sizeof(chunk)), 100);
  ck_assert_uint_le(p.pbuf_cap, 2 * 10010);
  ck_assert_uint_ge(p.pbuf_cap, 10010);
  nm_parser_free(&p);
}
END_TEST

/* ---- errors, reset, callbacks, flags ------------------------------------ */

START_TEST(test_sticky_error_and_reset) {
  recorder_t *r = rec_new();
  nm_parser_t p;

  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, rec_cb, r);
  ck_assert_int_eq(nm_parser_feed(&p, "PING\r\nFOO\r\nPING\r\n", 17),
                   NM_EPROTO);
  ck_assert_int_eq(r->frames, 1);
  ck_assert_int_eq(nm_parser_error(&p), NM_PERR_UNKNOWN_OP);
  ck_assert_ptr_nonnull(strstr(nm_parser_errmsg(&p), "FOO"));
  /* sticky: nothing more is parsed */
  ck_assert_int_eq(nm_parser_feed(&p, "PING\r\n", 6), NM_EPROTO);
  ck_assert_int_eq(nm_parser_feed(&p, "", 0), NM_EPROTO);
  ck_assert_int_eq(r->frames, 1);
  nm_parser_reset(&p);
  ck_assert_int_eq(nm_parser_error(&p), NM_PERR_NONE);
  ck_assert_str_eq(nm_parser_errmsg(&p), "no error");
  ck_assert_int_eq(nm_parser_feed(&p, "PING\r\n", 6), 6);
  ck_assert_int_eq(r->frames, 2);
  /* reset mid-frame drops the partial frame */
  ck_assert_int_eq(nm_parser_feed(&p, "PUB a 5\r\nhel", 12), 12);
  ck_assert(nm_parser_in_frame(&p));
  nm_parser_reset(&p);
  ck_assert(!nm_parser_in_frame(&p));
  ck_assert_int_eq(nm_parser_feed(&p, "PONG\r\n", 6), 6);
  ck_assert_int_eq(r->frames, 3);
  nm_parser_free(&p);
  free(r);
}
END_TEST

START_TEST(test_callback_stops) {
  recorder_t *r = rec_new();
  nm_parser_t p;

  r->stop_at = 2;
  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, rec_cb, r);
  ck_assert_int_eq(nm_parser_feed(&p, "PING\r\nPONG\r\nPING\r\n", 18),
                   NM_ECALLBACK);
  ck_assert_int_eq(nm_parser_error(&p), NM_PERR_CALLBACK);
  ck_assert_int_eq(r->frames, 2);
  ck_assert_int_eq(nm_parser_feed(&p, "PING\r\n", 6), NM_ECALLBACK);
  ck_assert_int_eq(r->frames, 2);
  nm_parser_free(&p);
  free(r);
}
END_TEST

/* A callback that resets (or frees) its own parser stops the feed right
 * after that frame: the feed returns the bytes consumed up to there. */
static int reset_on_second(nm_parser_t *p, const nm_frame_t *f) {
  int *n = p->data;
  if (++*n == 2) {
    if (f->op == NM_OP_PUB)
      nm_parser_free(p);
    else
      nm_parser_reset(p);
  }
  return 0;
}

START_TEST(test_reset_inside_callback) {
  static const char in[] = "PING\r\nPONG\r\nPING\r\n";
  static const char in2[] = "PING\r\nPUB a 2\r\nhi\r\nPING\r\n";
  nm_parser_t p;
  int n = 0;
  size_t cut;

  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, reset_on_second, &n);
  ck_assert_int_eq(nm_parser_feed(&p, in, sizeof(in) - 1), 12);
  ck_assert_int_eq(n, 2);
  ck_assert(!nm_parser_in_frame(&p));
  ck_assert_int_eq(nm_parser_error(&p), NM_PERR_NONE);
  /* still usable */
  ck_assert_int_eq(nm_parser_feed(&p, in, 6), 6);
  ck_assert_int_eq(n, 3);
  nm_parser_free(&p);

  /* freed inside the callback, with the payload split into pbuf */
  for (cut = 1; cut < sizeof(in2) - 1; cut++) {
    /* "PING\r\n" + "PUB a 2\r\nhi\r\n" are 19 bytes */
    n = 0;
    nm_parser_init(&p, NM_PARSE_CLIENT_OPS, reset_on_second, &n);
    if (cut < 19) {
      ck_assert_int_eq(nm_parser_feed(&p, in2, cut), (ssize_t)cut);
      ck_assert_int_eq(nm_parser_feed(&p, in2 + cut, sizeof(in2) - 1 - cut),
                       (ssize_t)(19 - cut));
    } else {
      ck_assert_int_eq(nm_parser_feed(&p, in2, cut), 19);
    }
    ck_assert_int_eq(n, 2);
    ck_assert_ptr_null(p.pbuf);
    ck_assert_ptr_null(p.scratch);
    nm_parser_free(&p);
  }
}
END_TEST

/* EXPECT_CONNECT: a CONNECT is let through; a callback that clears the flag
 * lets the rest of the same buffer through. */
START_TEST(test_auth_flag_cleared_by_callback) {
  static const char in[] = "CONNECT {}\r\nPING\r\n";
  recorder_t *r = rec_new();
  nm_parser_t p;

  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, rec_cb, r);
  nm_parser_set_flags(&p, NM_PARSER_EXPECT_CONNECT);
  ck_assert_int_eq(nm_parser_feed(&p, in, sizeof(in) - 1), NM_EPROTO);
  ck_assert_int_eq(nm_parser_error(&p), NM_PERR_AUTH);
  ck_assert_int_eq(r->frames, 1);
  nm_parser_free(&p);

  memset(r, 0, sizeof(*r));
  r->auth_on_connect = 1;
  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, rec_cb, r);
  nm_parser_set_flags(&p, NM_PARSER_EXPECT_CONNECT);
  ck_assert_int_eq(nm_parser_feed(&p, in, sizeof(in) - 1),
                   (ssize_t)sizeof(in) - 1);
  ck_assert_int_eq(r->frames, 2);
  ck_assert_uint_eq(nm_parser_flags(&p), 0);
  nm_parser_free(&p);
  free(r);
}
END_TEST

/* Blanks after an op name beyond NM_PARSER_BLANKS_KEEP are dropped from
 * frame.line (not from the arguments), the same at every cut point, with or
 * without a payload that is split too. */
START_TEST(test_line_blanks_any_split) {
  static const char kWant[] = "SUB|l=SUB                foo 1|subj=foo|sid=1\n"
                              "PUB|l=PUB                b 3|subj=b|pl=xyz\n";
  char in[160];
  size_t n, cut;

  n = (size_t)sprintf(in, "SUB%40s1\r\nPUB%40s3\r\nxyz\r\n", "foo ", "b ");
  for (cut = 0; cut <= n; cut++) {
    recorder_t *r = rec_new();
    nm_parser_t p;
    nm_parser_init(&p, NM_PARSE_CLIENT_OPS, rec_cb, r);
    ck_assert_int_eq(feed_cuts(&p, in, n, &cut, 1), (ssize_t)(n - cut));
    ck_assert_msg(strcmp(r->log, kWant) == 0, "cut %zu: %s", cut, r->log);
    nm_parser_free(&p);
    free(r);
  }
}
END_TEST

/* The first byte after an op's blanks is taken literally, as nats-server
 * does: `CONNECT\r\n` carries the JSON text "\r" (which the server's JSON
 * check then rejects), and a CR anywhere in the arguments drops the byte
 * before the LF. */
START_TEST(test_argument_edges) {
  static const char in[] = "CONNECT\r\nCONNECT\n{}\r\nINFO \t{} \r\n"
                           "SUB foo\r1 2\nPUB \nx 0\r\n\r\n";
  recorder_t *r = rec_new();
  nm_parser_t p;

  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, rec_cb, r);
  ck_assert_int_eq(feed_bytewise(&p, in, sizeof(in) - 1), 0);
  ck_assert_str_eq(r->log, "CONNECT|l=CONNECT|json=\\r\n"
                           "CONNECT|l=CONNECT\\n{}|json=\\n{}\n"
                           "INFO|l=INFO \\x09{} |json={} \n"
                           "SUB|l=SUB foo\\r1 2|subj=foo|sid=1\n"
                           "PUB|l=PUB \\nx 0|subj=\\nx\n");
  nm_parser_free(&p);
  free(r);
}
END_TEST

/* nm_parser_pause from the callback: the feed stops after that frame (a
 * payload op too) and returns the bytes taken; the rest parses on its own. */
static int pause_cb(nm_parser_t *p, const nm_frame_t *f) {
  recorder_t *r = p->data;
  r->n +=
      (size_t)snprintf(r->log + r->n, REC_CAP - r->n, "%s;", nm_op_name(f->op));
  nm_parser_pause(p);
  return 0;
}

START_TEST(test_pause) {
  static const char in[] = "PING\r\nPUB a 2\r\nhi\r\nSUB a 1\r\n";
  recorder_t *r = rec_new();
  nm_parser_t p;
  size_t off = 0;
  nm_parser_init(&p, NM_PARSE_CLIENT_OPS, pause_cb, r);
  ck_assert_int_eq(nm_parser_feed(&p, in, sizeof(in) - 1), 6);
  off += 6;
  ck_assert_int_eq(nm_parser_feed(&p, in + off, sizeof(in) - 1 - off), 13);
  off += 13;
  ck_assert_int_eq(nm_parser_feed(&p, in + off, sizeof(in) - 1 - off), 9);
  ck_assert_str_eq(r->log, "PING;PUB;SUB;");
  nm_parser_free(&p);
  free(r);
}
END_TEST

/* Size texts come out as sent (nats-server echoes them), split or not. */
static int size_text_cb(nm_parser_t *p, const nm_frame_t *f) {
  recorder_t *r = p->data;
  r->n += (size_t)snprintf(
      r->log + r->n, REC_CAP - r->n, "%s[%.*s][%.*s];", nm_op_name(f->op),
      (int)f->hdr_text.n, f->hdr_text.p ? f->hdr_text.p : "",
      (int)f->size_text.n, f->size_text.p ? f->size_text.p : "");
  return 0;
}

START_TEST(test_size_texts) {
  static const char cli[] = "PUB a 02\r\nhi\r\nHPUB a 012 000000013\r\n"
                            "NATS/1.0\r\n\r\nx\r\nSUB a 1\r\n";
  static const char srv[] = "MSG a 1 r 02\r\nhi\r\nHMSG a 1 012 13\r\n"
                            "NATS/1.0\r\n\r\nx\r\nPING\r\n";
  size_t cut;

  for (cut = 0; cut <= sizeof(cli) - 1; cut++) {
    recorder_t *r = rec_new();
    nm_parser_t p;
    nm_parser_init(&p, NM_PARSE_CLIENT_OPS, size_text_cb, r);
    nm_parser_set_flags(&p, NM_PARSER_HEADERS);
    ck_assert_int_ge(feed_cuts(&p, cli, sizeof(cli) - 1, &cut, 1), 0);
    ck_assert_str_eq(r->log, "PUB[][02];HPUB[012][000000013];SUB[][];");
    nm_parser_free(&p);
    free(r);
  }
  for (cut = 0; cut <= sizeof(srv) - 1; cut++) {
    recorder_t *r = rec_new();
    nm_parser_t p;
    nm_parser_init(&p, NM_PARSE_SERVER_OPS, size_text_cb, r);
    ck_assert_int_ge(feed_cuts(&p, srv, sizeof(srv) - 1, &cut, 1), 0);
    ck_assert_str_eq(r->log, "MSG[][02];HMSG[012][13];PING[][];");
    nm_parser_free(&p);
    free(r);
  }
}
END_TEST

START_TEST(test_parse_size) {
  static const struct {
    const char *s;
    int64_t want;
  } rows[] = {
      {"0", 0},           {"5", 5},
      {"000000005", 5},   {"999999999", 999999999},
      {"0000000005", -1}, {"1000000000", -1},
      {"", -1},           {"-1", -1},
      {"+1", -1},         {"1a", -1},
      {" 1", -1},         {"12345678901234567890123", -1},
  };
  size_t k;

  for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
    nm_slice_t s = {rows[k].s, strlen(rows[k].s)};
    ck_assert_msg(nm_parse_size(s) == rows[k].want, "'%s'", rows[k].s);
  }
  ck_assert_int_eq(nm_parse_size((nm_slice_t){NULL, 0}), -1);
}
END_TEST

START_TEST(test_op_names) {
  ck_assert_str_eq(nm_op_name(NM_OP_PUB), "PUB");
  ck_assert_str_eq(nm_op_name(NM_OP_OK), "+OK");
  ck_assert_str_eq(nm_op_name(NM_OP_ERR), "-ERR");
  ck_assert_str_eq(nm_op_name(NM_OP_NONE), "NONE");
  ck_assert_str_eq(nm_op_name((nm_op_t)99), "?");
}
END_TEST

/* Bad calls do not crash. */
START_TEST(test_bad_calls) {
  nm_parser_t p;
  ck_assert_int_eq(nm_parser_init(NULL, NM_PARSE_CLIENT_OPS, NULL, NULL),
                   NM_EINVAL);
  ck_assert_int_eq(nm_parser_init(&p, (nm_parse_mode_t)7, NULL, NULL),
                   NM_EINVAL);
  ck_assert_int_eq(nm_parser_init(&p, NM_PARSE_CLIENT_OPS, NULL, NULL), 0);
  ck_assert_int_eq(nm_parser_feed(&p, NULL, 0), 0);
  ck_assert_int_eq(nm_parser_feed(&p, NULL, 3), NM_EINVAL);
  nm_parser_free(&p);
  nm_parser_free(&p);
  nm_parser_free(NULL);
}
END_TEST

static Suite *parser_suite(void) {
  Suite *s = suite_create("parser");
  TCase *tc = tcase_create("streams");
  TCase *tt = tcase_create("table");
  TCase *tl = tcase_create("limits");
  TCase *tm = tcase_create("misc");

  /* every pair of cut points is ~10k parses: allow for sanitizers */
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_client_stream_whole);
  tcase_add_loop_test(tc, test_client_stream_any_split, 0,
                      (int)sizeof(kClientWire));
  tcase_add_loop_test(tc, test_server_stream_any_split, 0,
                      (int)sizeof(kServerWire));
  tcase_add_loop_test(tc, test_stream_every_pair, 0, 2);
  tcase_add_loop_test(tc, test_stream_bytewise, 0, 2);
  suite_add_tcase(s, tc);

  tcase_add_loop_test(tt, test_table_row, 0, NM_TT_NROWS);
  tcase_add_test(tt, test_table_size);
  suite_add_tcase(s, tt);

  tcase_add_loop_test(tl, test_mcl_default, 0, 3);
  tcase_add_loop_test(tl, test_mcl_custom, 0, 3);
  tcase_add_test(tl, test_mcl_counts_args_only);
  tcase_add_test(tl, test_mcl_capped);
  tcase_add_loop_test(tl, test_max_payload_default, 0, 3);
  tcase_add_test(tl, test_max_payload_hpub_msg);
  tcase_add_test(tl, test_max_payload_unlimited);
  tcase_add_test(tl, test_unbounded_input_bounded_memory);
  suite_add_tcase(s, tl);

  tcase_add_test(tm, test_zero_copy_and_split_payload);
  tcase_add_test(tm, test_pbuf_grows_with_input);
  tcase_add_test(tm, test_sticky_error_and_reset);
  tcase_add_test(tm, test_callback_stops);
  tcase_add_test(tm, test_reset_inside_callback);
  tcase_add_test(tm, test_auth_flag_cleared_by_callback);
  tcase_add_test(tm, test_line_blanks_any_split);
  tcase_add_test(tm, test_argument_edges);
  tcase_add_test(tm, test_size_texts);
  tcase_add_test(tm, test_pause);
  tcase_add_test(tm, test_parse_size);
  tcase_add_test(tm, test_op_names);
  tcase_add_test(tm, test_bad_calls);
  suite_add_tcase(s, tm);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(parser_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
