/* The scenario loader (defaults, the current client, every error naming
 * file and field) and await matching. No I/O but a temp file. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nm_match.h"
#include "nm_scenario.h"
#include "test_invariant_util.h"

static nm_scenario_t *load_ok(const char *text) {
  char err[512];
  nm_scenario_t *sc = NULL;
  int r = nm_scenario_parse(text, strlen(text), "scenarios/flush/f.json", &sc,
                            err, sizeof(err));
  ck_assert_msg(r == 0, "%s", err);
  return sc;
}

START_TEST(defaults) {
  nm_scenario_t *sc = load_ok("{\"steps\":[{\"do\":\"connect\"}]}");
  ck_assert_str_eq(sc->name, "f");
  ck_assert_str_eq(sc->summary, "");
  ck_assert_int_eq(sc->nclients, 1);
  ck_assert_str_eq(sc->clients[0], "a");
  ck_assert_int_eq(sc->timeout_ms, 20000);
  ck_assert_int_eq(sc->real_server, 1);
  ck_assert_int_eq(sc->has_fault, 0);
  ck_assert_int_eq(sc->kinds[0], NM_STEP_CMD);
  nm_scenario_free(sc);
}
END_TEST

START_TEST(current_client_and_kinds) {
  nm_scenario_t *sc = load_ok(
      "{\"name\":\"n\",\"clients\":[\"a\",\"b\"],\"tags\":[\"x\",\"y\"],"
      "\"steps\":["
      "{\"client\":\"b\",\"do\":\"connect\",\"as\":\"c\"},"
      "{\"await\":\"c\"},"
      "{\"fault\":{\"rules\":[]}},"
      "{\"client\":\"a\",\"sleep_ms\":1},"
      "{\"expect_none\":{\"ev\":\"msg\"},\"for_ms\":5},"
      "{\"await\":{\"server\":\"in\",\"verb\":\"PUB\",\"count\":2}}],"
      "\"invariants\":[\"no_loss\",{\"name\":\"flush_timeout\","
      "\"tolerance_ms\":100,\"client\":\"b\"}]}");
  int want_client[] = {1, 1, 1, 0, 0, 0};
  nm_step_kind_t want_kind[] = {NM_STEP_CMD,         NM_STEP_AWAIT,
                                NM_STEP_FAULT,       NM_STEP_SLEEP,
                                NM_STEP_EXPECT_NONE, NM_STEP_AWAIT};
  for (int i = 0; i < 6; i++) {
    ck_assert_int_eq(sc->step_client[i], want_client[i]);
    ck_assert_int_eq(sc->kinds[i], want_kind[i]);
  }
  ck_assert_int_eq(sc->has_fault, 1);
  ck_assert_int_eq(sc->server_await, 1);
  ck_assert(nm_scenario_has_tag(sc, "y"));
  ck_assert(!nm_scenario_has_tag(sc, "z"));
  nm_scenario_free(sc);
}
END_TEST

/* Each bad scenario, and the text its error must contain. */
static const struct {
  const char *text;
  const char *err;
} bad[] = {
    {"{\"steps\":[], \"stepz\":1}", "f.json: stepz: unknown field"},
    {"{\"name\":\"x\"}", "steps: required"},
    {"{\"steps\":[{\"do\":\"connect\"},}",
     "(json): not valid JSON (line 1, column 28, at '}')"},
    {"{\"steps\":\n  [{\"do\":\"connect\"", "line 2, column 18, at '\"'"},
    /* Typos that would silently weaken a check (issue: a typo never
     * disables a check). */
    {"{\"steps\":[{\"do\":\"flush\",\"timeout_msec\":100}]}",
     "steps[0]: unknown field \"timeout_msec\" for flush (it takes: "
     "timeout_ms)"},
    {"{\"requires\":[\"flsh\"],\"steps\":[]}",
     "requires: unknown feature \"flsh\""},
    {"{\"steps\":[{\"do\":\"batch\",\"commands\":[{\"do\":\"publish\","
     "\"subjct\":\"x\"}]}]}",
     "steps[0].commands[0]: unknown field \"subjct\" for publish"},
    {"{\"steps\":[{\"do\":\"subscribe\",\"sub\":\"s\",\"subject\":\"x\","
     "\"on_msg\":[{\"at\":0,\"do\":\"flush\"}]}]}",
     "steps[0].on_msg[0]: at must be a positive integer"},
    {"{\"steps\":[{\"do\":\"subscribe\",\"sub\":\"s\",\"subject\":\"x\","
     "\"on_msg\":[{\"at\":1,\"do\":\"connect\"}]}]}",
     "cannot be a handler action"},
    {"{\"steps\":[{\"do\":\"flush\",\"within_ms\":100}]}",
     "within_ms and not_before_ms apply with expect only"},
    {"[1]", "a scenario is a JSON object"},
    {"{\"steps\":[{\"do\":\"jump\"}]}", "steps[0]: do: unknown op"},
    {"{\"steps\":[{\"do\":\"connect\",\"await\":\"x\"}]}", "exactly one of"},
    {"{\"steps\":[{}]}", "exactly one of"},
    {"{\"steps\":[{\"await\":\"nope\"}]}", "no earlier command"},
    {"{\"steps\":[{\"client\":\"z\",\"do\":\"connect\"}]}",
     "client \"z\" is not in clients"},
    {"{\"steps\":[{\"do\":\"flush\",\"as\":\"f\"},{\"do\":\"flush\",\"as\":"
     "\"f\"}]}",
     "used twice"},
    {"{\"steps\":[{\"do\":\"flush\",\"expect\":\"maybe\"}]}", "expect must"},
    {"{\"steps\":[{\"do\":\"flush\",\"within_ms\":-1}]}",
     "within_ms must be a non-negative integer"},
    {"{\"steps\":[{\"await\":{\"ev\":\"msg\",\"server\":\"in\"}}]}",
     "exactly one of \"ev\" or \"server\""},
    {"{\"steps\":[{\"await\":{\"ev\":\"mesage\"}}]}", "unknown client event"},
    {"{\"steps\":[{\"await\":{\"server\":\"sideways\"}}]}", "server must be"},
    {"{\"steps\":[{\"await\":{\"server\":\"in\",\"verb\":\"PUBB\"}}]}",
     "unknown verb"},
    {"{\"steps\":[{\"await\":{\"server\":\"in\",\"sbj\":\"x\"}}]}",
     "unknown server match field \"sbj\""},
    {"{\"steps\":[{\"await\":{\"ev\":\"msg\",\"since\":\"then\"}}]}",
     "since must be"},
    {"{\"steps\":[{\"await\":{\"ev\":\"msg\"},\"expect\":\"ok\"}]}",
     "apply to awaiting a command"},
    {"{\"steps\":[{\"expect_none\":{\"ev\":\"msg\"}}]}", "needs for_ms"},
    {"{\"steps\":[{\"expect_none\":{\"ev\":\"msg\",\"count\":2},\"for_ms\":"
     "1}]}",
     "count and since are not used"},
    {"{\"steps\":[{\"fault\":3}]}", "fault must be a fault document"},
    {"{\"steps\":[{\"sleep_ms\":\"1\"}]}", "sleep_ms must be"},
    {"{\"steps\":[{\"sleep_ms\":1,\"for_ms\":2}]}", "unknown field \"for_ms\""},
    {"{\"steps\":[{\"do\":\"flush\",\"id\":3}]}", "id and op are the harness"},
    {"{\"server\":{\"max_paylod\":1},\"steps\":[]}",
     "server: unknown option \"max_paylod\""},
    {"{\"server\":{\"user\":3},\"steps\":[]}", "user must be a string"},
    {"{\"server\":{\"ping_interval_ms\":\"2s\"},\"steps\":[]}",
     "ping_interval_ms must be a non-negative integer"},
    {"{\"clients\":[\"a\",\"a\"],\"steps\":[]}", "distinct"},
    {"{\"clients\":[],\"steps\":[]}", "clients: 1 to"},
    {"{\"tags\":\"flush\",\"steps\":[]}", "tags: must be a list of strings"},
    {"{\"timeout_ms\":1.5,\"steps\":[]}", "timeout_ms: must be"},
    {"{\"real_server\":1,\"steps\":[]}", "real_server: must be true or false"},
    {"{\"steps\":[],\"invariants\":[\"no_lose\"]}",
     "invariants[0]: unknown invariant \"no_lose\""},
    {"{\"steps\":[],\"invariants\":[{\"name\":\"no_loss\",\"bound_ms\":3}]}",
     "unknown parameter \"bound_ms\""},
    {"{\"steps\":[],\"invariants\":[{\"name\":\"no_loss\",\"client\":\"q\"}]}",
     "client is not one of"},
};

