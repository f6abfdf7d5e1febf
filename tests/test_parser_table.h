/* The parser's input table, shared by test_parser.c (the parser must classify
 * each row as `want`, after `frames` frames) and test_parser_nats.c (the real
 * nats-server 2.9.10 must react to each client-mode row the way `want` says).
 *
 * Every row runs with max_control_line NM_TT_MCL and max_payload NM_TT_MPAY,
 * the values the differential test writes into nats-server's config file. */
#ifndef NM_TEST_PARSER_TABLE_H
#define NM_TEST_PARSER_TABLE_H

#include <stdio.h>
#include <string.h>

#include "nm_parser.h"

#define NM_TT_MCL 512
#define NM_TT_MPAY 1024
/* Generated inputs are at most this long. */
#define NM_TT_GEN_MAX 2048

typedef struct {
  const char *name;
  nm_parse_mode_t mode;
  unsigned flags;
  const char *in; /* NULL: built by gen */
  size_t n;       /* 0: strlen(in) */
  nm_perr_t want;
  int frames; /* frames emitted before the error (or in all, for NONE) */
  int gen;    /* generated input id, when in is NULL */
} nm_tt_row_t;

enum {
  GEN_PUB_ARG_MCL = 1,    /* "PUB " + arg of exactly NM_TT_MCL bytes */
  GEN_PUB_ARG_MCL_1,      /* ... NM_TT_MCL + 1 bytes */
  GEN_SUB_ARG_MCL_1_NOLF, /* "SUB " + NM_TT_MCL + 1 arg bytes, no LF */
  GEN_CONNECT_MCL_1,      /* "CONNECT " + NM_TT_MCL + 1 bytes of JSON */
  GEN_PUB_BLANKS_MCL,     /* "PUB" + 600 blanks + NM_TT_MCL arg: blanks free */
  GEN_PUB_MPAY,           /* "PUB foo NM_TT_MPAY" + payload */
  GEN_PUB_MPAY_1,         /* "PUB foo NM_TT_MPAY+1" (control line only) */
  GEN_PING_JUNK,          /* "PING" + 2000 junk bytes + CRLF */
};

#define C NM_PARSE_CLIENT_OPS
#define S NM_PARSE_SERVER_OPS
#define H NM_PARSER_HEADERS
#define A NM_PARSER_EXPECT_CONNECT
#define ROW(nm, md, fl, s, w, fr)                                              \
  { nm, md, fl, s, sizeof(s) - 1, w, fr, 0 }
#define GEN(nm, md, fl, g, w, fr)                                              \
  { nm, md, fl, NULL, 0, w, fr, g }

