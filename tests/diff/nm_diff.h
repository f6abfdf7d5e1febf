/* The differential runner: wire cases written as data, played against a
 * server process, and the observed bytes and close state per connection.
 *
 * A case file holds many cases; the format is described in
 * tests/diff/cases/README.md. Everything here is bounded by the NM_DIFF_*
 * limits below: a case that breaks one fails to load, it never grows memory
 * without bound. */
#ifndef NM_DIFF_H
#define NM_DIFF_H

#include <stddef.h>

#include "nm_test_util.h"

#define NM_DIFF_MAX_CASES 512
#define NM_DIFF_MAX_STEPS 96
#define NM_DIFF_MAX_CONNS 5 /* connections A..E */
#define NM_DIFF_MAX_NAME 64
#define NM_DIFF_MAX_ARGS 16         /* extra command-line arguments */
#define NM_DIFF_MAX_TEXT (4 << 20)  /* one send/expect after expansion */
#define NM_DIFF_MAX_CONFIG 8192     /* config file text */
#define NM_DIFF_MAX_OUT (3 << 20)   /* bytes kept per connection */
#define NM_DIFF_MAX_LINE (64 << 10) /* one line of a case file */
#define NM_DIFF_RECV_MS 2000        /* default bound of a recv step */
#define NM_DIFF_END_MS 50           /* default bound of an end step */
#define NM_DIFF_MAX_MS 10000        /* no step may wait longer */
#define NM_DIFF_SPLIT_MAX 8192      /* larger sends are never split */
/* What a `mark` step writes into a connection's record: with bounded reads
 * before it, it shows what had arrived by then, so timers are checked. */
#define NM_DIFF_MARK_TEXT "~mark~\n"

typedef enum {
  NM_DIFF_CONNECT,
  NM_DIFF_SEND,
  NM_DIFF_RECV,  /* read until text appears (after the last match) */
  NM_DIFF_SYNC,  /* send PING, read until PONG */
  NM_DIFF_END,   /* read until the peer closes or ms pass */
  NM_DIFF_CLOSE, /* the client closes its side (FIN) */
  NM_DIFF_PAUSE, /* wait ms: only to force separate reads */
  NM_DIFF_MARK,  /* write NM_DIFF_MARK_TEXT into the connection's record */
} nm_diff_op_t;

typedef struct {
  nm_diff_op_t op;
  int conn; /* 0..NM_DIFF_MAX_CONNS-1 */
  int ms;
  char *text; /* send bytes or recv needle (owned) */
  size_t len;
  int line; /* in the case file, for messages */
} nm_diff_step_t;

typedef struct {
  char name[NM_DIFF_MAX_NAME];
  const char *file;
  int line;
  char *config; /* NULL or config file text (owned) */
  char *args[NM_DIFF_MAX_ARGS + 1];
  int nargs;
  int full_info; /* expectations spell INFO out instead of ${INFO} */
  int random;    /* generated: no expectations, the servers must agree */
  int no_split;  /* left out of --split runs (the result depends on cuts) */
  nm_diff_step_t steps[NM_DIFF_MAX_STEPS];
  int nsteps;
  /* Expected result per connection: masked bytes, and the end state. */
  char *expect[NM_DIFF_MAX_CONNS];
  size_t expect_len[NM_DIFF_MAX_CONNS];
  int has_expect[NM_DIFF_MAX_CONNS];
  int expect_state[NM_DIFF_MAX_CONNS]; /* nm_peer_state_t or -1 */
  int used[NM_DIFF_MAX_CONNS];
} nm_diff_case_t;

/* What one server did in one case. */
typedef struct {
  char *out[NM_DIFF_MAX_CONNS]; /* masked bytes received (owned) */
  size_t len[NM_DIFF_MAX_CONNS];
  size_t dropped[NM_DIFF_MAX_CONNS]; /* bytes past NM_DIFF_MAX_OUT */
  nm_peer_state_t state[NM_DIFF_MAX_CONNS];
  int connected[NM_DIFF_MAX_CONNS];
  long long ms;    /* wall time of the run */
  char error[256]; /* the run itself failed (server did not start...) */
} nm_diff_result_t;

/* Parses a case file, appending to cases (capacity max). Returns the number
 * of cases added, or -1 with a message in err. */
int nm_diff_load(const char *path, nm_diff_case_t *cases, int max, char *err,
                 size_t errlen);
void nm_diff_case_free(nm_diff_case_t *c);
/* Fills c with the random case of this seed (nm_diff_random.c). */
int nm_diff_random_case(nm_diff_case_t *c, unsigned seed);

/* Decodes the escapes of a case-file text (\r \n \t \s \\ \xHH and
 * ${N*c}, c repeated N times) into a new buffer. Returns 0 or -1. */
int nm__diff_unescape(const char *in, char **out, size_t *outlen);
/* Appends a printable, escaped form of bytes to a FILE. Newlines in the
 * data are written as \n and also break the printed line when `wrap`. */
void nm__diff_print_escaped(void *file, const char *p, size_t n, int wrap,
                            const char *prefix);

/* Replaces the identity values of every INFO line in buf (server_id,
 * server_name, version, go, host, port, client_id, client_ip) with "*" for a
 * string and 0 for a number, in place into a new buffer. Keys, order and
 * every other byte are kept. */
int nm__diff_mask(const char *in, size_t n, char **out, size_t *outlen);
/* Replaces whole INFO lines with the text ${INFO}. */
int nm__diff_info_placeholder(const char *in, size_t n, char **out,
                              size_t *outlen);

/* Starts `binary` (nats-server's command line) with the case's config and
 * arguments, plays the case, stops the server. With `split`, every send of
 * up to NM_DIFF_SPLIT_MAX bytes is written one byte at a time. Returns 0
 * when the run happened (whatever the server did), -1 with res->error set
 * otherwise. */
int nm_diff_run(const nm_diff_case_t *c, const char *binary, int split,
                nm_diff_result_t *res);
void nm_diff_result_free(nm_diff_result_t *res);

const char *nm__diff_state_name(int st);

#endif
