/* Names for natsmock's own error codes. No allocation, no I/O. */
#include "nm_errors.h"

#include <stddef.h>

const char *nm_errname(int err) {
  switch (err) {
  case NM_EPROTO:
    return "protocol violation";
  case NM_ETOOBIG:
    return "over the size limit";
  case NM_ENOMEM:
    return "out of memory";
  case NM_ESLOW:
    return "slow consumer";
  case NM_ECALLBACK:
    return "stopped by a callback";
  case NM_EINVAL:
    return "invalid argument";
  case NM_ETIMEOUT:
    return "timed out";
  case NM_ECLOSED:
    return "closed";
  case NM_EAUTH:
    return "authorization failed";
  case NM_ESTATE:
    return "not allowed in this state";
  }
  return NULL;
}
