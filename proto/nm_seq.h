/* Sequenced payloads (DRIVER-PROTOCOL.md): the k-th message (k from 1) is the
 * decimal number k, padded with '.' up to `size` bytes when size is larger.
 * Shared by the mock's phantom publisher, the drivers and the harness. */
#ifndef NM_SEQ_H
#define NM_SEQ_H

#include <stddef.h>
#include <stdint.h>

/* Writes the payload of message k into out (capacity cap). Returns its length
 * (max(size, digits of k)), or 0 when cap is too small. */
size_t nm_seq_payload(uint64_t k, size_t size, char *out, size_t cap);
/* Reads the number at the start of a payload. Returns 1 and sets *k when the
 * payload starts with at least one digit, else 0. */
int nm_seq_read(const char *p, size_t n, uint64_t *k);

#endif
