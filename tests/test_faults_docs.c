/* Fault documents: bad ones are rejected with a message naming the field and
 * change nothing; ids, clear and remove; the caps on rules and held frames;
 * the $MOCK.> control API from a raw socket client. */
#include "test_faults_util.h"

static const struct {
  const char *doc;
  const char *error;
} kBad[] = {
    {"", "empty document"},
    {"{\"rules\":[", "not valid JSON"},
    {"[1]", "must be a JSON object"},
    {"{\"rulez\":[]}", "rulez: unknown field"},
    {"{\"rules\":{}}", "rules: must be a list"},
    {"{\"rules\":[{\"verb\":\"PONG\",\"action\":\"drop\"}]}", "rules[0].dir"},
    {"{\"rules\":[{\"dir\":\"sideways\",\"action\":\"drop\"}]}",
     "rules[0].dir"},
    {"{\"rules\":[{\"dir\":\"out\",\"verb\":\"PANG\",\"action\":\"drop\"}]}",
     "rules[0].verb: unknown op \"PANG\""},
    {"{\"rules\":[{\"dir\":\"out\",\"verb\":[\"PONG\",7],\"action\":\"drop\"}]"
     "}",
     "rules[0].verb"},
    {"{\"rules\":[{\"dir\":\"out\",\"verb\":\"PUB\",\"action\":\"drop\"}]}",
     "rules[0].verb: the server never sends PUB (dir \"out\")"},
    {"{\"rules\":[{\"dir\":\"in\",\"verb\":[\"PING\",\"MSG\"],\"action\":"
     "\"drop\"}]}",
     "rules[0].verb: a client never sends MSG (dir \"in\")"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"explode\"}]}",
     "rules[0].action"},
    {"{\"rules\":[{\"dir\":\"out\"}]}", "rules[0].action: required"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"delay\"}]}",
     "rules[0].ms: required"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"drop\",\"ms\":5}]}",
     "rules[0].ms: only for \"delay\""},
    {"{\"rules\":[{\"dir\":\"in\",\"action\":\"split\",\"chunk\":1}]}",
     "works on \"dir\":\"out\" only"},
    {"{\"rules\":[{\"dir\":\"in\",\"action\":\"coalesce\"}]}",
     "works on \"dir\":\"out\" only"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"split\"}]}",
     "exactly one of \"chunk\" or \"cuts\""},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"split\",\"chunk\":0}]}",
     "rules[0].chunk"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"drop\",\"nth\":0}]}",
     "rules[0].nth: must be an integer"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"drop\",\"every\":1.5}]}",
     "rules[0].every"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"drop\",\"limit\":-1}]}",
     "rules[0].limit"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"drop\",\"subject\":\"a..b\"}]}",
     "rules[0].subject"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"drop\",\"conn\":\"first\"}]}",
     "rules[0].conn"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"drop\",\"color\":1}]}",
     "rules[0].color: unknown field"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"drop\",\"after\":{}}]}",
     "rules[0].after.dir"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"drop\",\"id\":\"a b\"}]}",
     "rules[0].id"},
    {"{\"rules\":[{\"id\":\"x\",\"dir\":\"out\",\"action\":\"drop\"},"
     "{\"id\":\"x\",\"dir\":\"out\",\"action\":\"drop\"}]}",
     "rules[1].id: \"x\" is already in use"},
    {"{\"rules\":[{\"dir\":\"out\",\"action\":\"pass\",\"then\":[{}]}]}",
     "rules[0].then[0].do"},
    {"{\"remove\":[\"nope\"]}", "remove[0]: no rule \"nope\""},
    {"{\"clear\":1}", "clear: must be true or false"},
    {"{\"actions\":[{\"do\":\"fly\"}]}", "actions[0].do"},
    {"{\"actions\":[{\"do\":\"send_raw\"}]}", "actions[0].data: required"},
    {"{\"actions\":[{\"do\":\"send_raw\",\"data\":\"a\",\"data_b64\":\"YQ==\"}]"
     "}",
     "not both"},
    {"{\"actions\":[{\"do\":\"send_raw\",\"data_b64\":\"!!\"}]}",
     "actions[0].data_b64: not valid base64"},
    {"{\"actions\":[{\"do\":\"send\",\"frame\":{\"op\":\"NOPE\"}}]}",
     "actions[0].frame.op"},
    {"{\"actions\":[{\"do\":\"send\",\"frame\":{\"op\":\"MSG\"}}]}",
     "\"subject\" and \"sid\" are required"},
    {"{\"actions\":[{\"do\":\"send\",\"frame\":{\"op\":\"MSG\",\"subject\":"
     "\"a\",\"sid\":\"1\",\"headers\":{\"a\":\"b\"}}}]}",
     "need op \"HMSG\""},
    {"{\"actions\":[{\"do\":\"send\",\"frame\":{\"op\":\"HMSG\",\"subject\":"
     "\"a\",\"sid\":\"1\",\"status\":\"50\"}}]}",
     "status: must be a 3-digit string"},
    {"{\"actions\":[{\"do\":\"send\",\"frame\":{\"op\":\"ERR\"}}]}",
     "frame.text: required"},
    {"{\"actions\":[{\"do\":\"send\",\"frame\":{\"op\":\"INFO\",\"fields\":"
     "[1]}}]}",
     "frame.fields: must be an object"},
    {"{\"actions\":[{\"do\":\"send\",\"conn\":0,\"frame\":{\"op\":\"PING\"}}]}",
     "actions[0].conn"},
    {"{\"actions\":[{\"do\":\"publish\"}]}", "actions[0].subject: required"},
    {"{\"actions\":[{\"do\":\"publish\",\"subject\":\"a.*\"}]}",
     "actions[0].subject"},
    {"{\"actions\":[{\"do\":\"publish\",\"subject\":\"$MOCK.clear\"}]}",
     "control API"},
    {"{\"actions\":[{\"do\":\"publish\",\"subject\":\"a\",\"count\":2000000}]}",
     "actions[0].count"},
    {"{\"actions\":[{\"do\":\"publish\",\"subject\":\"a\",\"count\":1000000,"
     "\"size\":1000}]}",
     "count x size"},
    {"{\"actions\":[{\"do\":\"refuse\"}]}", "actions[0].count: required"},
    {"{\"actions\":[{\"do\":\"restart\",\"ms\":-5}]}", "actions[0].ms"},
    {"{\"actions\":[{\"do\":\"close\",\"flush\":\"yes\"}]}",
     "actions[0].flush"},
};

