/* libFuzzer target for the parser. The first two input bytes choose a split
 * point and the parser's options; the rest is fed in both modes, whole and in
 * two pieces. It asserts that nothing crashes (ASan/UBSan do the rest), that
 * a feed never reports more bytes than it was given, and that the split run
 * emits the same frames (every field, frame.line included) and ends in the
 * same error as the whole run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_parser.h"

typedef struct {
  uint64_t digest; /* FNV-1a over every frame's fields */
  unsigned frames;
} fz_run_t;

static void mix(uint64_t *h, const void *p, size_t n) {
  const unsigned char *s = p;
  size_t i;
  for (i = 0; i < n; i++) {
    *h ^= s[i];
    *h *= 1099511628211ull;
  }
}

static void mix_slice(uint64_t *h, nm_slice_t s) {
  unsigned char sep = 0xff;
  mix(h, &s.n, sizeof(s.n));
  if (s.n > 0)
    mix(h, s.p, s.n);
  mix(h, &sep, 1);
}

static int fz_cb(nm_parser_t *p, const nm_frame_t *f) {
  fz_run_t *r = p->data;
  uint64_t *h = &r->digest;

  r->frames++;
  mix(h, &f->op, sizeof(f->op));
  mix_slice(h, f->subject);
  mix_slice(h, f->reply);
  mix_slice(h, f->queue);
  mix_slice(h, f->sid);
  mix_slice(h, f->max);
  mix_slice(h, f->json);
  mix_slice(h, f->text);
  mix_slice(h, f->payload);
  mix(h, &f->hdr_len, sizeof(f->hdr_len));
  mix_slice(h, f->size_text);
  mix_slice(h, f->hdr_text);
  mix_slice(h, f->line);
  if (f->line.n > 0 && f->line.p == NULL)
    abort();
  /* As a server would: CONNECT turns headers on and ends EXPECT_CONNECT. */
  if (f->op == NM_OP_CONNECT)
    nm_parser_set_flags(p, (nm_parser_flags(p) | NM_PARSER_HEADERS) &
                               ~(unsigned)NM_PARSER_EXPECT_CONNECT);
  return 0;
}

/* Feeds data in pieces cut at `cut` (cut >= n: whole). */
static nm_perr_t run(nm_parse_mode_t mode, unsigned opts, const uint8_t *data,
                     size_t n, size_t cut, fz_run_t *r) {
  static const size_t mcl[4] = {0, 16, 64, 1};
  static const int64_t mpay[4] = {NM_DEFAULT_MAX_PAYLOAD, 0, 10, -1};
  nm_parser_t p;
  nm_perr_t why;
  ssize_t rv;
  size_t at = 0;

  memset(r, 0, sizeof(*r));
  r->digest = 1469598103934665603ull;
  if (nm_parser_init(&p, mode, fz_cb, r) != 0)
    abort();
  nm_parser_set_limits(&p, mcl[(opts >> 2) & 3], mpay[(opts >> 4) & 3]);
  nm_parser_set_flags(&p, opts & 3);
  while (at < n) {
    size_t end = (cut > at && cut < n) ? cut : n;
    rv = nm_parser_feed(&p, (const char *)data + at, end - at);
    if (rv >= 0 && (size_t)rv != end - at)
      abort(); /* consumed must be all or an error */
    if (rv < 0)
      break;
    at = end;
  }
  why = nm_parser_error(&p);
  nm_parser_free(&p);
  return why;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t n, cut;
  unsigned opts;
  int mode;

  if (size < 2)
    return 0;
  opts = data[1];
  n = size - 2;
  cut = n ? (size_t)data[0] * n / 255 : 0;
  for (mode = 0; mode < 2; mode++) {
    fz_run_t whole, split;
    nm_perr_t a = run((nm_parse_mode_t)mode, opts, data + 2, n, n, &whole);
    nm_perr_t b = run((nm_parse_mode_t)mode, opts, data + 2, n, cut, &split);
    if (a != b || whole.frames != split.frames ||
        whole.digest != split.digest) {
      fprintf(stderr, "split %zu of %zu differs: perr %d/%d frames %u/%u\n",
              cut, n, a, b, whole.frames, split.frames);
      abort();
    }
  }
  return 0;
}
