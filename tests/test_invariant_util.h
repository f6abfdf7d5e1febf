/* Hand-made timelines for the invariant and harness tests: commands, driver
 * lines and server frames written as text (frames are parsed with the
 * project's own parser), at times the test chooses. Header-only: each test
 * program includes it once. */
#ifndef TEST_INVARIANT_UTIL_H
#define TEST_INVARIANT_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_invariants.h"
#include "nm_parser.h"
#include "nm_test_check.h"
#include "nm_timeline.h"

typedef struct {
  nm_tl_t tl;
  uint64_t t_us; /* time of the next entry */
  nm_tl_kind_t kind;
  uint64_t conn;
  const char *rule, *action;
} tlb_t;

static tlb_t B;

static inline void tlb_init(int nclients) {
  static const char *const names[] = {"a", "b", "c"};
  nm_tl_init(&B.tl);
  for (int i = 0; i < nclients; i++)
    nm_tl_add_client(&B.tl, names[i]);
  B.t_us = 1000;
}

static inline void tlb_free(void) {
  nm_tl_free(&B.tl);
}

/* Sets the time of the next entries (ms since the run started). */
static inline void at(double ms) {
  B.t_us = (uint64_t)(ms * 1000.0);
}

static inline size_t last(void) {
  return B.tl.n - 1;
}

static inline int frame_cb(nm_parser_t *p, const nm_frame_t *f) {
  nm_tl_add_frame(&B.tl, B.kind, B.t_us, B.conn, f, f->line.n + 2, B.rule,
                  B.action);
  B.t_us += 10;
  return 0;
}

/* Adds the frames of `wire` as IN (client ops) or OUT (server ops). Returns
 * the index of the first one. */
static inline size_t frames(nm_tl_kind_t kind, uint64_t conn, const char *wire,
                            const char *rule, const char *action) {
  nm_parser_t p;
  size_t first = B.tl.n;
  ck_assert_int_eq(nm_parser_init(&p,
                                  kind == NM_TL_IN ? NM_PARSE_CLIENT_OPS
                                                   : NM_PARSE_SERVER_OPS,
                                  frame_cb, NULL),
                   0);
  nm_parser_set_flags(&p, NM_PARSER_HEADERS);
  B.kind = kind;
  B.conn = conn;
  B.rule = rule;
  B.action = action;
  ck_assert_msg(nm_parser_feed(&p, wire, strlen(wire)) == (ssize_t)strlen(wire),
                "bad wire text in test: %s", wire);
  nm_parser_free(&p);
  return first;
}

static inline size_t in(uint64_t conn, const char *wire) {
  return frames(NM_TL_IN, conn, wire, NULL, NULL);
}

static inline size_t out(uint64_t conn, const char *wire) {
  return frames(NM_TL_OUT, conn, wire, NULL, NULL);
}

/* A frame a rule took (hold, drop...): an ACTION entry. */
static inline size_t taken(uint64_t conn, const char *wire,
                           const char *action) {
  return frames(NM_TL_ACTION, conn, wire, "r1", action);
}

static inline size_t srv(nm_tl_kind_t kind, uint64_t conn) {
  nm_tl_ev_t *e = nm_tl_append(&B.tl, kind, B.t_us);
  e->conn = conn;
  B.t_us += 10;
  return last();
}

/* A command: `fields` is the JSON text after {"id":ID, e.g.
 * "\"op\":\"publish\",\"subject\":\"x\"". */
static inline size_t cmd(int client, int id, const char *fields) {
  char buf[1024];
  cJSON *j;
  snprintf(buf, sizeof(buf), "{\"id\":%d,%s}", id, fields);
  j = cJSON_Parse(buf);
  ck_assert_msg(j != NULL, "bad JSON in test: %s", buf);
  nm_tl_add_cmd(&B.tl, B.t_us, client, j);
  B.t_us += 10;
  return last();
}

/* A driver line (a whole JSON object). */
static inline size_t line(int client, const char *json) {
  cJSON *j = cJSON_Parse(json);
  ck_assert_msg(j != NULL, "bad JSON in test: %s", json);
  nm_tl_add_line(&B.tl, B.t_us, client, j);
  B.t_us += 10;
  return last();
}

static inline size_t ok(int client, int id) {
  char buf[64];
  snprintf(buf, sizeof(buf), "{\"id\":%d,\"ev\":\"ok\"}", id);
  return line(client, buf);
}

/* A client ("a") connected on connection 1: a fresh timeline with the OPEN
 * and the CONNECT. */
static inline void connected(void) {
  tlb_init(1);
  srv(NM_TL_OPEN, 1);
  in(1, "CONNECT {\"name\":\"a\"}\r\n");
}

/* Command `id` subscribes client a as "s" to subject x (sid 1 on connection
 * 1); `extra` is more JSON fields (",\"max\":1"...) or "". */
static inline void sub_s(int id, const char *extra) {
  char f[256];
  snprintf(f, sizeof(f),
           "\"op\":\"subscribe\",\"sub\":\"s\",\"subject\":\"x\"%s", extra);
  cmd(0, id, f);
  in(1, "SUB x 1\r\n");
  ok(0, id);
}

/* Failures counted as "not evaluated" (the timeline was cut short) by the
 * last check_inv. */
static size_t not_evaluated_n;

/* Runs one invariant spec (JSON text) and returns the failure count; with
 * `show`, prints the failures (for debugging a test). */
static inline size_t check_inv(const char *spec) {
  nm_inv_ctx_t cx;
  nm_fails_t f;
  cJSON *s = cJSON_Parse(spec);
  size_t n;
  ck_assert_msg(s != NULL, "bad spec %s", spec);
  ck_assert_int_eq(nm_inv_ctx_init(&cx, &B.tl), 0);
  nm_fails_init(&f);
  ck_assert_int_eq(nm_inv_check(&cx, s, &f), 0);
  n = nm_fails_count(&f);
  not_evaluated_n = nm_fails_count(cx.not_evaluated);
  if (getenv("NM_TEST_SHOW"))
    for (size_t i = 0; i < f.n; i++)
      fprintf(stderr, "%s: %s: %s\n", spec, f.v[i].what, f.v[i].message);
  /* Every failure names at least one event, except a truncation note. */
  for (size_t i = 0; i < f.n; i++)
    ck_assert_msg(cJSON_GetArraySize(f.v[i].evidence) > 0,
                  "%s: failure without evidence: %s", spec, f.v[i].message);
  nm_fails_free(&f);
  nm_inv_ctx_free(&cx);
  cJSON_Delete(s);
  return n;
}

#endif