START_TEST(errors_name_file_and_field) {
  char err[512];
  nm_scenario_t *sc = NULL;
  const char *text = bad[_i].text;
  int r = nm_scenario_parse(text, strlen(text), "scenarios/flush/f.json", &sc,
                            err, sizeof(err));
  ck_assert_msg(r != 0, "accepted: %s", text);
  ck_assert_ptr_null(sc);
  ck_assert_msg(strncmp(err, "scenarios/flush/f.json: ", 24) == 0,
                "no file in \"%s\"", err);
  ck_assert_msg(strstr(err, bad[_i].err) != NULL, "%s\n -> \"%s\", want \"%s\"",
                text, err, bad[_i].err);
}
END_TEST

START_TEST(load_file_and_missing) {
  char path[] = "/tmp/nm-scenario-XXXXXX";
  char err[512];
  nm_scenario_t *sc;
  int fd = mkstemp(path);
  const char *text = "{\"steps\":[{\"do\":\"connect\"}]}";
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  ck_assert_int_eq(nm_scenario_load(path, &sc, err, sizeof(err)), 0);
  ck_assert_str_eq(sc->name, strrchr(path, '/') + 1);
  nm_scenario_free(sc);
  unlink(path);
  ck_assert_int_ne(nm_scenario_load(path, &sc, err, sizeof(err)), 0);
  ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

/* ---- matching ---- */

static int m(size_t i, const char *match, int client) {
  cJSON *j = cJSON_Parse(match);
  int r;
  ck_assert_ptr_nonnull(j);
  r = nm__match(&B.tl, i, j, client);
  cJSON_Delete(j);
  return r;
}

START_TEST(match_client_events) {
  size_t e;
  tlb_init(2);
  e = line(1, "{\"ev\":\"msg\",\"sub\":\"s\",\"seq\":3,\"data\":\"3\"}");
  ck_assert(m(e, "{\"ev\":\"msg\"}", 1));
  ck_assert(!m(e, "{\"ev\":\"msg\"}", 0)); /* the current client is a */
  ck_assert(m(e, "{\"ev\":\"msg\",\"client\":\"b\"}", 0));
  ck_assert(m(e, "{\"ev\":\"msg\",\"sub\":\"s\",\"seq\":3}", 1));
  ck_assert(!m(e, "{\"ev\":\"msg\",\"seq\":4}", 1));
  ck_assert(!m(e, "{\"ev\":\"msg\",\"reply\":\"r\"}", 1));
  ck_assert(m(e, "{\"ev\":\"msg\",\"count\":5,\"since\":\"step\"}", 1));
  tlb_free();
}
END_TEST

START_TEST(match_server_frames) {
  size_t pub, unsub, hold;
  tlb_init(2);
  srv(NM_TL_OPEN, 1);
  in(1, "CONNECT {\"name\":\"b\"}\r\n");
  nm_tl_set_owner(&B.tl, 1, 1);
  pub = in(1, "PUB work reply 8\r\n7.......\r\n");
  unsub = in(1, "UNSUB 4 10\r\n");
  hold = taken(1, "PONG\r\n", "hold");
  ck_assert(m(pub,
              "{\"server\":\"in\",\"verb\":\"PUB\",\"subject\":\"work\","
              "\"reply\":\"reply\",\"seq\":7,\"conn\":1,\"client\":\"b\"}",
              0));
  ck_assert(m(pub, "{\"server\":\"in\",\"data\":\"7.......\"}", 0));
  ck_assert(!m(pub, "{\"server\":\"in\",\"data\":\"7\"}", 0));
  ck_assert(!m(pub, "{\"server\":\"out\",\"verb\":\"PUB\"}", 0));
  ck_assert(!m(pub, "{\"server\":\"in\",\"client\":\"a\"}", 0));
  ck_assert(m(unsub,
              "{\"server\":\"in\",\"verb\":\"unsub\",\"sid\":\"4\","
              "\"max\":\"10\"}",
              0));
  ck_assert(!m(unsub, "{\"server\":\"in\",\"sid\":\"5\"}", 0));
  ck_assert(m(hold,
              "{\"server\":\"action\",\"verb\":\"PONG\",\"action\":"
              "\"hold\",\"rule\":\"r1\"}",
              0));
  ck_assert(!m(hold, "{\"server\":\"out\",\"verb\":\"PONG\"}", 0));
  tlb_free();
}
END_TEST

START_TEST(match_expect_and_near) {
  size_t okl, errl, near[4], n;
  cJSON *x;
  tlb_init(1);
  okl = ok(0, 1);
  errl = line(0, "{\"id\":2,\"ev\":\"err\",\"code\":\"timeout\"}");
  ck_assert(nm__match_expect(&B.tl.v[okl], NULL));
  ck_assert(!nm__match_expect(&B.tl.v[errl], NULL));
  x = cJSON_Parse("\"any\"");
  ck_assert(nm__match_expect(&B.tl.v[errl], x));
  cJSON_Delete(x);
  x = cJSON_Parse("{\"ev\":\"err\",\"code\":\"timeout\"}");
  ck_assert(nm__match_expect(&B.tl.v[errl], x));
  ck_assert(!nm__match_expect(&B.tl.v[okl], x));
  cJSON_Delete(x);
  x = cJSON_Parse("{\"ev\":\"err\",\"code\":\"closed\"}");
  ck_assert(!nm__match_expect(&B.tl.v[errl], x));
  cJSON_Delete(x);
  line(0, "{\"ev\":\"msg\",\"seq\":1}");
  line(0, "{\"ev\":\"msg\",\"seq\":2}");
  x = cJSON_Parse("{\"ev\":\"msg\",\"seq\":9}");
  n = nm__match_near(&B.tl, 0, x, 0, near, 4);
  ck_assert_int_eq(n, 2);
  ck_assert_int_lt(near[0], near[1]);
  cJSON_Delete(x);
  tlb_free();
}
END_TEST

START_TEST(timeline_bounds) {
  static char big[NM_TL_MAX_PAYLOAD * 2];
  nm_frame_t f;
  size_t frames = NM_TL_PAYLOAD_BUDGET / NM_TL_MAX_PAYLOAD + 10;
  nm_tl_t tl;
  nm_tl_ev_t *e;
  memset(big, '7', sizeof(big));
  memset(&f, 0, sizeof(f));
  f.op = NM_OP_MSG;
  f.subject = (nm_slice_t){"x", 1};
  f.sid = (nm_slice_t){"1", 1};
  f.payload = (nm_slice_t){big, sizeof(big)};
  nm_tl_init(&tl);
  for (size_t i = 0; i < frames; i++)
    ck_assert_ptr_nonnull(
        nm_tl_add_frame(&tl, NM_TL_OUT, i, 1, &f, sizeof(big), NULL, NULL));
  /* Each frame keeps at most NM_TL_MAX_PAYLOAD, and past the budget only
   * NM_TL_MIN_PAYLOAD; the real size is kept. */
  ck_assert_int_eq(tl.v[0].payload_len, NM_TL_MAX_PAYLOAD);
  ck_assert_int_eq(tl.v[frames - 1].payload_len, NM_TL_MIN_PAYLOAD);
  ck_assert_int_eq(tl.v[frames - 1].payload_size, sizeof(big));
  ck_assert_int_le(tl.payload_bytes, NM_TL_PAYLOAD_BUDGET + 10 * 64);
  /* Frozen at the end of the steps: nothing more is recorded. */
  tl.frozen = 1;
  e = nm_tl_append(&tl, NM_TL_NOTE, 1);
  ck_assert_ptr_null(e);
  ck_assert_int_eq(tl.n, frames);
  nm_tl_free(&tl);
}
END_TEST

int main(void) {
  Suite *s = suite_create("harness_scenario");
  TCase *tc = tcase_create("all");
  tcase_add_test(tc, defaults);
  tcase_add_test(tc, current_client_and_kinds);
  tcase_add_loop_test(tc, errors_name_file_and_field, 0,
                      (int)(sizeof(bad) / sizeof(bad[0])));
  tcase_add_test(tc, load_file_and_missing);
  tcase_add_test(tc, match_client_events);
  tcase_add_test(tc, match_server_frames);
  tcase_add_test(tc, match_expect_and_near);
  tcase_add_test(tc, timeline_bounds);
  suite_add_tcase(s, tc);
  return nm_test_run_suite(s, CK_NORMAL);
}
