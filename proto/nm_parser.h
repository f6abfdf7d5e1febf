/* The NATS client-protocol parser: a pure, incremental byte state machine.
 *
 * One parser serves both directions:
 *  - NM_PARSE_CLIENT_OPS: what a server reads from a client (CONNECT, PUB,
 *    HPUB, SUB, UNSUB, PING, PONG, INFO, +OK, -ERR), exactly as
 *    nats-server 2.9.10 lexes them (see ../shared/PROTOCOL.md A1, A2).
 *  - NM_PARSE_SERVER_OPS: what a client reads from a server (INFO, MSG, HMSG,
 *    PING, PONG, +OK, -ERR).
 *
 * No I/O, no allocation. Fed any split of its input, it emits the same frames
 * in the same order. A control line split across feeds is reassembled in the
 * parser's bounded scratch buffer; a payload split across feeds is gathered in
 * a payload buffer the caller provides (nm_parser_set_payload_buf) or, when
 * none is set, one the parser grows with realloc up to max_payload + 2.
 * Payloads wholly inside one fed buffer are handed out zero-copy.
 *
 * Errors are sticky: after a negative return every later feed returns the
 * same error until nm_parser_reset. */
#ifndef NM_PARSER_H
#define NM_PARSER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nm_errors.h"

/* nats-server's MAX_CONTROL_LINE_SIZE: the default limit on the argument part
 * of a control line (everything after the op name and its blanks). */
#define NM_DEFAULT_MAX_CONTROL_LINE 4096
/* nats-server's MAX_PAYLOAD_SIZE default (1 MiB). */
#define NM_DEFAULT_MAX_PAYLOAD (1024 * 1024)
/* The scratch buffer holds one control line, so it bounds max_control_line.
 * nats-server lets a configured limit go higher; natsmock caps it here. */
#define NM_PARSER_SCRATCH_MAX (64 * 1024)

typedef struct {
  const char *p;
  size_t n;
} nm_slice_t;

typedef enum {
  NM_PARSE_CLIENT_OPS = 0, /* server side: parse what clients send */
  NM_PARSE_SERVER_OPS = 1, /* client side: parse what servers send */
} nm_parse_mode_t;

typedef enum {
  NM_OP_NONE = 0,
  NM_OP_CONNECT,
  NM_OP_INFO,
  NM_OP_PUB,
  NM_OP_HPUB,
  NM_OP_SUB,
  NM_OP_UNSUB,
  NM_OP_MSG,
  NM_OP_HMSG,
  NM_OP_PING,
  NM_OP_PONG,
  NM_OP_OK,
  NM_OP_ERR,
} nm_op_t;

/* Why parsing stopped. Each maps to exactly one nats-server reaction, which
 * the server applies (the parser only classifies):
 *   UNKNOWN_OP       -ERR 'Unknown Protocol Operation', close
 *   CONTROL_LINE     -ERR 'maximum control line exceeded', close
 *   MAX_PAYLOAD      -ERR 'Maximum Payload Violation', close
 *   BAD_ARGS         silent close (wrong argument count, bad size, hdr > total,
 *                    non-numeric sid in client mode)
 *   HEADERS_OFF      silent close (HPUB when headers are not enabled)
 *   AUTH             -ERR 'Authorization Violation', close (an op other than
 *                    CONNECT while NM_PARSER_EXPECT_CONNECT is set)
 *   CALLBACK         the frame callback returned non-zero */
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

/* One parsed frame. Slices point into the fed buffer or into the parser's own
 * buffers and are valid only during the callback: copy what you keep. Fields
 * an op does not have are {NULL, 0}. */
typedef struct {
  nm_op_t op;
  nm_slice_t subject; /* PUB HPUB SUB MSG HMSG */
  nm_slice_t reply;   /* PUB HPUB MSG HMSG, when present */
  nm_slice_t queue;   /* SUB, when present */
  nm_slice_t sid;     /* SUB UNSUB MSG HMSG */
  nm_slice_t max;     /* UNSUB, when present */
  nm_slice_t json; /* CONNECT INFO: the argument text, untrimmed at the end */
  nm_slice_t text; /* -ERR: the argument text as sent (quotes included) */
  nm_slice_t payload; /* PUB HPUB MSG HMSG: header block + body, no CRLF */
  size_t hdr_len;     /* HPUB HMSG: header block length; else 0 */
  /* The control line as received, without its line terminator (CR LF or LF).
   * For a split line this is the reassembled copy. */
  nm_slice_t line;
} nm_frame_t;

