/* Subject validation and wildcard matching, exactly as nats-server 2.9.10
 * (PROTOCOL.md A6). libc only. */
#ifndef NM_SUBJECT_H
#define NM_SUBJECT_H

#include "nm_parser.h"

/* A subscription subject: non-empty tokens separated by '.', no whitespace
 * inside a token, '*' and '>' wildcards only as whole tokens, nothing after
 * '>'. Returns 1 when valid. */
int nm_subject_valid(nm_slice_t s);
/* A publish subject under pedantic mode: valid and no wildcard token. */
int nm_subject_valid_literal(nm_slice_t s);
/* Does the literal subject match the (possibly wildcard) pattern? '*' is one
 * token, '>' one or more trailing tokens. A subject with an empty token
 * matches nothing. */
int nm_subject_matches(nm_slice_t pattern, nm_slice_t subject);

#endif
