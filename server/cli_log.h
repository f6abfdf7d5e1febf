/* The program's log, in nats-server's line shape: "[pid] date time.micros
 * [LVL] text" (the date left out with -T=false), on stderr or in the -l
 * file, reopened on SIGUSR1 for log rotation. */
#ifndef NM_CLI_LOG_H
#define NM_CLI_LOG_H

#include <stddef.h>

#include "go_duration.h" /* nm_go_strerror */

/* Logs to path (appending, created 0660 as nats-server does) from now on.
 * Returns 0, or -1 with Go's "open PATH: no such file or directory" in err. */
int nm_log_open(const char *path, char *err, size_t errlen);
/* Reopens the -l file (after it was moved away). Returns 0 or -1. */
int nm_log_reopen(char *err, size_t errlen);
void nm_log_set_time(int on);
void nm_log_close(void);
void nm_log(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
