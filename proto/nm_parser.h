/* The NATS client-protocol parser: a pure, incremental byte state machine.
 *
 * One parser serves both directions:
 *  - NM_PARSE_CLIENT_OPS: what a server reads from a client (CONNECT, PUB,
 *    HPUB, SUB, UNSUB, PING, PONG, INFO, +OK, -ERR), exactly as
 *    nats-server 2.9.10 lexes them (docs/design.md, "Lexing and framing",
 *    "Ops and their answers"). One quirk is kept: 2.9.10 lexes
 *    `HMSG <anything>` from a client, takes no arguments from it and then
 *    expects a zero-length payload (`\r\n`); it answers +OK under verbose
 *    and delivers nothing. This mode reports it as NM_OP_HMSG with every
 *    argument slice empty. (2.9.10 fails the connection when a read ends
 *    between its line and that CRLF; the parser stays split-invariant and
 *    the server does that check at the end of each read, with
 *    nm_parser_pending_payload.)
 *  - NM_PARSE_SERVER_OPS: what a client reads from a server (INFO, MSG, HMSG,
 *    PING, PONG, +OK, -ERR).
 *
 * No I/O; the only allocations are the two bounded buffers below. Fed any
 * split of its input, it emits the same frames in the same order. A control
 * line split across feeds is reassembled in the parser's bounded scratch
 * buffer; a payload split across feeds is gathered in a payload buffer the
 * parser grows with realloc up to the declared size, which was checked against
 * max_payload (or, with no limit, against NM_PARSER_HARD_MAX_PAYLOAD) on the
 * control line. Payloads wholly inside one fed buffer are handed out zero-copy.
 * Both buffers are allocated lazily, on the first split line or payload, so an
 * idle parser holds no heap memory.
 *
 * Errors are sticky: after a negative return every later feed returns the
 * same error until nm_parser_reset. */
#ifndef NM_PARSER_H
#define NM_PARSER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nm_errors.h"
#include "nm_frame.h"

/* nats-server's MAX_CONTROL_LINE_SIZE: the default limit on the argument part
 * of a control line (everything after the op name and its blanks). */
#define NM_DEFAULT_MAX_CONTROL_LINE 4096
/* nats-server's MAX_PAYLOAD_SIZE default (1 MiB). */
#define NM_DEFAULT_MAX_PAYLOAD (1024 * 1024)
/* The scratch buffer holds one control line, so it bounds max_control_line.
 * nats-server lets a configured limit go higher; natsmock caps it here. */
#define NM_PARSER_SCRATCH_MAX (64 * 1024)
/* With max_payload < 0 (no limit) a declared size above this is refused
 * (NM_PERR_MAX_PAYLOAD, NM_ETOOBIG): the payload buffer must stay bounded. */
#define NM_PARSER_HARD_MAX_PAYLOAD (64 * 1024 * 1024)
/* frame.line keeps at most this many bytes of a PING/PONG/+OK line
 * (nats-server ignores everything after the op name up to LF, without
 * limit), and at most NM_PARSER_BLANKS_KEEP of the blanks between an op name
 * and its arguments (nats-server does not limit them either): the bounded
 * scratch buffer must hold a split line, and frame.line reads the same
 * whether or not the line was split. */
#define NM_PARSER_BARE_LINE_MAX 64
#define NM_PARSER_BLANKS_KEEP 16
/* After a split payload larger than this, the payload buffer is freed. */
#define NM_PARSER_PBUF_KEEP (64 * 1024)

typedef enum {
  NM_PARSE_CLIENT_OPS = 0, /* server side: parse what clients send */
  NM_PARSE_SERVER_OPS = 1, /* client side: parse what servers send */
} nm_parse_mode_t;

