/* Users and permissions as nats-server 2.9.10 applies them: the user a
 * CONNECT authenticates as (user/password, token, users list, no_auth_user),
 * and that user's publish/subscribe allow and deny lists, allow_responses,
 * and the delivery filter a wildcard subscription gets when it overlaps a
 * subscribe deny (client.go: canSubscribe, pubAllowedFullCheck, deliverMsg).
 * Only connections with permissions pay for any of it. */
#ifndef NM_AUTH_H
#define NM_AUTH_H

#include <stdint.h>

#include "natsmock.h"
#include "nm_frame.h"

typedef struct nm__auth_s nm__auth_t;
typedef struct nm__perm_s nm__perm_t;
typedef struct nm__replies_s nm__replies_t;

/* Reply subjects a connection may publish to (allow_responses): at most this
 * many are kept; past it the used and expired ones are dropped, as
 * nats-server's replyPermLimit. */
#define NM_REPLY_PERM_LIMIT 4096
/* Longest reply subject remembered. */
#define NM_REPLY_SUBJECT_MAX 1024

/* A copy of o's users and permissions, compiled. NULL with no users. */
int nm__auth_new(const nm_server_opts_t *o, nm__auth_t **out);
void nm__auth_free(nm__auth_t *a);
int nm__auth_has_users(const nm__auth_t *a);

/* Authenticates a CONNECT's credentials against the users list. Returns 1
 * (with *perms the user's permissions, NULL for none), 0 when the users do
 * not decide (no users list, or no user name given: the single user or token
 * is checked next), -1 for a violation. */
int nm__auth_users(const nm__auth_t *a, const char *user, const char *pass,
                   const char *token, const nm__perm_t **perms);

/* 1 when o (the single user or token) or the users list asks for auth. */
int nm__auth_required(const nm__auth_t *a, const nm_server_opts_t *o);
/* processClientOrLeafAuthentication's answer for one set of credentials: a
 * user name the users list has decides there (*perms its permissions),
 * otherwise o's single token, or user and password. 1 authorized, 0 not. */
int nm__auth_check(const nm__auth_t *a, const nm_server_opts_t *o,
                   const char *user, const char *pass, const char *token,
                   const nm__perm_t **perms);

/* The password of a user of the list, NULL when there is no such user. */
const char *nm__auth_password(const nm__auth_t *a, const char *user);

/* 1 when the connection may publish to subject (with allow_responses, a
 * reply it was sent counts once). */
int nm__perm_pub(const nm__perm_t *p, nm__replies_t **replies,
                 nm_slice_t subject, uint64_t now_ms);
/* 1 when it may subscribe; *deny_filter is set when the subscription is a
 * wildcard overlapping a subscribe deny (deliveries are then filtered). */
int nm__perm_sub(const nm__perm_t *p, nm_slice_t subject, nm_slice_t queue,
                 int *deny_filter);
/* 0 when a delivery of subject must be dropped (the deny filter). */
int nm__perm_deliver(const nm__perm_t *p, nm_slice_t subject);
/* A MSG with this reply was delivered: remember it (allow_responses). */
void nm__perm_note_reply(const nm__perm_t *p, nm__replies_t **replies,
                         nm_slice_t reply, uint64_t now_ms);
int nm__perm_tracks_replies(const nm__perm_t *p);
void nm__replies_free(nm__replies_t *r);

#endif
