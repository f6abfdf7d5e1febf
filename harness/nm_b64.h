/* Base64 (RFC 4648, with padding) for trace payloads and data_b64 fields. */
#ifndef NM_B64_H
#define NM_B64_H

#include <stddef.h>

/* Encodes n bytes into out (capacity cap, NUL-terminated). Returns the
 * length, or 0 when cap < nm__b64_enc_len(n) + 1. */
size_t nm__b64_encode(const void *p, size_t n, char *out, size_t cap);
size_t nm__b64_enc_len(size_t n);
/* Decodes text (whitespace not allowed) into out (capacity cap). Returns the
 * decoded length, or -1 for bad input or a short buffer. */
long nm__b64_decode(const char *s, size_t n, void *out, size_t cap);

#endif
