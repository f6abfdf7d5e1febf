/* Config reload as nats-server 2.9.10's (reload.go: diffOptions,
 * applyOptions, reloadAuthorization); see reload.h. The options are compared
 * field by field in the order of nats-server's Options struct, which is the
 * order of its errors (the first one fails the reload) and of its
 * "Reloaded: ..." lines. */
#include "reload.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "go_duration.h"
#include "nm_server_int.h"

/* Longest reload log line. */
#define NM_RELOAD_LINE_MAX 1024

typedef struct {
  nm_server_t *s;
  nm_reload_log_fn log;
  void *data;
} rl_t;

static void say(rl_t *r, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(rl_t *r, const char *level, const char *fmt, ...) {
  char line[NM_RELOAD_LINE_MAX];
  va_list ap;
  if (r->log == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  r->log(r->data, level, line);
}

static const char *str_or_empty(const char *s) {
  return s ? s : "";
}

static int str_differs(const char *a, const char *b) {
  return strcmp(str_or_empty(a), str_or_empty(b)) != 0;
}

static const char *dur(uint64_t ms, char *buf, size_t n) {
  return nm_go_duration_string((int64_t)ms * 1000000, buf, n);
}

/* Go's %v of a float64: the shortest text that reads back the same. */
static const char *go_float(double v, char *buf, size_t n) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  return buf;
}

/* The http host nats-server compares: its own host when none is given. */
static const char *http_host_of(const nm_server_opts_t *o) {
  return o->http_host ? o->http_host : o->host;
}

/* diffOptions' refusals, in field order. 0, or NM_EINVAL with the message. */
static int refused_change(const nm_server_opts_t *cur,
                          const nm_server_opts_t *next, char *err,
                          size_t errlen) {
  char a[64], b[64];
#define NOT_SUPPORTED(field, fmt, x, y)                                        \
  do {                                                                         \
    snprintf(err, errlen,                                                      \
             "config reload not supported for %s: old=" fmt ", new=" fmt,      \
             field, x, y);                                                     \
    return NM_EINVAL;                                                          \
  } while (0)
  if (str_differs(cur->server_name, next->server_name))
    NOT_SUPPORTED("ServerName", "%s", str_or_empty(cur->server_name),
                  str_or_empty(next->server_name));
  if (str_differs(cur->host, next->host))
    NOT_SUPPORTED("Host", "%s", str_or_empty(cur->host),
                  str_or_empty(next->host));
  /* A random port (0 once resolved) is the port bound at start. */
  if (next->port != 0 && next->port != cur->port)
    NOT_SUPPORTED("Port", "%d", cur->port, next->port);
  if (cur->max_subs != next->max_subs)
    NOT_SUPPORTED("MaxSubs", "%d", cur->max_subs, next->max_subs);
  /* no_auth_user may only be dropped together with its user. */
  if (str_differs(cur->no_auth_user, next->no_auth_user)) {
    int still_user = 0;
    for (int i = 0; cur->no_auth_user && i < next->nusers; i++)
      if (!strcmp(next->users[i].user, cur->no_auth_user))
        still_user = 1;
    if (next->no_auth_user || still_user)
      NOT_SUPPORTED("NoAuthUser", "%s", str_or_empty(cur->no_auth_user),
                    str_or_empty(next->no_auth_user));
  }
  if (str_differs(http_host_of(cur), http_host_of(next)))
    NOT_SUPPORTED("HTTPHost", "%s", str_or_empty(http_host_of(cur)),
                  str_or_empty(http_host_of(next)));
  if (cur->http_port != next->http_port)
    NOT_SUPPORTED("HTTPPort", "%d", cur->http_port, next->http_port);
  if (cur->max_pending != next->max_pending)
    NOT_SUPPORTED("MaxPending", "%lld", (long long)cur->max_pending,
                  (long long)next->max_pending);
  if (cur->lame_duck_duration_ms != next->lame_duck_duration_ms)
    NOT_SUPPORTED("LameDuckDuration", "%s",
                  dur(cur->lame_duck_duration_ms, a, sizeof(a)),
                  dur(next->lame_duck_duration_ms, b, sizeof(b)));
  if (cur->lame_duck_grace_ms != next->lame_duck_grace_ms)
    NOT_SUPPORTED("LameDuckGracePeriod", "%s",
                  dur(cur->lame_duck_grace_ms, a, sizeof(a)),
                  dur(next->lame_duck_grace_ms, b, sizeof(b)));
  /* natsmock's own settings (the fault engine's), fixed at start too. */
  if (cur->max_held != next->max_held)
    NOT_SUPPORTED("max_held", "%lld", (long long)cur->max_held,
                  (long long)next->max_held);
  if (cur->no_mock_control != next->no_mock_control)
    NOT_SUPPORTED("no_mock_control", "%d", cur->no_mock_control,
                  next->no_mock_control);
  if (str_differs(cur->faults_file, next->faults_file))
    NOT_SUPPORTED("faults", "%s", str_or_empty(cur->faults_file),
                  str_or_empty(next->faults_file));
#undef NOT_SUPPORTED
  return 0;
}

static void swap_str(char **slot, const char **opt, char *v) {
  free(*slot);
  *slot = v;
  *opt = v;
}

/* The server keeps its own copies of the credentials: all four are copied
 * before any is replaced, so running out of memory changes nothing. */
static int dup_all(nm_server_t *s, const nm_server_opts_t *o) {
  const char *src[4] = {o->user, o->pass, o->token, o->no_auth_user};
  char *d[4] = {NULL, NULL, NULL, NULL};
  for (int i = 0; i < 4; i++)
    if (src[i] && (d[i] = strdup(src[i])) == NULL) {
      for (int k = 0; k < i; k++)
        free(d[k]);
      return NM_ENOMEM;
    }
  swap_str(&s->s_user, &s->opts.user, d[0]);
  swap_str(&s->s_pass, &s->opts.pass, d[1]);
  swap_str(&s->s_token, &s->opts.token, d[2]);
  swap_str(&s->s_noauth, &s->opts.no_auth_user, d[3]);
  return 0;
}

/* maxConnOption: over the new limit, the newest connections are closed
 * (nats-server picks them in Go's random map order). */
static void apply_max_connections(rl_t *r, int max) {
  nm_server_t *s = r->s;
  int open = 0, closed = 0, over;
  for (nm_conn_t *c = s->head; c; c = c->next)
    if (!(c->flags & NM_CF_CLOSING))
      open++;
  over = max > 0 && open > max ? open - max : 0;
  for (nm_conn_t *c = s->tail; c && closed < over; c = c->prev)
    if (!(c->flags & NM_CF_CLOSING)) {
      nm__conn_send_err(c, "maximum connections exceeded");
      nm__conn_close(c, NM_CLOSE_FLUSH, "maximum connections exceeded");
      closed++;
    }
  if (closed)
    say(r, "INF", "Closed %d connections to fall within max_connections",
        closed);
}

/* processSubsOnConfigReload: the subscriptions c's new permissions refuse
 * are removed, each with an -ERR to c and a log line. */
static void prune_subs(rl_t *r, nm_conn_t *c) {
  nm__sub_t **gone;
  size_t n = 0;
  int deny_filter = 0;
  if (c->perms == NULL || c->nsubs == 0) {
    c->deny_filter = 0;
    c->perm_deliver = nm__perm_tracks_replies(c->perms);
    return;
  }
  gone = calloc(c->nsubs, sizeof(*gone));
  if (gone == NULL) {
    nm__conn_close(c, NM_CLOSE_FIN, "out of memory");
    return;
  }
  for (size_t i = 0; i < c->nsid_buckets; i++)
    for (nm__sub_t *sub = c->sids[i]; sub; sub = sub->sid_next) {
      nm_slice_t none = {NULL, 0};
      if (!nm__perm_sub(c->perms, sub->subject, none, &deny_filter) &&
          !(sub->queue.n &&
            nm__perm_sub(c->perms, sub->subject, sub->queue, &deny_filter)))
        gone[n++] = sub;
    }
  for (size_t i = 0; i < n; i++) {
    char text[NM_PERM_ERR_MAX];
    nm__sub_t *sub = gone[i];
    int sn = (int)(sub->subject.n > NM_PERM_ERR_MAX / 3 ? NM_PERM_ERR_MAX / 3
                                                        : sub->subject.n);
    int in = (int)(sub->sid.n > NM_PERM_ERR_MAX / 3 ? NM_PERM_ERR_MAX / 3
                                                    : sub->sid.n);
    snprintf(text, sizeof(text),
             "Permissions Violation for Subscription to \"%.*s\" (sid "
             "\"%.*s\")",
             sn, sub->subject.p, in, sub->sid.p);
    say(r, "INF",
        "Removed sub \"%.*s\" (sid \"%.*s\") for User \"%s\" - not "
        "authorized",
        sn, sub->subject.p, in, sub->sid.p, str_or_empty(c->user));
    nm__conn_send_err(c, text);
    nm__conn_remove_sub(c, sub);
  }
  free(gone);
  /* The deny filter of what is left (nats-server rebuilds its mperms). */
  c->deny_filter = deny_filter;
  c->perm_deliver = nm__perm_tracks_replies(c->perms) || deny_filter;
}

/* reloadAuthorization: a client whose CONNECT named a user that the new
 * users list lacks is closed as nats-server closes a client "moved to a
 * different account" (no -ERR); one that no longer authenticates gets the
 * Authorization Violation; the others take their new permissions. */
static void recheck_clients(rl_t *r) {
  nm_server_t *s = r->s;
  nm_conn_t *c, *next;
  for (c = s->head; c; c = next) {
    next = c->next;
    if ((c->flags & NM_CF_CLOSING) || c->user == NULL || c->user[0] == 0)
      continue;
    if (nm__auth_password(s->auth, c->user) == NULL)
      nm__conn_close(c, NM_CLOSE_FLUSH, "user removed by a config reload");
  }
  for (c = s->head; c; c = next) {
    next = c->next;
    if (c->flags & NM_CF_CLOSING)
      continue;
    if (!nm__conn_authenticate(c)) {
      nm__conn_send_err(c, "Authorization Violation");
      nm__conn_close(c, NM_CLOSE_FLUSH, "Authorization Violation");
      continue;
    }
    prune_subs(r, c);
  }
}

/* Each connection's parser takes the new limits (nats-server stores them
 * in every client). */
static void apply_limits(nm_server_t *s) {
  size_t lim = nm__frame_scratch_limit(s->opts.max_payload);
  s->scratch.limit = lim;
  s->in_scratch.limit = lim;
  for (nm_conn_t *c = s->head; c; c = c->next)
    nm_parser_set_limits(&c->parser, s->opts.max_control_line,
                         s->opts.max_payload);
}

int nm_server_reload(nm_server_t *s, const nm_server_opts_t *cur,
                     const nm_server_opts_t *next, nm_reload_log_fn log,
                     void *data, char *err, size_t errlen) {
  rl_t r = {s, log, data};
  nm__auth_t *auth = NULL;
  char a[64];
  int r_, keep_users;
  if ((r_ = refused_change(cur, next, err, errlen)) < 0)
    return r_;
  if ((r_ = nm_server_opts_validate(next, err, errlen)) < 0)
    return r_;
  /* Everything that can fail is done before anything changes. A single
   * user or a token in place of a users list leaves the old list in force
   * beside it: nats-server 2.9.10's configureAuthorization clears its user
   * map only when no auth at all is configured. */
  keep_users = next->nusers == 0 && (next->user || next->token);
  if (!keep_users && nm__auth_new(next, &auth) < 0) {
    snprintf(err, errlen, "out of memory");
    return NM_ENOMEM;
  }
  if (dup_all(s, next) < 0) {
    nm__auth_free(auth);
    snprintf(err, errlen, "out of memory");
    return NM_ENOMEM;
  }
  if (!keep_users) {
    nm__auth_free(s->auth);
    s->auth = auth;
    s->opts.nusers = next->nusers;
    s->opts.users_set = next->users_set;
  }

  /* The changes, logged (and applied) in nats-server's field order. */
  if (cur->trace != next->trace)
    say(&r, "INF", "Reloaded: trace = %s", next->trace ? "true" : "false");
  if (cur->debug != next->debug)
    say(&r, "INF", "Reloaded: debug = %s", next->debug ? "true" : "false");
  if (cur->logtime != next->logtime)
    say(&r, "INF", "Reloaded: logtime = %s", next->logtime ? "true" : "false");
  s->opts.max_connections = next->max_connections;
  if (cur->max_connections != next->max_connections) {
    apply_max_connections(&r, next->max_connections);
    say(&r, "INF", "Reloaded: max_connections = %d", next->max_connections);
  }
  /* nats-server always counts its users and accounts as changed. */
  say(&r, "INF", "Reloaded: authorization users");
  say(&r, "INF", "Reloaded: accounts");
  if (str_differs(cur->user, next->user))
    say(&r, "INF", "Reloaded: authorization username");
  if (str_differs(cur->pass, next->pass))
    say(&r, "INF", "Reloaded: authorization password");
  if (str_differs(cur->token, next->token))
    say(&r, "INF", "Reloaded: authorization token");
  s->opts.ping_interval_ms = next->ping_interval_ms;
  if (cur->ping_interval_ms != next->ping_interval_ms)
    say(&r, "INF", "Reloaded: ping_interval = %s",
        dur(next->ping_interval_ms, a, sizeof(a)));
  s->opts.ping_max = next->ping_max;
  if (cur->ping_max != next->ping_max)
    say(&r, "INF", "Reloaded: ping_max = %d", next->ping_max);
  s->opts.auth_timeout_ms = next->auth_timeout_ms;
  if (cur->auth_timeout_ms != next->auth_timeout_ms)
    say(&r, "INF", "Reloaded: authorization timeout = %s",
        go_float((double)next->auth_timeout_ms / 1000.0, a, sizeof(a)));
  s->opts.max_control_line = next->max_control_line;
  if (cur->max_control_line != next->max_control_line)
    say(&r, "INF", "Reloaded: max_control_line = %lld",
        (long long)next->max_control_line);
  s->opts.max_payload = next->max_payload;
  s->info_max_payload = next->max_payload;
  if (cur->max_payload != next->max_payload)
    say(&r, "INF", "Reloaded: max_payload = %lld",
        (long long)next->max_payload);
  apply_limits(s);
  if (str_differs(cur->pid_file, next->pid_file) && next->pid_file &&
      next->pid_file[0])
    say(&r, "INF", "Reloaded: pid_file = %s", next->pid_file);
  if (str_differs(cur->ports_file_dir, next->ports_file_dir))
    say(&r, "INF", "Reloaded: ports_file_dir = %s",
        str_or_empty(next->ports_file_dir));
  if (str_differs(cur->log_file, next->log_file))
    say(&r, "INF", "Reloaded: log_file = %s", str_or_empty(next->log_file));
  s->opts.write_deadline_ms = next->write_deadline_ms;
  if (cur->write_deadline_ms != next->write_deadline_ms)
    say(&r, "INF", "Reloaded: write_deadline = %s",
        dur(next->write_deadline_ms, a, sizeof(a)));
  if (cur->max_traced_msg_len != next->max_traced_msg_len)
    say(&r, "INF", "Reloaded: max_traced_msg_len = %lld",
        (long long)next->max_traced_msg_len);
  recheck_clients(&r);
  return 0;
}
