/* Config reload (SIGHUP), as nats-server 2.9.10's Server.ReloadOptions: the
 * options read again the way they were at start are compared with the running
 * ones; one that cannot change while running fails the whole reload with
 * nats-server's "config reload not supported for Field: old=X, new=Y" and
 * nothing is applied; otherwise every change is applied, and logged with
 * nats-server's "Reloaded: ..." line, in the order of nats-server's Options
 * fields. An authorization change re-checks every client: one whose user is
 * no longer in the users list is closed without a word, one whose
 * credentials no longer pass gets -ERR 'Authorization Violation' and is
 * closed, and a subscription its new permissions refuse is removed with
 * -ERR 'Permissions Violation for Subscription to "x" (sid "1")'. */
#ifndef NM_RELOAD_H
#define NM_RELOAD_H

#include <stddef.h>

#include "natsmock.h"

/* One log line of the reload: level is "INF", "ERR" or "WRN". */
typedef void (*nm_reload_log_fn)(void *data, const char *level,
                                 const char *line);

/* cur: the options the server runs with, as its host sees them (the same
 * normalisation as next: nm_server_opts_baseline, port the bound one); next:
 * the new ones, read and validated as at start. Fields the library does not
 * use (debug, trace, logtime, log_file, pid_file, ports_file_dir,
 * max_traced_msg_len) are compared and logged only: the host applies them.
 * Returns 0, or NM_EINVAL with nats-server's message in err (nothing
 * changed). Call on the server's loop. */
int nm_server_reload(nm_server_t *s, const nm_server_opts_t *cur,
                     const nm_server_opts_t *next, nm_reload_log_fn log,
                     void *data, char *err, size_t errlen);

/* nats-server's setBaselineOptions for the fields natsmock has: 0 (and an
 * empty user or token) mean the default. nm_server_new applies it too. */
void nm_server_opts_baseline(nm_server_opts_t *o);

#endif
