/* Base64, written for the harness's traces and data_b64 fields. */
#include "nm_b64.h"

static const char abc[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t nm__b64_enc_len(size_t n) {
  return (n + 2) / 3 * 4;
}

size_t nm__b64_encode(const void *p, size_t n, char *out, size_t cap) {
  const unsigned char *s = p;
  size_t o = 0, i;
  if (cap < nm__b64_enc_len(n) + 1)
    return 0;
  for (i = 0; i + 2 < n; i += 3) {
    unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
    out[o++] = abc[v >> 18 & 63];
    out[o++] = abc[v >> 12 & 63];
    out[o++] = abc[v >> 6 & 63];
    out[o++] = abc[v & 63];
  }
  if (i < n) {
    unsigned v =
        (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
    out[o++] = abc[v >> 18 & 63];
    out[o++] = abc[v >> 12 & 63];
    out[o++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
    out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}

static int val(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-')
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

long nm__b64_decode(const char *s, size_t n, void *out, size_t cap) {
  unsigned char *d = out;
  size_t o = 0;
  unsigned acc = 0;
  int bits = 0;
  while (n > 0 && s[n - 1] == '=')
    n--;
  for (size_t i = 0; i < n; i++) {
    int v = val(s[i]);
    if (v < 0)
      return -1;
    acc = acc << 6 | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o >= cap)
        return -1;
      d[o++] = (unsigned char)(acc >> bits & 0xff);
    }
  }
  return (long)o;
}
