/* One NATS protocol frame as the parser hands it out: the op and slices of
 * its fields. Public (installed as <natsmock/nm_frame.h>): the server's
 * observer (natsmock.h) reports frames in this shape. libc only. */
#ifndef NM_FRAME_H
#define NM_FRAME_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A view of bytes owned by someone else; not NUL-terminated. */
typedef struct {
  const char *p;
  size_t n;
} nm_slice_t;

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
  /* PUB HPUB MSG HMSG: the (total) size as sent, and for HPUB HMSG the header
   * size as sent. nats-server echoes these texts in the MSG/HMSG it delivers
   * (`PUB foo 02` reaches subscribers as `MSG foo 1 02`): see
   * nm_encode_msg_sized. */
  nm_slice_t size_text;
  nm_slice_t hdr_text;
  /* The control line as received, without its line terminator (CR LF or LF).
   * For a split line this is the reassembled copy. */
  nm_slice_t line;
} nm_frame_t;

#ifdef __cplusplus
}
#endif

#endif
