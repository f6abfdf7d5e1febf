/* nats-server 2.9.10's config file applied to nm_server_opts_t, key by key as
 * its opts.go does (processConfigFileLine, parseAuthorization, parseUsers,
 * parseUserPermissions): the same types, ranges and messages. What natsmock
 * does not do is refused with "natsmock does not support ..." rather than
 * ignored, so a test suite never runs against less than it configured. The
 * syntax itself is config_tree.c's. docs/server.md lists every key. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_tree.h"
#include "go_duration.h"
#include "natsmock.h"
#include "nm_parser.h"
#include "reload.h"

/* Room for all the messages of one file. */
#define NM_CONFIG_MSGS_MAX 8192
/* Most users in one authorization block. */
#define NM_CONFIG_USERS_MAX 4096
/* Most subjects in one allow or deny list. */
#define NM_CONFIG_SUBJECTS_MAX 4096
/* nats-server's defaults for allow_responses. */
#define NM_RESP_MAX_DEFAULT 1
#define NM_RESP_EXPIRES_DEFAULT_MS 120000

typedef struct mem_node {
  struct mem_node *next;
  max_align_t data[];
} mem_node_t;

typedef struct {
  nm_server_opts_t *o;
  char errs[NM_CONFIG_MSGS_MAX];
  size_t nerrs;
  char warns[NM_CONFIG_MSGS_MAX];
  size_t nwarns;
  int oom;
} ap_t;

static void *keep_mem(nm_server_opts_t *o, size_t n) {
  mem_node_t *m = calloc(1, sizeof(*m) + n + 1);
  if (m == NULL)
    return NULL;
  m->next = o->strings_;
  o->strings_ = m;
  return m->data;
}

static const char *keep_str(nm_server_opts_t *o, const char *s) {
  size_t n = strlen(s);
  char *c = keep_mem(o, n + 1);
  if (c)
    memcpy(c, s, n + 1);
  return c;
}

void nm_server_opts_free(nm_server_opts_t *o) {
  mem_node_t *n = o->strings_;
  while (n) {
    mem_node_t *next = n->next;
    free(n);
    n = next;
  }
  o->strings_ = NULL;
}

static void add_msg(char *buf, size_t *n, const nm_cv_t *at, const char *fmt,
                    va_list ap) {
  char msg[1024];
  int k;
  vsnprintf(msg, sizeof(msg), fmt, ap);
  if (*n >= NM_CONFIG_MSGS_MAX - 1)
    return;
  k = snprintf(buf + *n, NM_CONFIG_MSGS_MAX - *n, "%s:%d:%d: %s\n", at->file,
               at->line, at->col, msg);
  if (k > 0)
    *n += (size_t)k;
  if (*n >= NM_CONFIG_MSGS_MAX)
    *n = NM_CONFIG_MSGS_MAX - 1;
}