/* Why parsing stopped. Each maps to exactly one nats-server reaction, which
 * the server applies (the parser only classifies):
 *   UNKNOWN_OP       -ERR 'Unknown Protocol Operation', close
 *   CONTROL_LINE     -ERR 'maximum control line exceeded', close
 *   MAX_PAYLOAD      -ERR 'Maximum Payload Violation', close
 *   BAD_ARGS         silent close (wrong argument count, bad size, hdr > total;
 *                    2.9.10 does not check that a sid is numeric)
 *   HEADERS_OFF      silent close (HPUB when headers are not enabled)
 *   AUTH             -ERR 'Authorization Violation', close (an op other than
 *                    CONNECT while NM_PARSER_EXPECT_CONNECT is set)
 *   CALLBACK         the frame callback returned non-zero
 * (An allocation failure returns NM_ENOMEM with NM_PERR_NONE.) */
typedef enum {
  NM_PERR_NONE = 0,
  NM_PERR_UNKNOWN_OP,
  NM_PERR_CONTROL_LINE,
  NM_PERR_MAX_PAYLOAD,
  NM_PERR_BAD_ARGS,
  NM_PERR_HEADERS_OFF,
  NM_PERR_AUTH,
  NM_PERR_CALLBACK,
} nm_perr_t;

typedef struct nm_parser_s nm_parser_t;

/* Called once per complete frame. Return 0 to go on; non-zero stops the feed
 * with NM_ECALLBACK (sticky; nm_parser_error gives NM_PERR_CALLBACK). The
 * callback may change the parser's flags and limits (e.g. enable headers after
 * CONNECT); the change applies from the next frame. It may also call
 * nm_parser_reset or nm_parser_free on its parser (say, because the frame made
 * it drop the connection): the feed then stops right after that frame and
 * returns the bytes consumed so far, without touching the parser again. */
typedef int (*nm_frame_cb)(nm_parser_t *p, const nm_frame_t *f);

/* Flags, changeable between frames (nm_parser_set_flags). */
enum {
  /* HPUB is allowed (the client's CONNECT said "headers":true). Without it an
   * HPUB is NM_PERR_HEADERS_OFF, as nats-server checks before its args. */
  NM_PARSER_HEADERS = 1u << 0,
  /* Auth is required and CONNECT has not been processed: the first byte of
   * any op other than C/c is NM_PERR_AUTH. */
  NM_PARSER_EXPECT_CONNECT = 1u << 1,
  /* Each feed is one read, and a control line whose argument part a feed
   * cut takes its argument as nats-server 2.9.10 assembles a split one: the
   * first piece without its last byte when it held a CR, later pieces
   * without their CRs, and no byte dropped before the LF. (Unset, a CR
   * anywhere in the argument drops the byte before the LF however the line
   * was cut, as 2.9.10 does for a line read whole, and the parser is
   * split-invariant.) The server sets it; the fuzzer and the split tests do
   * not. */
  NM_PARSER_READ_SPLIT_ARGS = 1u << 2,
};

/* Private: the fields below are public only so that the struct can be
 * embedded without allocation. Touch them through the functions (except
 * `data`, which belongs to the caller). */
struct nm_parser_s {
  nm_parse_mode_t mode;
  unsigned flags;
  int64_t max_control_line; /* argument part, as nats-server counts it */
  int64_t max_payload; /* -1: no limit (up to the hard cap); < -1: none fit */
  nm_frame_cb cb;
  void *data; /* for the caller; the parser never touches it */

  int state;
  nm_op_t op;
  unsigned opmask;      /* op-table entries still matching the op name */
  unsigned oplen;       /* op-name bytes matched so far */
  int err;              /* sticky nm_ error code, 0 when healthy */
  nm_perr_t why;        /* sticky classification */
  int drop_cr;          /* a CR was seen inside the argument part */
  int arg_cut;          /* READ_SPLIT_ARGS: a feed ended inside the argument */
  int in_scratch;       /* the current line lives in scratch */
  int in_pbuf;          /* the current payload is gathered in pbuf */
  size_t arg_start_len; /* scratch offset of the argument part */
  size_t line_len;      /* bytes of the current control line in scratch */
  size_t blanks_kept;   /* blanks after the op name kept in scratch */
  char *scratch;        /* split control lines; grows up to the limit */
  size_t scratch_cap;
  nm_frame_t frame;    /* the frame being built */
  size_t payload_size; /* declared payload size of the current frame */
  char *pbuf;          /* split-payload buffer (payload bytes only) */
  size_t pbuf_len;
  size_t pbuf_cap;
  unsigned gen;     /* bumped by reset and free, to notice them in a callback */
  int pause;        /* nm_parser_pause was called from the callback */
  uint64_t frames;  /* frames emitted since init */
  uint64_t bytes;   /* bytes consumed since init */
  size_t frame_end; /* in a callback: offset in the fed buffer after it */
  char errmsg[160];
};

