/* The publisher: PUB frames encoded once, sent in large writes. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "nm_loadgen.h"

/* Subjects are short ("foo.999.bar", "sub.99999.x"). */
#define NM_LG_SUBJECT_MAX 128
/* Frames per writev when each frame is written from a shared payload. */
#define NM_LG_IOV_FRAMES 256

static size_t header(char *buf, size_t cap, nm_lg_subject_fn fn, size_t i,
                     size_t size) {
  char subj[NM_LG_SUBJECT_MAX];
  size_t n = fn(i, subj, sizeof(subj));
  int k = snprintf(buf, cap, "PUB %.*s %zu\r\n", (int)n, subj, size);
  if (k < 0 || (size_t)k >= cap)
    nm_lg_die("PUB header too long");
  return (size_t)k;
}

/* Small frames: the cycle of all subjects' frames, repeated into one chunk of
 * at least NM_LG_CHUNK_MIN bytes, written whole; the last write stops at a
 * frame boundary. */
static void publish_chunks(int fd, nm_lg_subject_fn fn, size_t nsubj,
                           long count, size_t size, size_t cycle_bytes) {
  size_t reps = NM_LG_CHUNK_MIN / cycle_bytes + 1, nframes = reps * nsubj;
  size_t *off = malloc((nframes + 1) * sizeof(*off));
  char *chunk = malloc(reps * cycle_bytes), *o = chunk;
  size_t i;
  long left = count;
  if (chunk == NULL || off == NULL)
    nm_lg_die("out of memory for a %zu-byte chunk", reps * cycle_bytes);
  for (i = 0; i < nframes; i++) {
    off[i] = (size_t)(o - chunk);
    o += header(o, NM_LG_SUBJECT_MAX + 32, fn, i % nsubj, size);
    memset(o, 'x', size);
    o += size;
    memcpy(o, "\r\n", 2);
    o += 2;
  }
  off[nframes] = (size_t)(o - chunk);
  while (left > 0) {
    size_t k = (size_t)left < nframes ? (size_t)left : nframes;
    if (nm_lg_write_all(fd, chunk, off[k]) < 0)
      nm_lg_die("publishing: %s", strerror(errno));
    left -= (long)k;
  }
  free(chunk);
  free(off);
}

/* Large frames: each subject's header once, one payload shared by every
 * frame, NM_LG_IOV_FRAMES frames per writev. */
static void publish_iov(int fd, nm_lg_subject_fn fn, size_t nsubj, long count,
                        size_t size) {
  char *hdrs = malloc(nsubj * (NM_LG_SUBJECT_MAX + 32));
  size_t *hlen = malloc(nsubj * sizeof(*hlen)), i;
  char *payload = malloc(size + 2);
  struct iovec iov[2 * NM_LG_IOV_FRAMES];
  long sent = 0;
  if (hdrs == NULL || hlen == NULL || payload == NULL)
    nm_lg_die("out of memory for %zu headers", nsubj);
  for (i = 0; i < nsubj; i++)
    hlen[i] = header(hdrs + i * (NM_LG_SUBJECT_MAX + 32),
                     NM_LG_SUBJECT_MAX + 32, fn, i, size);
  memset(payload, 'x', size);
  memcpy(payload + size, "\r\n", 2);
  while (sent < count) {
    int n = 0, at = 0;
    while (n < NM_LG_IOV_FRAMES && sent + n < count) {
      size_t s = (size_t)(sent + n) % nsubj;
      iov[2 * n].iov_base = hdrs + s * (NM_LG_SUBJECT_MAX + 32);
      iov[2 * n].iov_len = hlen[s];
      iov[2 * n + 1].iov_base = payload;
      iov[2 * n + 1].iov_len = size + 2;
      n++;
    }
    /* writev may stop anywhere: advance through the iovecs. */
    while (at < 2 * n) {
      ssize_t w = writev(fd, iov + at, 2 * n - at);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        nm_lg_die("publishing: %s", strerror(errno));
      while (at < 2 * n && (size_t)w >= iov[at].iov_len) {
        w -= (ssize_t)iov[at].iov_len;
        at++;
      }
      if (at < 2 * n) {
        iov[at].iov_base = (char *)iov[at].iov_base + w;
        iov[at].iov_len -= (size_t)w;
      }
    }
    sent += n;
  }
  free(hdrs);
  free(hlen);
  free(payload);
}

void nm_lg_publish(int fd, nm_lg_subject_fn fn, size_t nsubj, long count,
                   size_t size) {
  char buf[NM_LG_SUBJECT_MAX + 32];
  size_t cycle = 0, i;
  for (i = 0; i < nsubj && cycle <= NM_LG_CYCLE_MAX; i++)
    cycle += header(buf, sizeof(buf), fn, i, size) + size + 2;
  if (cycle <= NM_LG_CYCLE_MAX && size < NM_LG_CHUNK_MIN / 4)
    publish_chunks(fd, fn, nsubj, count, size, cycle);
  else
    publish_iov(fd, fn, nsubj, count, size);
}
