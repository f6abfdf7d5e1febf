/* Sequenced payloads (DRIVER-PROTOCOL.md): message k is the decimal k,
 * padded with '.' to the requested size. No allocation, no I/O. */
#include "nm_seq.h"

#include <string.h>

size_t nm_seq_payload(uint64_t k, size_t size, char *out, size_t cap) {
  char digits[20];
  size_t nd = 0, total;

  do {
    digits[nd++] = (char)('0' + (k % 10));
    k /= 10;
  } while (k != 0);
  total = size > nd ? size : nd;
  if (out == NULL || cap < total)
    return 0;
  for (size_t i = 0; i < nd; i++)
    out[i] = digits[nd - 1 - i];
  if (total > nd)
    memset(out + nd, '.', total - nd);
  return total;
}

int nm_seq_read(const char *p, size_t n, uint64_t *k) {
  uint64_t v = 0;
  size_t i;

  for (i = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
    unsigned d = (unsigned)(p[i] - '0');
    /* A number too long for 64 bits is not a sequence number. */
    if (v > (UINT64_MAX - d) / 10)
      return 0;
    v = v * 10 + d;
  }
  if (i == 0)
    return 0;
  if (k != NULL)
    *k = v;
  return 1;
}
