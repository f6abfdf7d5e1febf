/* The command line as Go's flag package reads nats-server's (see
 * cli_flags.h). The messages are Go's, word for word, so a script that
 * checks nats-server's answer gets the same one. */
#include "cli_flags.h"

#include <stdio.h>
#include <string.h>

#define TLS "tls"
#define CLUSTER "clustering (routes)"
#define JS "jetstream"
#define SYSLOG "syslog"

/* nats-server 2.9.10's flags (server/opts.go, ConfigureOptions), then
 * natsmock's. */
const nm_flag_def_t nm_cli_flags[] = {
    {"h", NM_FLAG_BOOL, NM_F_HELP, NULL},
    {"help", NM_FLAG_BOOL, NM_F_HELP, NULL},
    {"port", NM_FLAG_INT, NM_F_PORT, NULL},
    {"p", NM_FLAG_INT, NM_F_PORT, NULL},
    {"n", NM_FLAG_STRING, NM_F_NAME, NULL},
    {"name", NM_FLAG_STRING, NM_F_NAME, NULL},
    {"server_name", NM_FLAG_STRING, NM_F_NAME, NULL},
    {"addr", NM_FLAG_STRING, NM_F_ADDR, NULL},
    {"a", NM_FLAG_STRING, NM_F_ADDR, NULL},
    {"net", NM_FLAG_STRING, NM_F_ADDR, NULL},
    {"client_advertise", NM_FLAG_STRING, NM_F_CLIENT_ADVERTISE,
     "client_advertise"},
    {"D", NM_FLAG_BOOL, NM_F_DEBUG, NULL},
    {"debug", NM_FLAG_BOOL, NM_F_DEBUG, NULL},
    {"V", NM_FLAG_BOOL, NM_F_TRACE, NULL},
    {"VV", NM_FLAG_BOOL, NM_F_VV, NULL},
    {"trace", NM_FLAG_BOOL, NM_F_TRACE, NULL},
    {"DV", NM_FLAG_BOOL, NM_F_DV, NULL},
    {"DVV", NM_FLAG_BOOL, NM_F_DVV, NULL},
    {"T", NM_FLAG_BOOL, NM_F_LOGTIME, NULL},
    {"logtime", NM_FLAG_BOOL, NM_F_LOGTIME, NULL},
    {"user", NM_FLAG_STRING, NM_F_USER, NULL},
    {"pass", NM_FLAG_STRING, NM_F_PASS, NULL},
    {"auth", NM_FLAG_STRING, NM_F_AUTH, NULL},
    {"m", NM_FLAG_INT, NM_F_HTTP_PORT, NULL},
    {"http_port", NM_FLAG_INT, NM_F_HTTP_PORT, NULL},
    {"ms", NM_FLAG_INT, NM_F_HTTPS_PORT, "https monitoring (tls)"},
    {"https_port", NM_FLAG_INT, NM_F_HTTPS_PORT, "https monitoring (tls)"},
    {"c", NM_FLAG_STRING, NM_F_CONFIG, NULL},
    {"config", NM_FLAG_STRING, NM_F_CONFIG, NULL},
    {"t", NM_FLAG_BOOL, NM_F_CHECK_CONFIG, NULL},
    {"sl", NM_FLAG_STRING, NM_F_SIGNAL, NULL},
    {"signal", NM_FLAG_STRING, NM_F_SIGNAL, NULL},
    {"P", NM_FLAG_STRING, NM_F_PID, NULL},
    {"pid", NM_FLAG_STRING, NM_F_PID, NULL},
    {"ports_file_dir", NM_FLAG_STRING, NM_F_PORTS_FILE_DIR, NULL},
    {"l", NM_FLAG_STRING, NM_F_LOG, NULL},
    {"log", NM_FLAG_STRING, NM_F_LOG, NULL},
    {"log_size_limit", NM_FLAG_INT, NM_F_LOG_SIZE_LIMIT,
     "log_size_limit (log rotation)"},
    {"s", NM_FLAG_BOOL, NM_F_SYSLOG, SYSLOG},
    {"syslog", NM_FLAG_BOOL, NM_F_SYSLOG, SYSLOG},
    {"r", NM_FLAG_STRING, NM_F_REMOTE_SYSLOG, SYSLOG},
    {"remote_syslog", NM_FLAG_STRING, NM_F_REMOTE_SYSLOG, SYSLOG},
    {"version", NM_FLAG_BOOL, NM_F_VERSION, NULL},
    {"v", NM_FLAG_BOOL, NM_F_VERSION, NULL},
    {"profile", NM_FLAG_INT, NM_F_PROFILE, "profiling"},
    {"routes", NM_FLAG_STRING, NM_F_ROUTES, CLUSTER},
    {"cluster", NM_FLAG_STRING, NM_F_CLUSTER, CLUSTER},
    {"cluster_listen", NM_FLAG_STRING, NM_F_CLUSTER, CLUSTER},
    {"cluster_advertise", NM_FLAG_STRING, NM_F_CLUSTER_ADVERTISE, CLUSTER},
    {"no_advertise", NM_FLAG_BOOL, NM_F_NO_ADVERTISE, CLUSTER},
    {"connect_retries", NM_FLAG_INT, NM_F_CONNECT_RETRIES, CLUSTER},
    {"cluster_name", NM_FLAG_STRING, NM_F_CLUSTER_NAME, CLUSTER},
    {"help_tls", NM_FLAG_BOOL, NM_F_HELP_TLS, TLS},
    {"tls", NM_FLAG_BOOL, NM_F_TLS, TLS},
    {"tlsverify", NM_FLAG_BOOL, NM_F_TLSVERIFY, TLS},
    {"tlscert", NM_FLAG_STRING, NM_F_TLSCERT, TLS},
    {"tlskey", NM_FLAG_STRING, NM_F_TLSKEY, TLS},
    {"tlscacert", NM_FLAG_STRING, NM_F_TLSCACERT, TLS},
    {"max_traced_msg_len", NM_FLAG_INT, NM_F_MAX_TRACED_MSG_LEN, NULL},
    {"js", NM_FLAG_BOOL, NM_F_JETSTREAM, JS},
    {"jetstream", NM_FLAG_BOOL, NM_F_JETSTREAM, JS},
    {"sd", NM_FLAG_STRING, NM_F_STORE_DIR, JS},
    {"store_dir", NM_FLAG_STRING, NM_F_STORE_DIR, JS},
    {"faults", NM_FLAG_STRING, NM_F_FAULTS, NULL},
    {"seed", NM_FLAG_INT, NM_F_SEED, NULL},
    {"no_mock_control", NM_FLAG_BOOL, NM_F_NO_MOCK_CONTROL, NULL},
    {"max_held", NM_FLAG_INT, NM_F_MAX_HELD, NULL},
    {NULL, 0, 0, NULL}};

