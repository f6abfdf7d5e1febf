/* --signal / -sl: sends a running natsmock a command, as nats-server does
 * for itself: ldm (SIGUSR2), stop (SIGKILL), quit (SIGINT), term (SIGTERM),
 * reopen (SIGUSR1), reload (SIGHUP); `CMD=PID` or `CMD=PIDFILE`, or without a
 * pid the single running process named `prog`. */
#ifndef NM_CLI_SIGNAL_H
#define NM_CLI_SIGNAL_H

#include <stddef.h>

/* Returns 0 once sent, or -1 with nats-server's message in err. */
int nm_cli_signal(const char *spec, const char *prog, char *err, size_t errlen);

#endif
