/* Starting a child process through /bin/sh, shared by the driver processes
 * and the real nats-server the harness runs. */
#ifndef NM_SPAWN_H
#define NM_SPAWN_H

#include <uv.h>

/* Spawns `/bin/sh -c script` on loop into proc, with the three stdio
 * containers given and exit_cb called when it ends. The script should start
 * with "exec " so that the shell is replaced and signals reach the program.
 * Returns uv_spawn's result (0 or a negative uv error). */
int nm__spawn_sh(uv_loop_t *loop, uv_process_t *proc, const char *script,
                 uv_exit_cb exit_cb, uv_stdio_container_t stdio[3]);

#endif
