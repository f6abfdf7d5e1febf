/* Error codes shared by every natsmock part.
 *
 * The convention is libuv's: 0 (or a non-negative count) is success, a
 * negative value is an error. libuv's own codes run from -1 to -4095, so ours
 * start at -5001 and a libuv code can be passed through unchanged. */
#ifndef NM_ERRORS_H
#define NM_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
  NM_EPROTO = -5001,    /* the peer violated the protocol */
  NM_ETOOBIG = -5002,   /* control line or payload over its limit */
  NM_ENOMEM = -5003,    /* an allocation failed */
  NM_ESLOW = -5004,     /* slow consumer: pending output over its limit */
  NM_ECALLBACK = -5005, /* a parser callback asked the parser to stop */
  NM_EINVAL = -5006,    /* a bad argument from the caller */
  NM_ETIMEOUT = -5007,  /* a deadline passed */
  NM_ECLOSED = -5008,   /* the connection or object is closed */
  NM_EAUTH = -5009,     /* authorization failed */
  NM_ESTATE = -5010,    /* not allowed in the current state */
};

/* Returns a static description of an nm_ code, or NULL when `err` is not one
 * (callers that link libuv then defer to uv_strerror). */
const char *nm_errname(int err);

#ifdef __cplusplus
}
#endif

#endif
