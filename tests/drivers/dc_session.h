/* A driver under test: a child process spoken to in DRIVER-PROTOCOL.md.
 * Every line it prints is parsed and checked for shape as it arrives
 * (replies: one per sent id; events: the fields the protocol gives them) and
 * kept in a timeline the tests search. Every wait has a deadline. */
#ifndef DC_SESSION_H
#define DC_SESSION_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <sys/types.h>

/* Lines kept per session (the timeline); more is a test failure. */
#define DC_MAX_LINES 20000
/* Commands sent per session. */
#define DC_MAX_IDS 4096
/* Bytes of one output line. */
#define DC_MAX_LINE (4 * 1024 * 1024)

typedef struct {
  pid_t pid;
  int in_fd;  /* the driver's stdin */
  int out_fd; /* the driver's stdout */
  char *rbuf; /* partial output line */
  size_t rlen;
  int eof;
  cJSON *hello;
  cJSON *lines[DC_MAX_LINES]; /* every parsed line, in order */
  int nlines;
  int64_t next_id;
  int64_t sent[DC_MAX_IDS]; /* ids sent */
  int nsent;
  int replied[DC_MAX_IDS]; /* replies seen per sent id */
  char problem[512];       /* the first protocol violation seen, or "" */
} dc_session_t;

/* The driver command line (argv, NULL-terminated) every session runs. */
extern char **dc_driver_argv;

/* Starts the driver and reads its hello (5 s). Returns 0 or -1 (with
 * s->problem set). */
int dc_start(dc_session_t *s);
/* Sends exit, expects its ok and the process to end with status 0 (3 s
 * each); then frees everything. Returns 0 or -1. */
int dc_exit(dc_session_t *s);
/* Closes stdin and expects exit status 0 within 3 s. Returns 0 or -1. */
int dc_eof(dc_session_t *s);
/* Kills the driver if still running and frees everything. */
void dc_free(dc_session_t *s);

/* 1 when the hello lists the feature. */
int dc_has(const dc_session_t *s, const char *feature);

/* Sends a command: `json` is an object without "id"; the id is added and
 * returned (-1 on error). */
int64_t dc_send(dc_session_t *s, const char *json);
/* Takes the next id for a line built by hand (dc_send_raw), so its reply
 * is expected like any other. */
int64_t dc_take_id(dc_session_t *s);
/* Sends a raw line as is (for malformed-input tests). Returns 0 or -1. */
int dc_send_raw(dc_session_t *s, const char *line);

/* Reads output until `pred` holds for some line at index >= *from (then
 * returns that line and sets *from past it) or the deadline passes (NULL).
 * Lines stay in the timeline. */
typedef int (*dc_pred_t)(const cJSON *line, const void *arg);
const cJSON *dc_wait(dc_session_t *s, int *from, dc_pred_t pred,
                     const void *arg, int timeout_ms);
/* Waits for the reply to id (timeline search from index 0). */
const cJSON *dc_reply(dc_session_t *s, int64_t id, int timeout_ms);
/* Reads whatever arrives during ms milliseconds (a bounded quiet period for
 * checks that something does NOT happen). */
void dc_drain_output(dc_session_t *s, int ms);

/* Predicates. arg: the event name (dc_is_ev), or a dc_msg_match_t. */
int dc_is_ev(const cJSON *line, const void *ev);
typedef struct {
  const char *ev;  /* "msg" or "msg_done" */
  const char *sub; /* NULL: any */
  int64_t seq;     /* < 0: any */
} dc_msg_match_t;
int dc_is_msg(const cJSON *line, const void *match);
/* Any "err" line, with or without an id (arg unused). */
int dc_is_any_err(const cJSON *line, const void *arg);

/* Counts events named ev (and for sub, when not NULL) in the timeline. */
int dc_count(const dc_session_t *s, const char *ev, const char *sub);
/* Index of the first line matching pred from `from`, or -1. */
int dc_find(const dc_session_t *s, int from, dc_pred_t pred, const void *arg);
/* Index of the reply to id, or -1. */
int dc_reply_index(const dc_session_t *s, int64_t id);

/* Helpers on lines. */
const char *dc_ev(const cJSON *line);
const char *dc_str(const cJSON *line, const char *key);
int64_t dc_int(const cJSON *line, const char *key, int64_t def);
int dc_is_ok(const cJSON *reply);
/* A printable copy of a line for messages (static buffer, one per thread
 * of use; tests are single-threaded). */
const char *dc_show(const cJSON *line);

#endif
