/* Secrets out of everything natsmock writes for people to read: the -V/-DV
 * protocol trace, the harness's reports (console, JSON, JUnit, HTML) and its
 * --trace files. One rule, here, for all of them. libc only.
 *
 * Text (a CONNECT line as received): nats-server 2.9.10's rule
 * (client.go removePassFromTrace): the value after a key that starts with
 * `pass` (`pass`, `password`, ...), written `"pass":"v"`, `pass: v` or
 * `pass=v`, up to the next `"`, `,`, `}`, CR or LF, becomes `[REDACTED]`.
 * Two deliberate differences, both toward hiding more: every match is
 * redacted (2.9.10 stops after the first, so a second "pass" key is written
 * in clear), and `auth_token` values are redacted the same way (nats-server
 * does that from 2.11.10 on; 2.9.10 writes the token in clear).
 *
 * JSON members (driver commands, scenario server blocks): a member whose key
 * nm_redact_key accepts has its value replaced by the string `[REDACTED]`. */
#ifndef NM_REDACT_H
#define NM_REDACT_H

#include <stddef.h>

#include "nm_buf.h"

#define NM_REDACTED "[REDACTED]"

/* Appends text[0..n) to out with every secret value replaced. Returns 0, or
 * the nm_buf_append error (out's limit or memory; out may then hold part). */
int nm_redact_append(nm_buf_t *out, const char *text, size_t n);
/* 1 when text[0..n) holds a value nm_redact_append would replace. */
int nm_redact_needed(const char *text, size_t n);
/* 1 for a JSON key whose value is a secret: one starting with "pass"
 * (pass, password, ...), "token" (the driver protocol's and the scenario
 * server block's name) and "auth_token" (CONNECT's). */
int nm_redact_key(const char *key);

#endif
