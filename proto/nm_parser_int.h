/* Internal to the parser's files (nm_parser*.c): the states and the pieces
 * shared between the feed loop, the frame builder and the accessors. */
#ifndef NM_PARSER_INT_H
#define NM_PARSER_INT_H

#include "nm_parser.h"

enum {
  ST_START = 0,  /* before the first byte of an op */
  ST_OPNAME,     /* inside the op name */
  ST_NEED_BLANK, /* after PUB/SUB/...: one SP or TAB is required */
  ST_BLANKS,     /* skipping blanks before the argument part */
  ST_ARG,        /* inside the argument part, up to LF */
  ST_SKIP,       /* PING/PONG/+OK: everything up to LF is ignored */
  ST_PAYLOAD,    /* collecting payload bytes */
  ST_END_R,      /* payload done, CR required */
  ST_END_N,      /* CR seen, LF required */
};

/* Fills p->frame from a complete control line: `line` holds `n` bytes (no
 * LF), the argument part starts at `arg_off` and is `arg_n` bytes long (a
 * dropped CR already excluded). Sets p->payload_size for payload ops.
 * Returns NM_PERR_NONE or the classification of what is wrong. */
nm_perr_t nm__parser_build_frame(nm_parser_t *p, const char *line, size_t n,
                                 size_t arg_off, size_t arg_n);
/* Empties the frame fields a PUB never sets (the frame builder and the PUB
 * fast path both start with it). Field by field: a memset of the struct
 * compiles to `rep stos`, which costs more than the rest of a small PUB's
 * parse; and one statement each, because a chained assignment reloads every
 * 16-byte slice right after its two 8-byte stores (a store-forwarding stall
 * that cost a third of the fast path). */
static inline void nm__frame_clear_args(nm_frame_t *f) {
  const nm_slice_t none = {NULL, 0};
  f->queue = none;
  f->sid = none;
  f->max = none;
  f->json = none;
  f->text = none;
  f->hdr_text = none;
}
/* Back to the start state after a frame; frees a large payload buffer. */
void nm__parser_frame_reset(nm_parser_t *p);

#endif
