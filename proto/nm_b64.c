/* Base64 through libsodium (nm_b64.h). */
#include "nm_b64.h"

#include <limits.h>
#include <sodium/utils.h>

#define NM_B64_VARIANT sodium_base64_VARIANT_ORIGINAL

size_t nm_b64_enc_len(size_t n) {
  /* ENCODED_LEN counts the NUL. */
  return sodium_base64_ENCODED_LEN(n, NM_B64_VARIANT) - 1;
}

size_t nm_b64_dec_max(size_t n) {
  return n / 4 * 3 + 3;
}

ssize_t nm_b64_encode(const void *p, size_t n, char *out, size_t cap) {
  size_t len = nm_b64_enc_len(n);
  if (out == NULL || cap < len + 1 || len > (size_t)SSIZE_MAX)
    return -1;
  sodium_bin2base64(out, cap, p, n, NM_B64_VARIANT);
  return (ssize_t)len;
}

ssize_t nm_b64_decode(const char *s, size_t n, void *out, size_t cap) {
  size_t len = 0;
  /* No ignored characters; a NULL end pointer makes any unread rest (a
   * character after the padding) an error. */
  if (sodium_base642bin(out, cap, s, n, NULL, &len, NULL, NM_B64_VARIANT) != 0)
    return -1;
  return len > (size_t)SSIZE_MAX ? -1 : (ssize_t)len;
}