START_TEST(bad_documents_rejected) {
  char err[512];
  nm_buf_t res;
  srv_start();
  fault_bad(kBad[_i].doc, kBad[_i].error);
  /* Nothing changed: no rule is installed. */
  nm_buf_init(&res, 1 << 16);
  err[0] = '\0';
  ck_assert_int_eq(nm_server_fault_sync(g_srv, "{\"remove\":[\"x\"]}", &res,
                                        err, sizeof(err)),
                   NM_EINVAL);
  nm_buf_free(&res);
  srv_stop();
}
END_TEST

START_TEST(bad_document_changes_nothing) {
  char buf[T_BUF];
  int fd;
  srv_start();
  fd = cli_connect();
  /* The first rule is good, the second bad: neither is installed, and the
   * action does not run. */
  fault_bad(
      "{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"action\":\"drop\"},"
      "{\"dir\":\"out\",\"action\":\"bogus\"}],"
      "\"actions\":[{\"do\":\"send_raw\",\"data\":\"X\"}]}",
      "rules[1].action");
  nm_test_send_str(fd, "PING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, "PONG\r\n");
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(ids_clear_remove) {
  char err[512];
  nm_buf_t res;
  srv_start();
  nm_buf_init(&res, 1 << 16);
  ck_assert_int_eq(
      nm_server_fault_sync(g_srv,
                           "{\"rules\":[{\"dir\":\"out\",\"action\":\"pass\"},"
                           "{\"id\":\"mine\",\"dir\":\"in\",\"action\":"
                           "\"pass\"},{\"dir\":\"in\",\"action\":\"pass\"}]}",
                           &res, err, sizeof(err)),
      0);
  nm_buf_append(&res, "", 1); /* NUL-terminated for the comparison */
  ck_assert_str_eq(res.base,
                   "{\"ok\":true,\"rules\":[\"r1\",\"mine\",\"r2\"]}");
  fault("{\"remove\":[\"r1\",\"mine\"]}");
  ck_assert(obs_wait("ACTION c0 op=- rule=mine action=remove", T_WAIT_MS));
  fault_bad("{\"remove\":[\"mine\"]}", "no rule \"mine\"");
  /* An id in use is refused; after clear it is free again. */
  fault_bad("{\"rules\":[{\"id\":\"r2\",\"dir\":\"in\",\"action\":\"pass\"}]}",
            "already in use");
  fault("{\"clear\":true,\"rules\":[{\"id\":\"r2\",\"dir\":\"in\","
        "\"action\":\"pass\"}]}");
  ck_assert(obs_wait("ACTION c0 op=- rule=r2 action=install", T_WAIT_MS));
  nm_buf_free(&res);
  srv_stop();
}
END_TEST

START_TEST(rule_cap) {
  nm_buf_t doc;
  int i;
  srv_start();
  nm_buf_init(&doc, 1 << 20);
  nm_buf_append_str(&doc, "{\"rules\":[");
  for (i = 0; i < 256; i++)
    nm_buf_appendf(&doc,
                   "%s{\"dir\":\"in\",\"verb\":\"PUB\",\"action\":\"pass\"}",
                   i ? "," : "");
  nm_buf_append_str(&doc, "]}");
  fault(doc.base);
  fault_bad("{\"rules\":[{\"dir\":\"in\",\"action\":\"pass\"}]}",
            "over the limit of 256 rules");
  /* Removing one makes room for one. */
  fault(
      "{\"remove\":[\"r1\"],\"rules\":[{\"dir\":\"in\",\"action\":\"pass\"}]}");
  nm_buf_free(&doc);
  srv_stop();
}
END_TEST

/* Removes the server's keepalive PINGs from a read: the first one comes about
 * 2 s after CONNECT (as nats-server's), which a slow run can reach. */
static void strip_server_pings(char *buf) {
  char *p;
  while ((p = strstr(buf, "PING\r\n")) != NULL)
    memmove(p, p + 6, strlen(p + 6) + 1);
}

START_TEST(held_frame_cap) {
  static char buf[1 << 20];
  int fd;
  srv_start();
  fd = cli_connect();
  nm_test_send_str(fd, "SUB c 1\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  /* 10005 messages, every one to be held: 10000 are (the cap), the last 5
   * pass untouched and the observer says why. */
  fault("{\"rules\":[{\"id\":\"all\",\"dir\":\"out\",\"verb\":\"MSG\","
        "\"action\":\"hold\"}],\"actions\":[{\"do\":\"publish\","
        "\"subject\":\"c\",\"count\":10005}]}");
  want(fd, buf, sizeof(buf), "MSG c 1 5\r\n10005\r\n");
  strip_server_pings(buf);
  ck_assert_str_eq(buf, "MSG c 1 5\r\n10001\r\nMSG c 1 5\r\n10002\r\n"
                        "MSG c 1 5\r\n10003\r\nMSG c 1 5\r\n10004\r\n"
                        "MSG c 1 5\r\n10005\r\n");
  ck_assert(obs_wait("held-frame cap reached", T_WAIT_MS));
  /* Release writes the 10000 held ones, in order. */
  fault("{\"clear\":true,\"actions\":[{\"do\":\"release\",\"rule\":\"all\"}]}");
  want(fd, buf, sizeof(buf), "MSG c 1 5\r\n10000\r\n");
  strip_server_pings(buf);
  ck_assert_msg(strncmp(buf, "MSG c 1 1\r\n1\r\nMSG c 1 1\r\n2\r\n", 28) == 0,
                "%.60s", buf);
  close(fd);
  srv_stop();
}
END_TEST

/* A raw client's request on $MOCK.<verb>; returns the reply payload. */
static void mock_request(int fd, const char *verb, const char *payload,
                         char *out, size_t cap) {
  char line[T_BUF], buf[T_BUF];
  char *p, *nl;
  snprintf(line, sizeof(line), "PUB $MOCK.%s _r %zu\r\n%s\r\n", verb,
           strlen(payload), payload);
  nm_test_send_str(fd, line);
  want(fd, buf, sizeof(buf), "}\r\n");
  p = strstr(buf, "MSG _r 1 ");
  ck_assert_msg(p != NULL, "no reply: %s", buf);
  nl = strstr(p, "\r\n");
  ck_assert_ptr_nonnull(nl);
  snprintf(out, cap, "%s", nl + 2);
  out[strlen(out) - 2] = '\0';
}

START_TEST(mock_control_from_raw_client) {
  char reply[T_BUF], buf[T_BUF];
  int fd, other;
  srv_start();
  fd = cli_connect();
  nm_test_send_str(fd, "SUB _r 1\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  other = cli_connect();
  /* Install a rule that drops the other connection's PONGs. */
  mock_request(fd, "fault",
               "{\"rules\":[{\"id\":\"x\",\"dir\":\"out\",\"verb\":\"PONG\","
               "\"conn\":2,\"action\":\"drop\"}]}",
               reply, sizeof(reply));
  ck_assert_str_eq(reply, "{\"ok\":true,\"rules\":[\"x\"]}");
  nm_test_send_str(other, "PING\r\n");
  quiet(other, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  mock_request(fd, "rules", "", reply, sizeof(reply));
  ck_assert_msg(strstr(reply, "\"id\":\"x\"") != NULL &&
                    strstr(reply, "\"acted\":1") != NULL,
                "%s", reply);
  mock_request(fd, "fault", "{\"rules\":[{\"dir\":\"up\"}]}", reply,
               sizeof(reply));
  ck_assert_msg(strncmp(reply, "{\"ok\":false,\"error\":\"rules[0].dir", 33) ==
                    0,
                "%s", reply);
  mock_request(fd, "nope", "", reply, sizeof(reply));
  ck_assert_ptr_nonnull(strstr(reply, "unknown control subject"));
  /* "this" in a request is the requesting connection. */
  mock_request(fd, "fault",
               "{\"actions\":[{\"do\":\"send_raw\",\"conn\":\"this\","
               "\"data\":\"+OK\\r\\n\"}]}",
               reply, sizeof(reply));
  mock_request(fd, "clear", "", reply, sizeof(reply));
  ck_assert_str_eq(reply, "{\"ok\":true,\"rules\":[]}");
  nm_test_send_str(other, "PING\r\n");
  want(other, buf, sizeof(buf), "PONG\r\n");
  close(fd);
  close(other);
  srv_stop();
}
END_TEST

START_TEST(mock_reply_comes_before_actions) {
  char reply[T_BUF], buf[T_BUF];
  nm_peer_state_t st;
  int fd;
  srv_start();
  fd = cli_connect();
  nm_test_send_str(fd, "SUB _r 1\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  /* The request closes its own connection: the answer still comes, then
   * the FIN. */
  mock_request(fd, "fault",
               "{\"actions\":[{\"do\":\"close\",\"conn\":\"this\"}]}", reply,
               sizeof(reply));
  ck_assert_str_eq(reply, "{\"ok\":true,\"rules\":[]}");
  nm_test_read(fd, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_EOF);
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(mock_trace_lists_actions) {
  char reply[T_BUF], buf[T_BUF];
  const char *p;
  int fd;
  srv_start();
  fd = cli_connect();
  nm_test_send_str(fd, "SUB _r 1\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  mock_request(fd, "fault",
               "{\"rules\":[{\"id\":\"d\",\"dir\":\"in\",\"verb\":\"PING\","
               "\"limit\":1,\"action\":\"drop\"}]}",
               reply, sizeof(reply));
  nm_test_send_str(fd, "PING\r\n");
  ck_assert(obs_wait("rule=d action=drop", T_WAIT_MS));
  mock_request(fd, "trace", "", reply, sizeof(reply));
  ck_assert_msg(strncmp(reply, "{\"ok\":true,\"dropped\":0,\"events\":[", 33) ==
                    0,
                "%s", reply);
  ck_assert_msg(strstr(reply, "\"rule\":\"d\",\"action\":\"install\"") != NULL,
                "%s", reply);
  p = strstr(reply, "\"verb\":\"PING\",\"rule\":\"d\",\"action\":\"drop\"");
  ck_assert_msg(p != NULL, "%s", reply);
  /* "since": only newer events (here: none). */
  mock_request(fd, "trace", "{\"since\":2}", reply, sizeof(reply));
  ck_assert_str_eq(reply, "{\"ok\":true,\"dropped\":0,\"events\":[]}");
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(mock_not_routed) {
  char buf[T_BUF];
  int fd;
  srv_start();
  fd = cli_connect();
  nm_test_send_str(fd, "SUB $MOCK.> 1\r\nSUB s 2\r\n"
                       "PUB $MOCK.rules 0\r\n\r\nPUB s 1\r\nz\r\n");
  want(fd, buf, sizeof(buf), "MSG s 2 1\r\nz\r\n");
  ck_assert_str_eq(buf, "MSG s 2 1\r\nz\r\n");
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(sync_empty_document) {
  nm_server_t *s;
  nm_server_opts_t o;
  char err[256] = "";
  nm_server_opts_init(&o);
  o.port = 0;
  ck_assert_int_eq(nm_server_start_thread(&o, &s), 0);
  ck_assert_int_eq(nm_server_fault_sync(s, "{}", NULL, err, sizeof(err)), 0);
  nm_server_stop_thread(s);
}
END_TEST

/* Documents with random bytes changed (seeded) are accepted or rejected,
 * never crash (ASan/UBSan builds make this a real check), and the server
 * still answers afterwards. */
static const char *const kSeeds[] = {
    "{\"rules\":[{\"id\":\"a\",\"dir\":\"out\",\"verb\":[\"PONG\",\"MSG\"],"
    "\"subject\":\"x.*\",\"sid\":\"1\",\"nth\":2,\"every\":3,\"limit\":4,"
    "\"after\":{\"dir\":\"in\",\"verb\":\"UNSUB\",\"nth\":1},"
    "\"action\":\"split\",\"cuts\":3,\"seed\":7}]}",
    "{\"clear\":true,\"rules\":[{\"dir\":\"in\",\"action\":\"delay\","
    "\"ms\":5,\"then\":[{\"do\":\"send\",\"frame\":{\"op\":\"HMSG\","
    "\"subject\":\"a\",\"sid\":\"2\",\"headers\":{\"K\":[\"v\"]},"
    "\"status\":\"503\",\"description\":\"x\",\"data_b64\":\"AAE=\"}}]}]}",
    "{\"actions\":[{\"do\":\"publish\",\"subject\":\"p\",\"count\":3,"
    "\"size\":9},{\"do\":\"send_raw\",\"conn\":\"all\",\"data\":\"x\"},"
    "{\"do\":\"release\",\"rule\":\"a\",\"count\":2},{\"do\":\"send\","
    "\"frame\":{\"op\":\"INFO\",\"fields\":{\"ldm\":true}}},"
    "{\"do\":\"stall\",\"conn\":3}]}",
};

START_TEST(mutated_documents_never_crash) {
  static const char kChars[] = "{}[]\",:0123456789-.eE tfnul\\/\x01\xff";
  char doc[2048], err[512], buf[T_BUF];
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  int i, k, fd, accepted = 0;
  srv_start();
  for (i = 0; i < 3000; i++) {
    const char *seed = kSeeds[i % 3];
    size_t n = strlen(seed);
    int rc;
    memcpy(doc, seed, n + 1);
    for (k = 0; k < 1 + i % 4; k++) {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      doc[rng % n] = kChars[(rng >> 20) % (sizeof(kChars) - 1)];
    }
    rc = nm_server_fault_sync(g_srv, doc, NULL, err, sizeof(err));
    ck_assert_msg(rc == 0 || rc == NM_EINVAL, "%s -> %d", doc, rc);
    ck_assert_msg(rc == 0 || err[0] != '\0', "no message for %s", doc);
    accepted += rc == 0;
  }
  ck_assert_int_gt(accepted, 0);
  fault("{\"clear\":true}");
  fd = cli_connect();
  nm_test_send_str(fd, "PING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  close(fd);
  srv_stop();
}
END_TEST

Suite *faults_docs_suite(void) {
  Suite *s = suite_create("faults_docs");
  TCase *tc = tcase_create("docs");
  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, bad_documents_rejected, 0,
                      (int)(sizeof(kBad) / sizeof(kBad[0])));
  tcase_add_test(tc, bad_document_changes_nothing);
  tcase_add_test(tc, ids_clear_remove);
  tcase_add_test(tc, rule_cap);
  tcase_add_test(tc, held_frame_cap);
  tcase_add_test(tc, mock_control_from_raw_client);
  tcase_add_test(tc, mock_reply_comes_before_actions);
  tcase_add_test(tc, mock_trace_lists_actions);
  tcase_add_test(tc, mock_not_routed);
  tcase_add_test(tc, sync_empty_document);
  tcase_add_test(tc, mutated_documents_never_crash);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return nm_test_run_suite(faults_docs_suite(), CK_NORMAL);
}