typedef struct nm_parser_s nm_parser_t;

/* Called once per complete frame. Return 0 to go on; non-zero stops the feed
 * with NM_ECALLBACK (sticky; nm_parser_error gives NM_PERR_CALLBACK). The
 * callback may change the parser's flags and limits (e.g. enable headers after
 * CONNECT); the change applies from the next frame. */
typedef int (*nm_frame_cb)(nm_parser_t *p, const nm_frame_t *f);

/* Flags, changeable between frames (nm_parser_set_flags). */
enum {
  /* HPUB is allowed (the client's CONNECT said "headers":true). Without it an
   * HPUB is NM_PERR_HEADERS_OFF, as nats-server checks before its args. */
  NM_PARSER_HEADERS = 1u << 0,
  /* Auth is required and CONNECT has not been processed: the first byte of
   * any op other than C/c is NM_PERR_AUTH. */
  NM_PARSER_EXPECT_CONNECT = 1u << 1,
};

/* Private: the fields below are public only so that the struct can be
 * embedded without allocation. Touch them through the functions. */
struct nm_parser_s {
  nm_parse_mode_t mode;
  unsigned flags;
  size_t max_control_line; /* argument part, as nats-server counts it */
  int64_t max_payload;     /* < 0 means no limit */
  nm_frame_cb cb;
  void *data; /* for the caller; the parser never touches it */

  int state;
  nm_op_t op;
  int err;              /* sticky nm_ error code, 0 when healthy */
  nm_perr_t why;        /* sticky classification */
  size_t arg_start_len; /* bytes of op name + blanks in scratch */
  size_t line_len;      /* bytes of the current control line in scratch */
  int drop_cr;
  char *scratch; /* NM_PARSER_SCRATCH_MAX bytes, allocated by init */
  size_t scratch_cap;
  nm_frame_t frame;    /* the frame being built (args point into scratch) */
  size_t payload_need; /* bytes still missing from a split payload */
  char *pbuf;          /* split-payload buffer */
  size_t pbuf_len;
  size_t pbuf_cap;
  int pbuf_owned;
  uint64_t frames; /* frames emitted since init */
  uint64_t bytes;  /* bytes consumed since init */
  char errsnip[96];
};

/* Sets the parser up. `max_control_line` 0 means the default; values above
 * NM_PARSER_SCRATCH_MAX are capped. `max_payload` < 0 means no limit.
 * Allocates the scratch buffer. Returns 0 or NM_ENOMEM. */
int nm_parser_init(nm_parser_t *p, nm_parse_mode_t mode, nm_frame_cb cb,
                   void *data);
/* Frees what init and split payloads allocated. */
void nm_parser_free(nm_parser_t *p);
/* Back to the start state, error cleared, limits and flags kept. */
void nm_parser_reset(nm_parser_t *p);

void nm_parser_set_limits(nm_parser_t *p, size_t max_control_line,
                          int64_t max_payload);
void nm_parser_set_flags(nm_parser_t *p, unsigned flags);
unsigned nm_parser_flags(const nm_parser_t *p);

/* Feeds bytes. Returns the number consumed (== len unless an error or a
 * callback stopped it), or a negative nm_ code: NM_EPROTO (unknown op, bad
 * args, headers off, auth), NM_ETOOBIG (control line or payload limit),
 * NM_ECALLBACK. nm_parser_error tells which nats-server reaction applies. */
ssize_t nm_parser_feed(nm_parser_t *p, const char *buf, size_t len);

nm_perr_t nm_parser_error(const nm_parser_t *p);
/* A short human text for the last error, with a snippet of the input. */
const char *nm_parser_errmsg(const nm_parser_t *p);
/* True while a frame is partly received (used by tests and the harness). */
int nm_parser_in_frame(const nm_parser_t *p);

const char *nm_op_name(nm_op_t op);

/* Parses a decimal non-negative size as nats-server's parseSize does: digits
 * only, no sign, at most 9 digits is NOT required; overflow of int64 gives -1.
 * Returns -1 for an empty or non-numeric slice. */
int64_t nm_parse_size(nm_slice_t s);

#endif
