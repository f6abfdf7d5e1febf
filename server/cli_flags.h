/* natsmock's command line, read the way nats-server 2.9.10 reads its own: Go's
 * flag package rules (one or two dashes, `-name value`, `-name=value`, bool
 * flags only as `-name` or `-name=false`, integers in Go's syntax) over
 * nats-server's flag set, plus natsmock's own flags. Only the program uses
 * this (not the nm_server library). */
#ifndef NM_CLI_FLAGS_H
#define NM_CLI_FLAGS_H

#include <stddef.h>
#include <stdint.h>

/* At most this many flags are kept from one command line. */
#define NM_CLI_MAX_SET 128

typedef enum {
  NM_FLAG_BOOL,
  NM_FLAG_STRING,
  NM_FLAG_INT, /* Go's int: 64 bits */
} nm_flag_kind_t;

typedef struct {
  const char *name; /* as written after the dashes */
  nm_flag_kind_t kind;
  int id;              /* NM_F_* below: aliases share an id */
  const char *refused; /* NULL: natsmock implements it; else what it lacks */
} nm_flag_def_t;

enum {
  NM_F_HELP = 1,
  NM_F_PORT,
  NM_F_NAME,
  NM_F_ADDR,
  NM_F_CLIENT_ADVERTISE,
  NM_F_DEBUG,
  NM_F_TRACE,
  NM_F_VV,
  NM_F_DV,
  NM_F_DVV,
  NM_F_LOGTIME,
  NM_F_USER,
  NM_F_PASS,
  NM_F_AUTH,
  NM_F_HTTP_PORT,
  NM_F_HTTPS_PORT,
  NM_F_CONFIG,
  NM_F_CHECK_CONFIG,
  NM_F_SIGNAL,
  NM_F_PID,
  NM_F_PORTS_FILE_DIR,
  NM_F_LOG,
  NM_F_LOG_SIZE_LIMIT,
  NM_F_SYSLOG,
  NM_F_REMOTE_SYSLOG,
  NM_F_VERSION,
  NM_F_PROFILE,
  NM_F_ROUTES,
  NM_F_CLUSTER,
  NM_F_CLUSTER_ADVERTISE,
  NM_F_NO_ADVERTISE,
  NM_F_CONNECT_RETRIES,
  NM_F_CLUSTER_NAME,
  NM_F_HELP_TLS,
  NM_F_TLS,
  NM_F_TLSVERIFY,
  NM_F_TLSCERT,
  NM_F_TLSKEY,
  NM_F_TLSCACERT,
  NM_F_MAX_TRACED_MSG_LEN,
  NM_F_JETSTREAM,
  NM_F_STORE_DIR,
  /* natsmock's own */
  NM_F_FAULTS,
  NM_F_SEED,
  NM_F_NO_MOCK_CONTROL,
  NM_F_MAX_HELD,
};

/* One flag as given. */
typedef struct {
  const nm_flag_def_t *def;
  const char *value; /* string flags; NULL for bools and ints */
  int64_t num;       /* ints, and bools (0/1) */
} nm_flag_set_t;

typedef struct {
  nm_flag_set_t set[NM_CLI_MAX_SET];
  int nset;
  const char *rest[8]; /* arguments after the flags */
  int nrest;
} nm_cli_t;

/* Every flag natsmock knows, ending with a NULL name. */
extern const nm_flag_def_t nm_cli_flags[];

/* Parses argv[1..argc) as Go's flag package would. Returns 0, or -1 with
 * Go's message in err ("flag provided but not defined: -x", "invalid value
 * \"abc\" for flag -p: parse error", ...). */
int nm_cli_parse(nm_cli_t *cli, int argc, char **argv, char *err,
                 size_t errlen);

/* The last value given for flag id (Go keeps the last), or NULL. */
const nm_flag_set_t *nm_cli_last(const nm_cli_t *cli, int id);

/* strconv.ParseInt(s, 0, 64): 0, -1 for a syntax error, -2 out of range. */
int nm_go_parse_int(const char *s, int64_t *out);
/* strconv.ParseBool: 0 or -1. */
int nm_go_parse_bool(const char *s, int *out);

#endif
