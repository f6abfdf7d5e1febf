/* Frame encoders: every op of the client protocol, byte for byte as
 * nats-server 2.9.10 (server ops) and nats.c / nats.go (client ops) write
 * them. Each appends one whole frame to `b` and returns 0, NM_ETOOBIG (the
 * buffer's limit; nothing appended) or NM_ENOMEM (or NM_EINVAL for an HMSG
 * or HPUB whose hdr_len exceeds the payload). libc only. */
#ifndef NM_ENCODE_H
#define NM_ENCODE_H

#include "nm_buf.h"
#include "nm_parser.h"

/* Server to client. */
/* "INFO " json " \r\n" (note the space before CRLF, as 2.9.10 sends). */
int nm_encode_info(nm_buf_t *b, nm_slice_t json);
/* "MSG subj sid [reply] size\r\n" payload "\r\n" */
int nm_encode_msg(nm_buf_t *b, nm_slice_t subject, nm_slice_t sid,
                  nm_slice_t reply, nm_slice_t payload);
/* "HMSG subj sid [reply] hdr_len total\r\n" payload "\r\n"; payload holds the
 * header block then the body. */
int nm_encode_hmsg(nm_buf_t *b, nm_slice_t subject, nm_slice_t sid,
                   nm_slice_t reply, size_t hdr_len, nm_slice_t payload);
/* MSG or HMSG with the size fields written as given: nats-server echoes a
 * publisher's size texts (frame.size_text / frame.hdr_text, e.g. "02") in
 * what it delivers. HMSG when hdr_text is not empty, else MSG; an empty
 * size_text is computed from the payload. The texts are not checked. */
int nm_encode_msg_sized(nm_buf_t *b, nm_slice_t subject, nm_slice_t sid,
                        nm_slice_t reply, nm_slice_t hdr_text,
                        nm_slice_t size_text, nm_slice_t payload);
int nm_encode_ping(nm_buf_t *b);
int nm_encode_pong(nm_buf_t *b);
int nm_encode_ok(nm_buf_t *b);
/* "-ERR 'text'\r\n" */
int nm_encode_err(nm_buf_t *b, const char *text);

/* Client to server. */
int nm_encode_connect(nm_buf_t *b, nm_slice_t json);
/* "PUB subj [reply] size\r\n" payload "\r\n" */
int nm_encode_pub(nm_buf_t *b, nm_slice_t subject, nm_slice_t reply,
                  nm_slice_t payload);
int nm_encode_hpub(nm_buf_t *b, nm_slice_t subject, nm_slice_t reply,
                   size_t hdr_len, nm_slice_t payload);
/* "SUB subj [queue] sid\r\n" */
int nm_encode_sub(nm_buf_t *b, nm_slice_t subject, nm_slice_t queue,
                  nm_slice_t sid);
/* "UNSUB sid\r\n" or "UNSUB sid max\r\n" (max < 0: none) */
int nm_encode_unsub(nm_buf_t *b, nm_slice_t sid, long long max);

/* Builds a slice from a C string (NULL gives {NULL, 0}). */
nm_slice_t nm_slice_str(const char *s);

#endif