static int is_digit_in(char ch, int base) {
  int v;
  if (ch >= '0' && ch <= '9')
    v = ch - '0';
  else if (ch >= 'a' && ch <= 'z')
    v = ch - 'a' + 10;
  else if (ch >= 'A' && ch <= 'Z')
    v = ch - 'A' + 10;
  else
    return -1;
  return v < base ? v : -1;
}

/* Go's underscoreOK: '_' only between digits, or between a base prefix and
 * a digit. */
static int underscore_ok(const char *s) {
  char saw = '^';
  int hex = 0;
  if (*s == '+' || *s == '-')
    s++;
  if (s[0] == '0' && s[1] && strchr("bBoOxX", s[1])) {
    hex = s[1] == 'x' || s[1] == 'X';
    s += 2;
    saw = '0';
  }
  for (; *s; s++) {
    if ((*s >= '0' && *s <= '9') ||
        (hex && ((*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))) {
      saw = '0';
      continue;
    }
    if (*s == '_') {
      if (saw != '0')
        return 0;
      saw = '_';
      continue;
    }
    if (saw == '_')
      return 0;
    saw = '!';
  }
  return saw != '_';
}

int nm_go_parse_int(const char *s0, int64_t *out) {
  const char *s = s0;
  int neg = 0, base = 10, underscores = 0;
  uint64_t n = 0;
  if (*s == '+' || *s == '-')
    neg = *s++ == '-';
  if (*s == 0)
    return -1;
  if (s[0] == '0') {
    size_t len = strlen(s);
    char b = (char)(s[1] | 0x20);
    if (len >= 3 && b == 'b') {
      base = 2;
      s += 2;
    } else if (len >= 3 && b == 'o') {
      base = 8;
      s += 2;
    } else if (len >= 3 && b == 'x') {
      base = 16;
      s += 2;
    } else {
      base = 8;
      s++;
    }
  }
  for (; *s; s++) {
    int d;
    if (*s == '_') {
      underscores = 1;
      continue;
    }
    if ((d = is_digit_in(*s, base)) < 0)
      return -1;
    if (n > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
      return -2;
    n = n * (uint64_t)base + (uint64_t)d;
  }
  if (underscores && !underscore_ok(s0))
    return -1;
  if (!neg && n > (uint64_t)INT64_MAX)
    return -2;
  if (neg && n > (uint64_t)INT64_MAX + 1)
    return -2;
  *out = neg ? (int64_t)(0 - n) : (int64_t)n;
  return 0;
}

int nm_go_parse_bool(const char *s, int *out) {
  static const char *yes[] = {"1", "t", "T", "TRUE", "true", "True", NULL};
  static const char *no[] = {"0", "f", "F", "FALSE", "false", "False", NULL};
  for (int i = 0; yes[i]; i++) {
    if (!strcmp(s, yes[i])) {
      *out = 1;
      return 0;
    }
    if (!strcmp(s, no[i])) {
      *out = 0;
      return 0;
    }
  }
  return -1;
}

static const nm_flag_def_t *find_flag(const char *name, size_t n) {
  for (const nm_flag_def_t *d = nm_cli_flags; d->name; d++)
    if (strlen(d->name) == n && !strncmp(d->name, name, n))
      return d;
  return NULL;
}

int nm_cli_parse(nm_cli_t *cli, int argc, char **argv, char *err,
                 size_t errlen) {
  int i = 1;
  memset(cli, 0, sizeof(*cli));
  while (i < argc) {
    const char *s = argv[i], *name, *eq, *value = NULL;
    const nm_flag_def_t *d;
    nm_flag_set_t *fs;
    size_t n;
    if (strlen(s) < 2 || s[0] != '-')
      break;
    name = s + 1;
    if (s[1] == '-') {
      if (s[2] == 0) {
        i++;
        break;
      }
      name = s + 2;
    }
    if (name[0] == 0 || name[0] == '-' || name[0] == '=') {
      snprintf(err, errlen, "bad flag syntax: %s", s);
      return -1;
    }
    i++;
    eq = strchr(name + 1, '=');
    n = eq ? (size_t)(eq - name) : strlen(name);
    if (eq)
      value = eq + 1;
    if ((d = find_flag(name, n)) == NULL) {
      snprintf(err, errlen, "flag provided but not defined: -%.*s", (int)n,
               name);
      return -1;
    }
    if (cli->nset >= NM_CLI_MAX_SET) {
      snprintf(err, errlen, "more than %d flags", NM_CLI_MAX_SET);
      return -1;
    }
    fs = &cli->set[cli->nset];
    fs->def = d;
    if (d->kind == NM_FLAG_BOOL) {
      int b = 1;
      if (value && nm_go_parse_bool(value, &b) < 0) {
        snprintf(err, errlen,
                 "invalid boolean value \"%s\" for -%.*s: parse "
                 "error",
                 value, (int)n, name);
        return -1;
      }
      fs->num = b;
    } else {
      if (value == NULL && i < argc)
        value = argv[i++];
      if (value == NULL) {
        snprintf(err, errlen, "flag needs an argument: -%.*s", (int)n, name);
        return -1;
      }
      if (d->kind == NM_FLAG_INT) {
        int r = nm_go_parse_int(value, &fs->num);
        if (r < 0) {
          snprintf(err, errlen, "invalid value \"%s\" for flag -%.*s: %s",
                   value, (int)n, name,
                   r == -2 ? "value out of range" : "parse error");
          return -1;
        }
      }
      fs->value = value;
    }
    cli->nset++;
  }
  for (; i < argc; i++) {
    if (cli->nrest >= (int)(sizeof(cli->rest) / sizeof(cli->rest[0]))) {
      snprintf(err, errlen, "too many arguments");
      return -1;
    }
    cli->rest[cli->nrest++] = argv[i];
  }
  return 0;
}

const nm_flag_set_t *nm_cli_last(const nm_cli_t *cli, int id) {
  for (int i = cli->nset - 1; i >= 0; i--)
    if (cli->set[i].def->id == id)
      return &cli->set[i];
  return NULL;
}
