/* /bin/sh -c for the harness's child processes (see nm_spawn.h). */
#include <string.h>

#include "nm_spawn.h"

int nm__spawn_sh(uv_loop_t *loop, uv_process_t *proc, const char *script,
                 uv_exit_cb exit_cb, uv_stdio_container_t stdio[3]) {
  uv_process_options_t o;
  char *args[4];
  args[0] = "/bin/sh";
  args[1] = "-c";
  args[2] = (char *)script; /* uv_spawn does not write to its arguments */
  args[3] = NULL;
  memset(&o, 0, sizeof(o));
  o.file = args[0];
  o.args = args;
  o.exit_cb = exit_cb;
  o.stdio = stdio;
  o.stdio_count = 3;
  return uv_spawn(loop, proc, &o);
}
