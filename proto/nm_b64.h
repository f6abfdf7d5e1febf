/* Base64, the one codec of the project: RFC 4648 section 4 (the standard
 * alphabet, '=' padding), decoded strictly (no whitespace, no other
 * alphabet, padding required, unused bits zero). Trace payloads, the
 * "data_b64" fields of the driver protocol and of fault documents all go
 * through it. The work is libsodium's (sodium_bin2base64 and
 * sodium_base642bin); this wrapper fixes the variant and turns its size
 * rules (libsodium aborts on a short output buffer) into return codes. */
#ifndef NM_B64_H
#define NM_B64_H

#include <stddef.h>
#include <sys/types.h>

/* Characters the encoding of n bytes takes (without the NUL). */
size_t nm_b64_enc_len(size_t n);
/* The most bytes n characters of base64 can decode to. */
size_t nm_b64_dec_max(size_t n);
/* Encodes n bytes into out (capacity cap, NUL-terminated). Returns the
 * length, or -1 when cap < nm_b64_enc_len(n) + 1 (out untouched). */
ssize_t nm_b64_encode(const void *p, size_t n, char *out, size_t cap);
/* Decodes n characters into out (capacity cap). Returns the decoded length,
 * or -1 for input that is not strict base64 or does not fit. */
ssize_t nm_b64_decode(const char *s, size_t n, void *out, size_t cap);

#endif