static void cerr(ap_t *a, const nm_cv_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cerr(ap_t *a, const nm_cv_t *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add_msg(a->errs, &a->nerrs, at, fmt, ap);
  va_end(ap);
}

/* An error nats-server reports without a position. */
static void cerr_bare(ap_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void cerr_bare(ap_t *a, const char *fmt, ...) {
  va_list ap;
  int k;
  if (a->nerrs >= NM_CONFIG_MSGS_MAX - 1)
    return;
  va_start(ap, fmt);
  k = vsnprintf(a->errs + a->nerrs, NM_CONFIG_MSGS_MAX - a->nerrs, fmt, ap);
  va_end(ap);
  if (k > 0)
    a->nerrs += (size_t)k;
  if (a->nerrs >= NM_CONFIG_MSGS_MAX - 1)
    a->nerrs = NM_CONFIG_MSGS_MAX - 2;
  a->errs[a->nerrs++] = '\n';
  a->errs[a->nerrs] = 0;
}

static void cwarn(ap_t *a, const nm_cv_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cwarn(ap_t *a, const nm_cv_t *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add_msg(a->warns, &a->nwarns, at, fmt, ap);
  va_end(ap);
}

/* Go's failed type assertion v.(T), which nats-server reports as is. */
static int want(ap_t *a, const nm_cv_t *v, nm_cv_type_t t) {
  static const char *names[] = {
      "string",        "int64", "float64", "bool", "map[string]interface {}",
      "[]interface {}"};
  if (v->type == t)
    return 0;
  cerr(a, v, "interface conversion: interface {} is %s, not %s",
       nm_cv_go_type(v), names[t]);
  return -1;
}

static void refuse(ap_t *a, const nm_cv_t *v, const char *what) {
  cerr(a, v, "natsmock does not support %s", what);
}

static const char *str_of(ap_t *a, const nm_cv_t *v) {
  const char *s;
  if (want(a, v, NM_CV_STR) < 0)
    return NULL;
  if ((s = keep_str(a->o, v->s)) == NULL)
    a->oom = 1;
  return s;
}

/* A duration key as nats-server's parseDuration: a Go duration string, or
 * (with a warning) an integer number of seconds. natsmock refuses negative
 * ones (nats-server takes them and then fires its timers at once). */
static int duration_ms(ap_t *a, const nm_cv_t *v, const char *field,
                       uint64_t *ms) {
  int64_t ns;
  char err[256];
  if (v->type == NM_CV_STR) {
    if (nm_go_parse_duration(v->s, &ns, err, sizeof(err)) < 0) {
      cerr(a, v, "error parsing %s: %s", field, err);
      return -1;
    }
  } else {
    cwarn(a, v,
          "invalid use of field \"%s\": %s should be converted to a "
          "duration",
          field, field);
    if (want(a, v, NM_CV_INT) < 0)
      return -1;
    if (v->i > INT64_MAX / 1000000000 || v->i < INT64_MIN / 1000000000) {
      /* Go's Duration multiplication wraps; a mock does not follow it. */
      cerr(a, v, "natsmock does not support a %s of %lld seconds", field,
           (long long)v->i);
      return -1;
    }
    ns = v->i * 1000000000;
  }
  if (ns < 0) {
    cerr(a, v, "natsmock does not support a negative %s", field);
    return -1;
  }
  *ms = ((uint64_t)ns + 999999) / 1000000;
  return 0;
}

/* Go's strconv.Atoi. */
static int go_atoi(const char *s, long long *out) {
  char *end;
  if (*s == 0 || isspace((unsigned char)*s))
    return -1;
  errno = 0;
  *out = strtoll(s, &end, 10);
  return (*end || errno) ? -1 : 0;
}

/* parseListen: a port, or "host:port" as net.SplitHostPort reads it. */
static int listen_of(ap_t *a, const nm_cv_t *v, const char **host, int *port) {
  char buf[NM_CONFIG_TOKEN_MAX];
  const char *h, *p;
  size_t hn;
  long long n;
  if (v->type == NM_CV_INT) {
    *port = (int)v->i;
    *host = NULL;
    return 0;
  }
  if (v->type != NM_CV_STR) {
    cerr(a, v, "expected port or host:port, got %s", nm_cv_go_type(v));
    return -1;
  }
  snprintf(buf, sizeof(buf), "%s", v->s);
  /* strings.TrimSpace */
  for (h = buf; isspace((unsigned char)*h); h++)
    ;
  for (size_t k = strlen(h); k > 0 && isspace((unsigned char)h[k - 1]); k--)
    ((char *)h)[k - 1] = 0;
  if (h[0] == '[') {
    const char *close = strchr(h, ']');
    if (close == NULL || close[1] != ':')
      goto bad;
    p = close + 2;
    hn = (size_t)(close - h - 1);
    h++;
  } else {
    const char *colon = strrchr(h, ':');
    if (colon == NULL || strchr(h, ':') != colon)
      goto bad;
    p = colon + 1;
    hn = (size_t)(colon - h);
  }
  if (go_atoi(p, &n) < 0) {
    cerr(a, v, "could not parse port \"%s\"", p);
    return -1;
  }
  *port = n > INT32_MAX ? INT32_MAX : n < INT32_MIN ? INT32_MIN : (int)n;
  if (hn == 0) {
    *host = NULL;
  } else {
    char hb[NM_CONFIG_TOKEN_MAX];
    snprintf(hb, sizeof(hb), "%.*s", (int)hn, h);
    if ((*host = keep_str(a->o, hb)) == NULL)
      a->oom = 1;
  }
  return 0;
bad:
  cerr(a, v, "could not parse address string \"%s\"", v->s);
  return -1;
}

/* IsValidSubject: non-empty tokens, no blanks. */
static int valid_subject(const char *s, size_t n) {
  size_t tok = 0;
  if (n == 0)
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (isspace((unsigned char)s[i]))
      return 0;
    if (s[i] == '.') {
      if (tok == 0)
        return 0;
      tok = 0;
    } else {
      tok++;
    }
  }
  return tok > 0;
}

/* The bad subject (its first n bytes), at its place when nats-server gives
 * one: at NULL for the old permission style (subjects without allow/deny),
 * where it has none. */
static void bad_subject(ap_t *a, const nm_cv_t *at, const char *s, int n) {
  if (at)
    cerr(a, at, "subject \"%.*s\" is not a valid subject", n, s);
  else
    cerr_bare(a, "subject \"%.*s\" is not a valid subject", n, s);
}

/* checkPermSubjectArray: a subject, or "subject queue". */
static int check_perm_subject(ap_t *a, const nm_cv_t *at, const char *s) {
  const char *f1, *e1, *f2, *e2;
  if (valid_subject(s, strlen(s)))
    return 0;
  for (f1 = s; isspace((unsigned char)*f1); f1++)
    ;
  for (e1 = f1; *e1 && !isspace((unsigned char)*e1); e1++)
    ;
  for (f2 = e1; isspace((unsigned char)*f2); f2++)
    ;
  for (e2 = f2; *e2 && !isspace((unsigned char)*e2); e2++)
    ;
  {
    const char *rest = e2;
    while (isspace((unsigned char)*rest))
      rest++;
    if (e1 == f1 || e2 == f2 || *rest) {
      bad_subject(a, at, s, (int)strlen(s));
      return -1;
    }
  }
  if (!valid_subject(f1, (size_t)(e1 - f1))) {
    bad_subject(a, at, f1, (int)(e1 - f1));
    return -1;
  }
  return 0;
}

/* parsePermSubjects: a string or an array of strings. */
static int perm_subjects(ap_t *a, const nm_cv_t *v, int positioned,
                         const char *const **out, int *n) {
  const char **list;
  int k = 0;
  if (v->type == NM_CV_STR) {
    if (check_perm_subject(a, positioned ? v : NULL, v->s) < 0)
      return -1;
    list = keep_mem(a->o, sizeof(*list));
    if (list == NULL || (list[0] = keep_str(a->o, v->s)) == NULL) {
      a->oom = 1;
      return -1;
    }
    *out = list;
    *n = 1;
    return 0;
  }
  if (v->type != NM_CV_ARRAY) {
    cerr(a, v,
         "Expected subject permissions to be a subject, or array of "
         "subjects, got %s",
         nm_cv_go_type(v));
    return -1;
  }
  for (const nm_cv_t *c = v->child; c; c = c->next)
    k++;
  if (k > NM_CONFIG_SUBJECTS_MAX) {
    cerr(a, v, "more than %d subjects in one permission list",
         NM_CONFIG_SUBJECTS_MAX);
    return -1;
  }
  list = keep_mem(a->o, sizeof(*list) * (size_t)(k + 1));
  if (list == NULL) {
    a->oom = 1;
    return -1;
  }
  k = 0;
  for (const nm_cv_t *c = v->child; c; c = c->next) {
    if (c->type != NM_CV_STR) {
      cerr(a, c, "Subject in permissions array cannot be cast to string");
      return -1;
    }
    if ((list[k++] = keep_str(a->o, c->s)) == NULL) {
      a->oom = 1;
      return -1;
    }
  }
  for (int i = 0; i < k; i++)
    if (check_perm_subject(a, positioned ? v : NULL, list[i]) < 0)
      return -1;
  *out = list;
  *n = k;
  return 0;
}

/* parseVariablePermissions: {allow, deny} or the old style (an allow list).
 * *given is 0 for an empty map (nats-server then has no permission). */
static int subject_perm(ap_t *a, const nm_cv_t *v, nm_subject_perm_t *p,
                        int *given) {
  memset(p, 0, sizeof(*p));
  *given = 1;
  if (v->type != NM_CV_MAP) {
    if (perm_subjects(a, v, 0, &p->allow, &p->nallow) < 0)
      return -1;
    /* An empty list is Go's nil slice: no allow list at all. */
    p->allow_set = p->nallow > 0;
    return 0;
  }
  if (v->child == NULL) {
    *given = 0;
    return 0;
  }
  for (const nm_cv_t *m = v->child; m; m = m->next) {
    if (!strcasecmp(m->key, "allow")) {
      if (perm_subjects(a, m, 1, &p->allow, &p->nallow) < 0)
        continue;
      p->allow_set = p->nallow > 0;
    } else if (!strcasecmp(m->key, "deny")) {
      perm_subjects(a, m, 1, &p->deny, &p->ndeny);
    } else {
      cerr(a, m,
           "Unknown field name \"%s\" parsing subject permissions, only "
           "'allow' or 'deny' are permitted",
           m->key);
    }
  }
  return 0;
}

static int allow_responses(ap_t *a, const nm_cv_t *v, nm_perms_t *p) {
  p->resp_max = NM_RESP_MAX_DEFAULT;
  p->resp_expires_ms = NM_RESP_EXPIRES_DEFAULT_MS;
  if (v->type == NM_CV_BOOL) {
    p->allow_responses = v->b;
    return 0;
  }
  if (v->type != NM_CV_MAP) {
    cerr(a, v,
         "error parsing response permissions, expected a boolean or a "
         "map");
    return -1;
  }
  for (const nm_cv_t *m = v->child; m; m = m->next) {
    if (!strcasecmp(m->key, "max") || !strcasecmp(m->key, "max_msgs") ||
        !strcasecmp(m->key, "max_messages") ||
        !strcasecmp(m->key, "max_responses")) {
      if (want(a, m, NM_CV_INT) < 0)
        return -1;
      if (m->i != 0)
        p->resp_max = m->i > INT32_MAX ? INT32_MAX : (int)m->i;
    } else if (!strcasecmp(m->key, "expires") ||
               !strcasecmp(m->key, "expiration") ||
               !strcasecmp(m->key, "ttl")) {
      int64_t ns;
      char err[256];
      if (m->type != NM_CV_STR) {
        cerr(a, m, "error parsing expires, not a duration string");
        return -1;
      }
      if (nm_go_parse_duration(m->s, &ns, err, sizeof(err)) < 0) {
        cerr(a, m, "error parsing expires: %s", err);
        return -1;
      }
      if (ns < 0) {
        cerr(a, m, "natsmock does not support a negative expires");
        return -1;
      }
      if (ns != 0)
        p->resp_expires_ms = ((uint64_t)ns + 999999) / 1000000;
    } else {
      cerr(a, m, "Unknown field \"%s\" parsing permissions", m->key);
    }
  }
  p->allow_responses = 1;
  return 0;
}

/* parseUserPermissions. */
static const nm_perms_t *permissions(ap_t *a, const nm_cv_t *v) {
  nm_perms_t *p;
  if (v->type != NM_CV_MAP) {
    cerr(a, v, "Expected permissions to be a map/struct, got %s",
         v->type == NM_CV_STR ? v->s : nm_cv_go_type(v));
    return NULL;
  }
  if ((p = keep_mem(a->o, sizeof(*p))) == NULL) {
    a->oom = 1;
    return NULL;
  }
  for (const nm_cv_t *m = v->child; m; m = m->next) {
    const char *k = m->key;
    int given;
    if (!strcasecmp(k, "pub") || !strcasecmp(k, "publish") ||
        !strcasecmp(k, "import")) {
      nm_subject_perm_t sp;
      if (subject_perm(a, m, &sp, &given) == 0)
        p->pub = sp;
    } else if (!strcasecmp(k, "sub") || !strcasecmp(k, "subscribe") ||
               !strcasecmp(k, "export")) {
      nm_subject_perm_t sp;
      if (subject_perm(a, m, &sp, &given) == 0)
        p->sub = sp;
    } else if (!strcasecmp(k, "publish_allow_responses") ||
               !strcasecmp(k, "allow_responses")) {
      allow_responses(a, m, p);
    } else {
      cerr(a, m, "Unknown field \"%s\" parsing permissions", k);
    }
  }
  /* With responses allowed, an absent publish allow list becomes an empty
   * one: only replies may be published (nats-server does the same). */
  if (p->allow_responses && !p->pub.allow_set)
    p->pub.allow_set = 1;
  return p;
}

static int is_bcrypt(const char *s) {
  return s && s[0] == '$' && s[1] == '2' && s[2] && s[3] == '$';
}

/* parseUsers. */
static int users_of(ap_t *a, const nm_cv_t *v, nm_user_t **out, int *nout) {
  nm_user_t *users;
  int n = 0;
  if (v->type != NM_CV_ARRAY) {
    cerr(a, v, "Expected users field to be an array, got %s",
         v->type == NM_CV_STR ? v->s : nm_cv_go_type(v));
    return -1;
  }
  for (const nm_cv_t *u = v->child; u; u = u->next)
    n++;
  if (n > NM_CONFIG_USERS_MAX) {
    cerr(a, v, "more than %d users", NM_CONFIG_USERS_MAX);
    return -1;
  }
  users = keep_mem(a->o, sizeof(*users) * (size_t)(n + 1));
  if (users == NULL) {
    a->oom = 1;
    return -1;
  }
  n = 0;
  for (const nm_cv_t *u = v->child; u; u = u->next) {
    nm_user_t *user = &users[n];
    int has_nkey = 0;
    if (u->type != NM_CV_MAP) {
      cerr(a, u, "Expected user entry to be a map/struct, got %s",
           u->type == NM_CV_STR ? u->s : nm_cv_go_type(u));
      continue;
    }
    for (const nm_cv_t *m = u->child; m; m = m->next) {
      const char *k = m->key;
      if (!strcasecmp(k, "nkey")) {
        has_nkey = 1;
        refuse(a, m, "nkey users");
      } else if (!strcasecmp(k, "user") || !strcasecmp(k, "username")) {
        user->user = str_of(a, m);
      } else if (!strcasecmp(k, "pass") || !strcasecmp(k, "password")) {
        user->password = str_of(a, m);
        if (is_bcrypt(user->password))
          refuse(a, m, "bcrypt passwords");
      } else if (!strcasecmp(k, "permission") ||
                 !strcasecmp(k, "permissions") ||
                 !strcasecmp(k, "authorization")) {
        user->perms = permissions(a, m);
      } else if (!strcasecmp(k, "allowed_connection_types") ||
                 !strcasecmp(k, "connection_types") ||
                 !strcasecmp(k, "clients")) {
        refuse(a, m, "allowed_connection_types");
      } else {
        cerr(a, m, "unknown field \"%s\"", k);
      }
    }
    if (!has_nkey && (user->user == NULL || user->user[0] == 0)) {
      cerr(a, u, "User entry requires a user");
      return -1;
    }
    n++;
  }
  *out = users;
  *nout = n;
  return 0;
}

static void authorization(ap_t *a, const nm_cv_t *v) {
  nm_server_opts_t *o = a->o;
  const char *user = NULL, *pass = NULL, *token = NULL;
  nm_user_t *users = NULL;
  int nusers = 0, users_given = 0;
  const nm_perms_t *defperms = NULL;
  if (want(a, v, NM_CV_MAP) < 0)
    return;
  for (const nm_cv_t *m = v->child; m; m = m->next) {
    const char *k = m->key;
    if (!strcasecmp(k, "user") || !strcasecmp(k, "username")) {
      user = str_of(a, m);
    } else if (!strcasecmp(k, "pass") || !strcasecmp(k, "password")) {
      pass = str_of(a, m);
      if (is_bcrypt(pass))
        refuse(a, m, "bcrypt passwords");
    } else if (!strcasecmp(k, "token")) {
      token = str_of(a, m);
      if (is_bcrypt(token))
        refuse(a, m, "bcrypt tokens");
    } else if (!strcasecmp(k, "timeout")) {
      /* nats-server 2.9.10 takes a number of seconds (integer or float); any
       * other value (a string such as "2s") leaves it at 1 s. */
      double at = 1;
      if (m->type == NM_CV_INT)
        at = (double)m->i;
      else if (m->type == NM_CV_FLOAT)
        at = m->f;
      if (!(at >= 0) || at > 1e9) {
        cerr(a, m, "natsmock does not support an authorization timeout of %g",
             at);
        continue;
      }
      o->auth_timeout_ms = (uint64_t)(at * 1000.0 + 0.5);
      if (o->auth_timeout_ms == 0)
        o->auth_timeout_ms = 1; /* 0 s: nats-server's timer fires at once */
    } else if (!strcasecmp(k, "users")) {
      if (users_of(a, m, &users, &nusers) == 0)
        users_given = 1;
    } else if (!strcasecmp(k, "default_permission") ||
               !strcasecmp(k, "default_permissions") ||
               !strcasecmp(k, "permissions")) {
      defperms = permissions(a, m);
    } else {
      cerr(a, m, "unknown field \"%s\"", k);
    }
  }
  for (int i = 0; i < nusers; i++)
    if (users[i].perms == NULL)
      users[i].perms = defperms;
  o->user = user && user[0] ? user : NULL;
  o->pass = pass && pass[0] ? pass : NULL;
  o->token = token && token[0] ? token : NULL;
  if ((o->user || o->pass) && o->token) {
    cerr(a, v, "Cannot have a user/pass and token");
    return;
  }
  if (users_given) {
    if (o->user) {
      cerr(a, v, "Can not have a single user/pass and a users array");
      return;
    }
    if (o->token) {
      cerr(a, v, "Can not have a token and a users array");
      return;
    }
    for (int i = 0; i < nusers; i++)
      for (int j = 0; j < i; j++)
        if (!strcmp(users[i].user, users[j].user)) {
          cerr(a, v, "Duplicate user \"%s\" detected", users[i].user);
          return;
        }
    o->users = nusers ? users : NULL;
    o->nusers = nusers;
    o->users_set = nusers > 0;
  }
}

/* Keys of nats-server 2.9.10 that natsmock refuses whatever their value
 * (the features behind them are not there). */
static const struct {
  const char *key;
  const char *what;
} kRefused[] = {
    {"mappings", "subject mappings"},
    {"maps", "subject mappings"},
    {"accounts", "accounts"},
    {"system_account", "accounts (system_account)"},
    {"system", "accounts (system_account)"},
    {"cluster", "clustering"},
    {"gateway", "gateways"},
    {"leaf", "leafnodes"},
    {"leafnodes", "leafnodes"},
    {"tls", "tls"},
    {"ocsp", "tls (ocsp)"},
    {"websocket", "websocket"},
    {"ws", "websocket"},
    {"mqtt", "mqtt"},
    {"operator", "operators (JWT auth)"},
    {"operators", "operators (JWT auth)"},
    {"roots", "operators (JWT auth)"},
    {"root", "operators (JWT auth)"},
    {"root_operators", "operators (JWT auth)"},
    {"root_operator", "operators (JWT auth)"},
    {"resolver", "account resolvers"},
    {"account_resolver", "account resolvers"},
    {"accounts_resolver", "account resolvers"},
    {"resolver_tls", "account resolvers"},
    {"resolver_preload", "account resolvers"},
    {"resolver_pinned_accounts", "account resolvers"},
    {"trusted", "operators (trusted keys)"},
    {"trusted_keys", "operators (trusted keys)"},
    {"default_js_domain", "jetstream"},
    {"max_sub_tokens", "max_sub_tokens"},
    {"max_subscription_tokens", "max_sub_tokens"},
    {"https", "https monitoring (tls)"},
};

/* Keys refused only when they turn something on: a true bool, a non-empty
 * string, a non-zero integer. */
static const struct {
  const char *key;
  nm_cv_type_t type;
  const char *what;
} kRefusedOn[] = {
    {"client_advertise", NM_CV_STR, "client_advertise"},
    {"logfile_size_limit", NM_CV_INT, "log_size_limit (log rotation)"},
    {"log_size_limit", NM_CV_INT, "log_size_limit (log rotation)"},
    {"syslog", NM_CV_BOOL, "syslog"},
    {"remote_syslog", NM_CV_STR, "syslog"},
    {"prof_port", NM_CV_INT, "profiling"},
    {"https_port", NM_CV_INT, "https monitoring (tls)"},
    {"http_base_path", NM_CV_STR, "http_base_path"},
    {"store_dir", NM_CV_STR, "jetstream (store_dir)"},
    {"storedir", NM_CV_STR, "jetstream (store_dir)"},
    {"no_header_support", NM_CV_BOOL, "no_header_support"},
    {"disable_sublist_cache", NM_CV_BOOL,
     "disable_sublist_cache (delivery order follows the cache)"},
    {"no_sublist_cache", NM_CV_BOOL,
     "disable_sublist_cache (delivery order follows the cache)"},
};

static int refused_key(ap_t *a, const nm_cv_t *m, const char *k) {
  for (size_t i = 0; i < sizeof(kRefused) / sizeof(kRefused[0]); i++)
    if (!strcmp(k, kRefused[i].key)) {
      refuse(a, m, kRefused[i].what);
      return 1;
    }
  for (size_t i = 0; i < sizeof(kRefusedOn) / sizeof(kRefusedOn[0]); i++)
    if (!strcmp(k, kRefusedOn[i].key)) {
      if (want(a, m, kRefusedOn[i].type) < 0)
        return 1;
      if ((m->type == NM_CV_STR && m->s[0]) ||
          (m->type == NM_CV_INT && m->i != 0) ||
          (m->type == NM_CV_BOOL && m->b))
        refuse(a, m, kRefusedOn[i].what);
      return 1;
    }
  if (!strcmp(k, "jetstream")) {
    /* parseJetStream: a bool, "enabled"/"disabled", or a map. */
    if ((m->type == NM_CV_BOOL && !m->b) ||
        (m->type == NM_CV_STR && !strcasecmp(m->s, "disabled")))
      return 1;
    refuse(a, m, "jetstream");
    return 1;
  }
  return 0;
}

static int64_t int_or(ap_t *a, const nm_cv_t *m, int64_t dflt) {
  return want(a, m, NM_CV_INT) < 0 ? dflt : m->i;
}

static int clamp_int(int64_t v) {
  return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int)v;
}

static void top_key(ap_t *a, const nm_cv_t *m) {
  nm_server_opts_t *o = a->o;
  char k[64];
  uint64_t ms;
  size_t i;
  for (i = 0; m->key[i] && i + 1 < sizeof(k); i++)
    k[i] = (char)tolower((unsigned char)m->key[i]);
  k[i] = 0;
  if (m->key[i]) {
    cerr(a, m, "unknown field \"%s\"", m->key);
    return;
  }
  if (refused_key(a, m, k))
    return;
  if (!strcmp(k, "listen")) {
    const char *host;
    int port;
    if (listen_of(a, m, &host, &port) == 0) {
      o->port = port;
      if (host)
        o->host = host;
    }
  } else if (!strcmp(k, "port")) {
    if (want(a, m, NM_CV_INT) == 0)
      o->port = clamp_int(m->i);
  } else if (!strcmp(k, "server_name")) {
    const char *s = str_of(a, m);
    if (s)
      o->server_name = s[0] ? s : NULL;
  } else if (!strcmp(k, "host") || !strcmp(k, "net")) {
    const char *s = str_of(a, m);
    if (s && s[0])
      o->host = s;
  } else if (!strcmp(k, "debug")) {
    if (want(a, m, NM_CV_BOOL) == 0)
      o->debug = m->b;
  } else if (!strcmp(k, "trace") || !strcmp(k, "trace_verbose")) {
    if (want(a, m, NM_CV_BOOL) == 0)
      o->trace = m->b;
  } else if (!strcmp(k, "logtime")) {
    if (want(a, m, NM_CV_BOOL) == 0)
      o->logtime = m->b;
  } else if (!strcmp(k, "authorization")) {
    authorization(a, m);
  } else if (!strcmp(k, "http")) {
    const char *host;
    int port;
    if (listen_of(a, m, &host, &port) == 0) {
      o->http_port = port;
      o->http_host = host;
    }
  } else if (!strcmp(k, "http_port") || !strcmp(k, "monitor_port")) {
    if (want(a, m, NM_CV_INT) == 0)
      o->http_port = clamp_int(m->i);
  } else if (!strcmp(k, "logfile") || !strcmp(k, "log_file")) {
    o->log_file = str_of(a, m);
  } else if (!strcmp(k, "pidfile") || !strcmp(k, "pid_file")) {
    o->pid_file = str_of(a, m);
  } else if (!strcmp(k, "ports_file_dir")) {
    o->ports_file_dir = str_of(a, m);
  } else if (!strcmp(k, "max_control_line") || !strcmp(k, "max_payload")) {
    if (want(a, m, NM_CV_INT) < 0)
      return;
    if (m->i > INT32_MAX) {
      cerr(a, m, "%s value is too big", m->key);
      return;
    }
    /* int32 in nats-server: a negative value stays negative. */
    if (k[4] == 'c')
      o->max_control_line = (int32_t)m->i;
    else
      o->max_payload = (int32_t)m->i;
  } else if (!strcmp(k, "max_pending")) {
    o->max_pending = int_or(a, m, o->max_pending);
  } else if (!strcmp(k, "max_connections") || !strcmp(k, "max_conn")) {
    o->max_connections = clamp_int(int_or(a, m, o->max_connections));
  } else if (!strcmp(k, "max_held")) {
    /* natsmock's own (the fault engine's cap, docs/faults.md). */
    o->max_held = int_or(a, m, o->max_held);
  } else if (!strcmp(k, "max_traced_msg_len")) {
    o->max_traced_msg_len = int_or(a, m, o->max_traced_msg_len);
  } else if (!strcmp(k, "max_subscriptions") || !strcmp(k, "max_subs")) {
    o->max_subs = clamp_int(int_or(a, m, o->max_subs));
  } else if (!strcmp(k, "ping_interval")) {
    if (duration_ms(a, m, "ping_interval", &ms) == 0)
      o->ping_interval_ms = ms;
  } else if (!strcmp(k, "ping_max")) {
    o->ping_max = clamp_int(int_or(a, m, o->ping_max));
  } else if (!strcmp(k, "write_deadline")) {
    if (duration_ms(a, m, "write_deadline", &ms) == 0)
      o->write_deadline_ms = ms;
  } else if (!strcmp(k, "lame_duck_duration") ||
             !strcmp(k, "lame_duck_grace_period")) {
    int64_t ns;
    char err[256], ds[64];
    int grace = k[10] == 'g';
    if (want(a, m, NM_CV_STR) < 0)
      return;
    if (nm_go_parse_duration(m->s, &ns, err, sizeof(err)) < 0) {
      cerr(a, m, "error parsing %s: %s", k, err);
      return;
    }
    if (!grace && ns < INT64_C(30000000000)) {
      cerr(a, m, "invalid lame_duck_duration of %s, minimum is 30 seconds",
           nm_go_duration_string(ns, ds, sizeof(ds)));
      return;
    }
    if (grace && ns < 0) {
      cerr(a, m, "invalid lame_duck_grace_period, needs to be positive");
      return;
    }
    if (grace)
      o->lame_duck_grace_ms = (uint64_t)ns / 1000000;
    else
      o->lame_duck_duration_ms = (uint64_t)ns / 1000000;
  } else if (!strcmp(k, "no_auth_user")) {
    const char *s = str_of(a, m);
    if (s)
      o->no_auth_user = s[0] ? s : NULL;
  } else if (!strcmp(k, "no_system_account") || !strcmp(k, "no_system") ||
             !strcmp(k, "no_sys_acc") || !strcmp(k, "allow_non_tls")) {
    /* natsmock has no system account and no TLS: these change nothing a
     * client sees. */
    want(a, m, NM_CV_BOOL);
  } else if (!strcmp(k, "connect_error_reports") ||
             !strcmp(k, "reconnect_error_reports")) {
    /* They pace the logging of route, gateway and leafnode errors, which
     * natsmock does not have. */
    want(a, m, NM_CV_INT);
  } else if (!strcmp(k, "server_tags")) {
    if (m->type == NM_CV_ARRAY) {
      for (const nm_cv_t *t = m->child; t; t = t->next)
        if (t->type != NM_CV_STR) {
          cerr(a, m,
               "error parsing tags: unsupported type %s where string "
               "is expected",
               nm_cv_go_type(t));
          break;
        }
    } else if (m->type != NM_CV_STR) {
      cerr(a, m, "error parsing tags: unsupported type %s", nm_cv_go_type(m));
    }
  } else {
    cerr(a, m, "unknown field \"%s\"", m->key);
  }
}

static int apply_doc(nm_server_opts_t *o, nm_cv_doc_t *doc, char *err,
                     size_t errlen) {
  ap_t *a = calloc(1, sizeof(*a));
  int r = 0;
  if (a == NULL)
    return NM_ENOMEM;
  a->o = o;
  for (const nm_cv_t *m = nm_cv_root(doc)->child; m; m = m->next)
    top_key(a, m);
  if (a->oom) {
    snprintf(err, errlen, "out of memory");
    r = NM_ENOMEM;
  } else if (a->nerrs) {
    /* nats-server's processConfigErr: warnings, then errors, a line each. */
    snprintf(err, errlen, "%s%s", a->warns, a->errs);
    r = NM_EINVAL;
  } else if (a->nwarns) {
    o->config_warnings = keep_str(o, a->warns);
  }
  free(a);
  return r;
}

int nm_server_opts_load(nm_server_opts_t *o, const char *path, char *err,
                        size_t errlen) {
  nm_cv_doc_t *doc;
  int r;
  if (nm_cv_parse_file(path, &doc, err, errlen) < 0)
    return NM_EINVAL;
  r = apply_doc(o, doc, err, errlen);
  nm_cv_free(doc);
  return r;
}

int nm_server_opts_parse(nm_server_opts_t *o, const char *text, size_t n,
                         char *err, size_t errlen) {
  nm_cv_doc_t *doc;
  int r;
  if (nm_cv_parse_text(text, n, "config", &doc, err, errlen) < 0)
    return NM_EINVAL;
  r = apply_doc(o, doc, err, errlen);
  nm_cv_free(doc);
  return r;
}

void nm_server_opts_baseline(nm_server_opts_t *o) {
  if (o->user && o->user[0] == 0)
    o->user = NULL;
  if (o->token && o->token[0] == 0)
    o->token = NULL;
  if (o->max_control_line == 0)
    o->max_control_line = NM_DEFAULT_MAX_CONTROL_LINE;
  if (o->max_control_line > NM_PARSER_SCRATCH_MAX)
    o->max_control_line = NM_PARSER_SCRATCH_MAX;
  /* A negative max_control_line stays: nats-server then refuses every
   * operation with arguments. max_payload -1 is no limit there (here up to
   * NM_PARSER_HARD_MAX_PAYLOAD), and below -1 no payload fits; INFO shows it
   * as given. */
  if (o->max_payload == 0)
    o->max_payload = NM_DEFAULT_MAX_PAYLOAD;
  if (o->max_pending <= 0)
    o->max_pending = 64 * 1024 * 1024;
  if (o->max_connections <= 0)
    o->max_connections = 65536;
  if (o->ping_max <= 0)
    o->ping_max = 2;
  if (o->auth_timeout_ms == 0)
    o->auth_timeout_ms = 2000;
}

int nm_server_opts_validate(const nm_server_opts_t *o, char *err,
                            size_t errlen) {
  /* After nats-server's baseline: 0 means the default. */
  int64_t pay = o->max_payload ? o->max_payload : 1048576;
  int64_t pend = o->max_pending ? o->max_pending : 64 * 1024 * 1024;
  char d1[64], d2[64];
  if (o->lame_duck_duration_ms > 0 &&
      o->lame_duck_grace_ms >= o->lame_duck_duration_ms) {
    snprintf(err, errlen,
             "lame duck grace period (%s) should be strictly lower than lame "
             "duck duration (%s)",
             nm_go_duration_string((int64_t)o->lame_duck_grace_ms * 1000000, d1,
                                   sizeof(d1)),
             nm_go_duration_string((int64_t)o->lame_duck_duration_ms * 1000000,
                                   d2, sizeof(d2)));
    return NM_EINVAL;
  }
  if (pay > pend) {
    snprintf(err, errlen,
             "max_payload (%lld) cannot be higher than "
             "max_pending (%lld)",
             (long long)pay, (long long)pend);
    return NM_EINVAL;
  }
  if (o->no_auth_user) {
    if (!o->users_set) {
      snprintf(err, errlen,
               "no_auth_user: \"%s\" present, but users are not defined",
               o->no_auth_user);
      return NM_EINVAL;
    }
    for (int i = 0; i < o->nusers; i++)
      if (!strcmp(o->users[i].user, o->no_auth_user))
        return 0;
    snprintf(err, errlen,
             "no_auth_user: \"%s\" not present as user in authorization "
             "block or account configuration",
             o->no_auth_user);
    return NM_EINVAL;
  }
  return 0;
}

int nm_parse_duration_ms(const char *v, uint64_t *out) {
  int64_t ns;
  char err[128], *end;
  double d;
  if (nm_go_parse_duration(v, &ns, err, sizeof(err)) == 0) {
    if (ns < 0)
      return -1;
    *out = ((uint64_t)ns + 999999) / 1000000;
    return 0;
  }
  /* A plain number of seconds. */
  errno = 0;
  d = strtod(v, &end);
  if (end == v || *end != 0 || errno != 0 || !isfinite(d) || d < 0 ||
      d * 1000.0 >= 9.2e18)
    return -1;
  *out = (uint64_t)(d * 1000.0 + 0.5);
  return 0;
}
