/* Helpers shared by natsmock's C drivers (raw, nats-c) and the driver
 * checker: the JSON-lines output of DRIVER-PROTOCOL.md (one object a line,
 * written whole under a lock and flushed), and the payload rules of
 * the protocol (sequenced payloads, "data" versus "data_b64"). libc + cJSON
 * only; no I/O besides the output stream. */
#ifndef NM_DRV_UTIL_H
#define NM_DRV_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "nm_b64.h"

/* The longest command line a driver accepts: a max_payload (1 MiB) message
 * in base64 with headers fits with room to spare. */
#define NM_DRV_MAX_LINE (4 * 1024 * 1024)
/* The largest payload a driver builds or decodes for one message. */
#define NM_DRV_MAX_PAYLOAD (2 * 1024 * 1024)
/* A msg event carries its payload only up to this many bytes. */
#define NM_DRV_MSG_DATA_MAX 256

/* Sets the stream every line goes to (stdout when never called). */
void nm_drv_out_init(FILE *out);
/* Prints `obj` as one line, under a process-wide mutex, flushes, and deletes
 * `obj` (so callers can write nm_drv_emit(cJSON_...)). Returns 0, or -1 when
 * obj is NULL or printing failed. */
int nm_drv_emit(cJSON *obj);

/* Monotonic clock in microseconds. */
int64_t nm_drv_now_us(void);

/* {"ev":ev,"t":now}: an unsolicited event (the caller adds fields). */
cJSON *nm_drv_event(const char *ev);
/* {"id":id,"ev":"ok"} */
cJSON *nm_drv_ok(int64_t id);
/* {"id":id,"ev":"err","code":code,"error":text}; id < 0 leaves "id" out
 * (a line whose id could not be read). */
cJSON *nm_drv_err(int64_t id, const char *code, const char *text);

/* Base64: nm_b64_encode / nm_b64_decode of proto/nm_b64.h. */

/* 1 when p[0..n) is valid UTF-8 with no NUL byte. */
int nm_drv_is_text(const char *p, size_t n);

/* Adds the payload to an event as the protocol says: "data" when it is text,
 * else "data_b64"; nothing when it is longer than `max` bytes (max 0: no
 * limit). Also adds "seq" when the payload starts with digits. Returns 0 or
 * -1 (allocation). */
int nm_drv_add_payload(cJSON *o, const char *p, size_t n, size_t max);

/* The payload of the k-th publish (k from 1) of a publish/request command:
 * "data" (text) or "data_b64" when given, else the sequenced payload k padded
 * to "size". On success *out is malloc'd (free it) and *n set; returns 0, or
 * -1 with a reason in *why (static text). */
int nm_drv_payload(const cJSON *cmd, uint64_t k, char **out, size_t *n,
                   const char **why);

/* Reads an integer field; returns `def` when absent or not a number. */
int64_t nm_drv_int(const cJSON *o, const char *key, int64_t def);
/* Reads a boolean field; returns `def` when absent or not a boolean. */
int nm_drv_bool(const cJSON *o, const char *key, int def);
/* Reads a string field; NULL when absent or not a string. */
const char *nm_drv_str(const cJSON *o, const char *key);

/* Reads one line from `in` into buf (capacity cap, NUL-terminated, without
 * the '\n'). A longer line is consumed to its end and reported as too long.
 * Returns the length, -1 at end of input, or -2 for a line over cap - 1. */
ssize_t nm_drv_read_line(FILE *in, char *buf, size_t cap);

/* The command line every C driver shares: `--version` prints
 * "<name> <version>", `--help` prints `about` and the usage; anything else is
 * an error. Also points closed descriptors 0-2 at /dev/null, so that a driver
 * started with a closed stdin reads end of input instead of handing fd 0 to
 * a socket. Returns -1 to go on, or the exit status to return from main. */
int nm_drv_cli(int argc, char **argv, const char *name, const char *version,
               const char *about);

#endif