/* Sets the parser up with the default limits: max control line
 * NM_DEFAULT_MAX_CONTROL_LINE, max payload NM_DEFAULT_MAX_PAYLOAD in
 * client-ops mode and no limit (-1) in server-ops mode; no flags. Allocates
 * nothing (buffers come on the first split). Returns 0 or NM_EINVAL. */
int nm_parser_init(nm_parser_t *p, nm_parse_mode_t mode, nm_frame_cb cb,
                   void *data);
/* From inside the frame callback: the feed stops right after this frame and
 * returns the bytes consumed so far, the parser intact at the start of the
 * next op; feed the rest later. (The server stops a fast producer this way,
 * between two of its messages.) Outside a callback it does nothing. */
void nm_parser_pause(nm_parser_t *p);
/* Frees what init and split payloads allocated. */
void nm_parser_free(nm_parser_t *p);
/* Back to the start state, error cleared, limits and flags kept. */
void nm_parser_reset(nm_parser_t *p);

/* `max_control_line` 0 means the default; above NM_PARSER_SCRATCH_MAX it is
 * capped; below 0 every argument is over it (nats-server's int32 compare).
 * `max_payload` -1 means no limit (up to NM_PARSER_HARD_MAX_PAYLOAD); below
 * -1 every payload is over it (nats-server 2.9.10 does the same). */
void nm_parser_set_limits(nm_parser_t *p, int64_t max_control_line,
                          int64_t max_payload);
void nm_parser_set_flags(nm_parser_t *p, unsigned flags);
unsigned nm_parser_flags(const nm_parser_t *p);

/* Feeds bytes. Returns the number consumed (== len unless an error or a
 * callback stopped it), or a negative nm_ code: NM_EPROTO (unknown op, bad
 * args, headers off, auth), NM_ETOOBIG (control line or payload limit),
 * NM_ECALLBACK. nm_parser_error tells which nats-server reaction applies. */
ssize_t nm_parser_feed(nm_parser_t *p, const char *buf, size_t len);

/* In a frame callback: how many bytes of the buffer being fed come before
 * the end of this frame (its last byte is at offset result - 1). A frame
 * that began in earlier feeds began in those buffers: a caller that needs
 * the frame's exact bytes (the proxy forwards them) keeps the tail of each
 * buffer after the last frame end. */
size_t nm_parser_frame_end(const nm_parser_t *p);

nm_perr_t nm_parser_error(const nm_parser_t *p);
/* A short human text for the last error, with a snippet of the input. */
const char *nm_parser_errmsg(const nm_parser_t *p);
/* True while a frame is partly received (used by tests and the harness). */
int nm_parser_in_frame(const nm_parser_t *p);
/* While the payload of a PUB/HPUB (MSG/HMSG) is still being received: that
 * frame, with its control-line fields set and no payload yet; else NULL.
 * Valid until the next feed. (The server needs it because nats-server parses
 * a PUB's arguments a second time when the payload is split.) */
const nm_frame_t *nm_parser_pending_payload(const nm_parser_t *p);

const char *nm_op_name(nm_op_t op);

/* Parses a decimal non-negative size as nats-server 2.9.10's parseSize does:
 * 1 to 9 digits, no sign, no blanks. Returns -1 for an empty, non-numeric or
 * longer slice (2.9.10 closes on `PUB foo 0000000005`, a 10-digit size). */
int64_t nm_parse_size(nm_slice_t s);

#endif