static const nm_tt_row_t nm_tt_rows[] = {
    /* Unknown op: -ERR 'Unknown Protocol Operation' and close. */
    ROW("unknown verb", C, 0, "FOO\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("bare CRLF", C, 0, "\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("bare LF", C, 0, "\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("PUBS", C, 0, "PUBS foo 1\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("SUBZZ", C, 0, "SUBZZ foo 1\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("tab inside op", C, 0, "P\tUB foo 5\r\nhello\r\n", NM_PERR_UNKNOWN_OP,
        0),
    ROW("NUL inside op", C, 0, "PU\0B foo 1\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("NUL first", C, 0, "\0PING\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("high byte first", C, 0, "\x80PING\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("leading blank", C, 0, " PING\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("payload longer than size", C, 0, "PUB foo 5\r\nhello world\r\n",
        NM_PERR_UNKNOWN_OP, 0),
    ROW("no CRLF after payload", C, 0, "PUB foo 5\r\nhelloXX",
        NM_PERR_UNKNOWN_OP, 0),
    ROW("LF only after payload", C, 0, "PUB foo 5\r\nhello\n",
        NM_PERR_UNKNOWN_OP, 0),
    ROW("CR then junk after payload", C, 0, "PUB foo 5\r\nhello\rX",
        NM_PERR_UNKNOWN_OP, 0),
    ROW("zero payload then junk", C, 0, "PUB foo 0\r\nX\r\n",
        NM_PERR_UNKNOWN_OP, 0),
    ROW("MSG from a client", C, 0, "MSG foo 1 5\r\nhello\r\n",
        NM_PERR_UNKNOWN_OP, 0),
    ROW("UNSUBX", C, 0, "UNSUBX 1\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("CONNEKT", C, 0, "CONNEKT {}\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("PINX", C, 0, "PINX\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("+OX", C, 0, "+OX\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("-ERR without blank", C, 0, "-ERRx\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("HPUB without blank", C, 0, "HPUBfoo 1 2\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("after three pings", C, 0, "ping\r\npong\r\nPiNg\r\nxyz\r\n",
        NM_PERR_UNKNOWN_OP, 3),
    ROW("HMSG then payload bytes", C, 0, "HMSG foo 1 2 3\r\nab\r\n",
        NM_PERR_UNKNOWN_OP, 0),

    /* Bad arguments: closed without a word. */
    ROW("SUB without sid", C, 0, "SUB foo\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("SUB four args", C, 0, "SUB foo q 1 x\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("UNSUB only CR", C, 0, "UNSUB \r\n", NM_PERR_BAD_ARGS, 0),
    ROW("UNSUB three args", C, 0, "UNSUB 1 2 3\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("PUB without size", C, 0, "PUB foo\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("PUB size -1", C, 0, "PUB foo -1\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("PUB size +5", C, 0, "PUB foo +5\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("PUB size abc", C, 0, "PUB foo abc\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("PUB huge size", C, 0, "PUB foo 99999999999999999999\r\n",
        NM_PERR_BAD_ARGS, 0),
    ROW("PUB 10-digit size", C, 0, "PUB foo 0000000005\r\nhello\r\n",
        NM_PERR_BAD_ARGS, 0),
    ROW("PUB four args", C, 0, "PUB a b c 5\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("PUB CR splits nothing", C, 0, "PUB foo\r5\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("HPUB hdr > total", C, H, "HPUB foo 10 5\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("HPUB two args", C, H, "HPUB foo 5\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("HPUB hdr -1", C, H, "HPUB foo -1 5\r\n", NM_PERR_BAD_ARGS, 0),
    /* hdr > total is checked before max_payload */
    ROW("HPUB hdr > total > max", C, H, "HPUB foo 2000 1500\r\n",
        NM_PERR_BAD_ARGS, 0),
    ROW("PUB bad size before max", C, 0, "PUB foo 1x\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("SUB after PING", C, 0, "PING\r\nSUB foo\r\n", NM_PERR_BAD_ARGS, 1),

    /* HPUB while headers are off: silent close, before the arguments. */
    ROW("HPUB headers off", C, 0, "HPUB foo 12 17\r\n", NM_PERR_HEADERS_OFF, 0),
    ROW("HPUB headers off, bad args", C, 0, "HPUB foo\r\n", NM_PERR_HEADERS_OFF,
        0),

    /* Sizes over max_payload, on the control line. */
    ROW("PUB over max_payload", C, 0, "PUB foo 1025\r\n", NM_PERR_MAX_PAYLOAD,
        0),
    ROW("PUB 999999999", C, 0, "PUB foo 999999999\r\n", NM_PERR_MAX_PAYLOAD, 0),
    ROW("HPUB total over max_payload", C, H, "HPUB foo 0 1025\r\n",
        NM_PERR_MAX_PAYLOAD, 0),
    ROW("HPUB hdr ok, total over max", C, H, "HPUB foo 10 2000\r\n",
        NM_PERR_MAX_PAYLOAD, 0),
    ROW("PUB max_payload before the payload", C, 0, "PUB foo 1025\r\nshort\r\n",
        NM_PERR_MAX_PAYLOAD, 0),
    GEN("PUB max_payload + 1", C, 0, GEN_PUB_MPAY_1, NM_PERR_MAX_PAYLOAD, 0),

    /* The argument part over max_control_line. */
    GEN("PUB arg mcl + 1", C, 0, GEN_PUB_ARG_MCL_1, NM_PERR_CONTROL_LINE, 0),
    GEN("SUB arg mcl + 1, no LF", C, 0, GEN_SUB_ARG_MCL_1_NOLF,
        NM_PERR_CONTROL_LINE, 0),
    GEN("CONNECT mcl + 1", C, 0, GEN_CONNECT_MCL_1, NM_PERR_CONTROL_LINE, 0),

    /* Auth required: any op but CONNECT first. */
    ROW("auth: PING", C, A, "PING\r\n", NM_PERR_AUTH, 0),
    ROW("auth: SUB", C, A, "SUB foo 1\r\n", NM_PERR_AUTH, 0),
    ROW("auth: bare CRLF", C, A, "\r\n", NM_PERR_AUTH, 0),
    ROW("auth: MSG", C, A, "MSG x\r\n", NM_PERR_AUTH, 0),

    /* Accepted, complete inputs (the connection stays open). */
    ROW("PING junk", C, 0, "PING xyz\r\n", NM_PERR_NONE, 1),
    ROW("PINGfoo LF", C, 0, "PINGfoo\n", NM_PERR_NONE, 1),
    ROW("lower-case sub/unsub", C, 0, "sub foo 1\r\nunsub 1 \r\n", NM_PERR_NONE,
        2),
    ROW("SUB two spaces", C, 0, "SUB foo  1\r\n", NM_PERR_NONE, 1),
    ROW("PUB tab", C, 0, "PUB\tfoo\t5\r\nhello\r\n", NM_PERR_NONE, 1),
    ROW("SUB mid-line CR", C, 0, "SUB foo\r1 2\n", NM_PERR_NONE, 1),
    ROW("9-digit size", C, 0, "PUB foo 000000005\r\nhello\r\n", NM_PERR_NONE,
        1),
    ROW("payload holding CRLF and PING", C, 0,
        "PUB foo 11\r\nhello\r\nPING\r\n", NM_PERR_NONE, 1),
    ROW("client HMSG quirk", C, 0, "HMSG foo\r\n\r\n", NM_PERR_NONE, 1),
    ROW("+OK and PONG", C, 0, "+OK\r\nPONG\r\n", NM_PERR_NONE, 2),
    ROW("INFO", C, 0, "INFO {}\r\n", NM_PERR_NONE, 1),
    ROW("CONNECT no blank", C, 0, "CONNECT{\"verbose\":false}\r\n",
        NM_PERR_NONE, 1),
    ROW("UNSUB non-numeric max", C, 0, "UNSUB 1 abc\r\n", NM_PERR_NONE, 1),
    ROW("HPUB", C, H, "HPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\n",
        NM_PERR_NONE, 1),
    ROW("auth: CONNECT first", C, A,
        "CONNECT {\"user\":\"u\",\"pass\":\"p\"}\r\n", NM_PERR_NONE, 1),
    /* The first byte after the op's blanks starts the argument part even
     * when it is a CR or LF: these lines do not end there. */
    ROW("CONNECT LF json", C, 0, "CONNECT\n{\"verbose\":false}\r\n",
        NM_PERR_NONE, 1),
    ROW("PUB blank LF", C, 0, "PUB \nfoo 2\r\nhi\r\n", NM_PERR_NONE, 1),
    ROW("UNSUB blank LF", C, 0, "UNSUB \n1\r\n", NM_PERR_NONE, 1),
    ROW("auth: lower-case connect", C, A,
        "connect {\"user\":\"u\",\"pass\":\"p\"}\r\n", NM_PERR_NONE, 1),
    ROW("auth: +OK", C, A, "+OK\r\n", NM_PERR_AUTH, 0),
    GEN("PUB arg = mcl", C, 0, GEN_PUB_ARG_MCL, NM_PERR_NONE, 1),
    GEN("PUB many blanks, arg = mcl", C, 0, GEN_PUB_BLANKS_MCL, NM_PERR_NONE,
        1),
    GEN("PUB = max_payload", C, 0, GEN_PUB_MPAY, NM_PERR_NONE, 1),
    GEN("PING with 2000 junk bytes", C, 0, GEN_PING_JUNK, NM_PERR_NONE, 1),

    /* Server-ops mode (what a client reads). */
    ROW("srv: PUB", S, 0, "PUB foo 1\r\na\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("srv: CONNECT", S, 0, "CONNECT {}\r\n", NM_PERR_UNKNOWN_OP, 0),
    ROW("srv: MSG two args", S, 0, "MSG foo 1\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("srv: MSG five args", S, 0, "MSG foo 1 r x 2\r\n", NM_PERR_BAD_ARGS, 0),
    ROW("srv: HMSG hdr > total", S, 0, "HMSG foo 1 5 4\r\n", NM_PERR_BAD_ARGS,
        0),
    ROW("srv: MSG bad end", S, 0, "MSG foo 1 2\r\nhiX\r\n", NM_PERR_UNKNOWN_OP,
        0),
    ROW("srv: MSG over max_payload", S, 0, "MSG foo 1 1025\r\n",
        NM_PERR_MAX_PAYLOAD, 0),
    ROW("srv: all ops", S, 0,
        "INFO {} \r\nMSG a 1 2\r\nhi\r\nHMSG a 1 r 12 12\r\nNATS/1.0\r\n\r\n"
        "\r\nPING\r\nPONG\r\n+OK\r\n-ERR 'x'\r\n",
        NM_PERR_NONE, 7),
};

#undef C
#undef S
#undef H
#undef A
#undef ROW
#undef GEN

#define NM_TT_NROWS ((int)(sizeof(nm_tt_rows) / sizeof(nm_tt_rows[0])))

/* Returns the row's bytes (generated ones into `buf`, NM_TT_GEN_MAX). */
static inline const char *nm_tt_input(const nm_tt_row_t *r, char *buf,
                                      size_t *n) {
  size_t o = 0;

  if (r->in != NULL) {
    *n = r->n;
    return r->in;
  }
  switch (r->gen) {
  case GEN_PUB_ARG_MCL:
  case GEN_PUB_ARG_MCL_1: {
    /* subject of (arg - 2) bytes, then " 0": a zero-byte payload */
    size_t arg = NM_TT_MCL + (r->gen == GEN_PUB_ARG_MCL_1 ? 1 : 0);
    o += (size_t)sprintf(buf, "PUB ");
    memset(buf + o, 'x', arg - 2);
    o += arg - 2;
    o += (size_t)sprintf(buf + o, " 0\r\n\r\n");
    break;
  }
  case GEN_SUB_ARG_MCL_1_NOLF:
    o += (size_t)sprintf(buf, "SUB ");
    memset(buf + o, 'y', NM_TT_MCL + 1);
    o += NM_TT_MCL + 1;
    break;
  case GEN_CONNECT_MCL_1:
    o += (size_t)sprintf(buf, "CONNECT {\"name\":\"");
    memset(buf + o, 'n', NM_TT_MCL + 1 - 11);
    o += NM_TT_MCL + 1 - 11;
    o += (size_t)sprintf(buf + o, "\"}\r\n");
    break;
  case GEN_PUB_BLANKS_MCL:
    o += (size_t)sprintf(buf, "PUB");
    memset(buf + o, ' ', 600);
    o += 600;
    memset(buf + o, 'z', NM_TT_MCL - 2);
    o += NM_TT_MCL - 2;
    o += (size_t)sprintf(buf + o, " 0\r\n\r\n");
    break;
  case GEN_PUB_MPAY:
    o += (size_t)sprintf(buf, "PUB foo %d\r\n", NM_TT_MPAY);
    memset(buf + o, 'p', NM_TT_MPAY);
    o += NM_TT_MPAY;
    o += (size_t)sprintf(buf + o, "\r\n");
    break;
  case GEN_PUB_MPAY_1:
    o += (size_t)sprintf(buf, "PUB foo %d\r\n", NM_TT_MPAY + 1);
    break;
  case GEN_PING_JUNK:
    o += (size_t)sprintf(buf, "PING");
    memset(buf + o, 'j', 2000);
    o += 2000;
    o += (size_t)sprintf(buf + o, "\r\n");
    break;
  }
  *n = o;
  return buf;
}

#endif
