/* Subject validation and wildcard matching, exactly as nats-server 2.9.10
 * (docs/design.md, "Subjects, queue groups, UNSUB max"). libc only. */
#ifndef NM_SUBJECT_H
#define NM_SUBJECT_H

#include "nm_parser.h"

/* A subscription subject as 2.9.10's SUB accepts it (Sublist.Insert):
 * non-empty tokens separated by '.', nothing after a '>' token ('*' and '>'
 * are wildcards only as whole tokens). 2.9.10 does NOT reject whitespace
 * inside a token here (`SUB a\fb 1` gets +OK; test_subject.c checks this
 * against the real server), so neither does this. Returns 1 when valid. */
int nm_subject_valid(nm_slice_t s);
/* A publish subject under pedantic mode (IsValidLiteralSubject): non-empty
 * tokens and no '*' or '>' token. */
int nm_subject_valid_literal(nm_slice_t s);
/* Does the literal subject match the (possibly wildcard) pattern? '*' is one
 * token, '>' one or more trailing tokens. A subject with an empty token
 * matches nothing. */
int nm_subject_matches(nm_slice_t pattern, nm_slice_t subject);

#endif
