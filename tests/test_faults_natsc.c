/* The $MOCK.> control API driven by a real NATS client, nats.c 3.4.1: the
 * test scripts the mock with the client it already has (docs/design.md,
 * "Faults: what makes it a mock"). libnats is loaded with dlopen, so this test
 * needs no build-time dependency; without libnats.so it reports itself skipped
 * and passes. */
#include <dlfcn.h>
#include <nats/nats.h>

#include "test_faults_util.h"

/* The few nats.c entry points the test uses, resolved at run time. */
static struct {
  void *lib;
  __typeof__(natsConnection_ConnectTo) *connect_to;
  __typeof__(natsConnection_RequestString) *request_string;
  __typeof__(natsConnection_FlushTimeout) *flush_timeout;
  __typeof__(natsConnection_Destroy) *destroy;
  __typeof__(natsMsg_GetData) *msg_data;
  __typeof__(natsMsg_Destroy) *msg_destroy;
  __typeof__(nats_CloseAndWait) *close_and_wait;
} N;

static int load_natsc(void) {
  N.lib = dlopen("libnats.so.3.4", RTLD_NOW | RTLD_LOCAL);
  if (N.lib == NULL)
    N.lib = dlopen("libnats.so", RTLD_NOW | RTLD_LOCAL);
  if (N.lib == NULL)
    return 0;
  N.connect_to = dlsym(N.lib, "natsConnection_ConnectTo");
  N.request_string = dlsym(N.lib, "natsConnection_RequestString");
  N.flush_timeout = dlsym(N.lib, "natsConnection_FlushTimeout");
  N.destroy = dlsym(N.lib, "natsConnection_Destroy");
  N.msg_data = dlsym(N.lib, "natsMsg_GetData");
  N.msg_destroy = dlsym(N.lib, "natsMsg_Destroy");
  N.close_and_wait = dlsym(N.lib, "nats_CloseAndWait");
  return N.connect_to && N.request_string && N.flush_timeout && N.destroy &&
         N.msg_data && N.msg_destroy && N.close_and_wait;
}

/* A request on $MOCK.<verb>; returns the reply text in out. */
static natsStatus mock_request(natsConnection *nc, const char *verb,
                               const char *doc, char *out, size_t cap) {
  char subject[64];
  natsMsg *reply = NULL;
  natsStatus s;
  snprintf(subject, sizeof(subject), "$MOCK.%s", verb);
  s = N.request_string(&reply, nc, subject, doc, 2000);
  if (s == NATS_OK) {
    snprintf(out, cap, "%s", N.msg_data(reply));
    N.msg_destroy(reply);
  }
  return s;
}

START_TEST(natsc_scripts_the_mock) {
  natsConnection *nc = NULL;
  char url[64], reply[4096];
  long long t0, dt;
  /* ci/setup installs libnats-dev: without it the set-up is broken, and
   * this test must not pass. */
  ck_assert_msg(load_natsc(), "libnats.so (nats.c 3.4) cannot be loaded: %s",
                N.lib == NULL ? dlerror() : "a symbol is missing");
  srv_start();
  snprintf(url, sizeof(url), "nats://127.0.0.1:%d", g_port);
  ck_assert_int_eq(N.connect_to(&nc, url), NATS_OK);
  /* Withhold the PONG of this client's next flush. */
  ck_assert_int_eq(
      mock_request(nc, "fault",
                   "{\"rules\":[{\"id\":\"mute\",\"dir\":\"out\",\"verb\":"
                   "\"PONG\",\"limit\":1,\"action\":\"hold\"}]}",
                   reply, sizeof(reply)),
      NATS_OK);
  ck_assert_str_eq(reply, "{\"ok\":true,\"rules\":[\"mute\"]}");
  t0 = nm_test_now_ms();
  ck_assert_int_eq(N.flush_timeout(nc, 300), NATS_TIMEOUT);
  dt = nm_test_now_ms() - t0;
  ck_assert_msg(dt >= 280, "flush timed out after %lld ms", dt);
  ck_assert(obs_wait("rule=mute action=hold", T_WAIT_MS));
  ck_assert_int_eq(mock_request(nc, "rules", "", reply, sizeof(reply)),
                   NATS_OK);
  ck_assert_msg(strstr(reply, "\"id\":\"mute\"") && strstr(reply, "\"held\":1"),
                "%s", reply);
  /* A bad document comes back as an error reply, not a broken connection. */
  ck_assert_int_eq(
      mock_request(nc, "fault", "{\"rules\":[{}]}", reply, sizeof(reply)),
      NATS_OK);
  ck_assert_msg(strstr(reply, "\"ok\":false") &&
                    strstr(reply, "rules[0].dir: required"),
                "%s", reply);
  ck_assert_int_eq(mock_request(nc, "clear", "", reply, sizeof(reply)),
                   NATS_OK);
  N.destroy(nc);
  N.close_and_wait(2000);
  srv_stop();
}
END_TEST

int main(void) {
  Suite *s = suite_create("faults_natsc");
  TCase *tc = tcase_create("natsc");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, natsc_scripts_the_mock);
  suite_add_tcase(s, tc);
  return nm_test_run_suite(s, CK_NORMAL);
}
