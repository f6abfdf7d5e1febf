/* A real client through the proxy: nats.c 3.4.1 publishes, subscribes,
 * makes requests (answered by another nats.c connection) and drains,
 * through natsmock's proxy in front of nats-server 2.9.10; then a fault
 * rule (a dropped reply) makes the request time out as it would under a
 * real network fault. libnats is loaded with dlopen: without libnats.so the
 * test says so and passes. */
#include <dlfcn.h>
#include <nats/nats.h>

#include "test_proxy_util.h"

static struct {
  void *lib;
  __typeof__(natsConnection_ConnectTo) *connect_to;
  __typeof__(natsConnection_Subscribe) *subscribe;
  __typeof__(natsConnection_SubscribeSync) *subscribe_sync;
  __typeof__(natsSubscription_NextMsg) *next_msg;
  __typeof__(natsConnection_PublishString) *publish_string;
  __typeof__(natsConnection_RequestString) *request_string;
  __typeof__(natsConnection_FlushTimeout) *flush_timeout;
  __typeof__(natsConnection_DrainTimeout) *drain_timeout;
  __typeof__(natsConnection_IsClosed) *is_closed;
  __typeof__(natsConnection_Destroy) *destroy;
  __typeof__(natsSubscription_Destroy) *sub_destroy;
  __typeof__(natsMsg_GetData) *msg_data;
  __typeof__(natsMsg_GetReply) *msg_reply;
  __typeof__(natsMsg_Destroy) *msg_destroy;
  __typeof__(nats_CloseAndWait) *close_and_wait;
} N;

#define SYM(field, name) (N.field = dlsym(N.lib, name)) != NULL

static int load_natsc(void) {
  N.lib = dlopen("libnats.so.3.4", RTLD_NOW | RTLD_LOCAL);
  if (N.lib == NULL)
    N.lib = dlopen("libnats.so", RTLD_NOW | RTLD_LOCAL);
  return N.lib != NULL && SYM(connect_to, "natsConnection_ConnectTo") &&
         SYM(subscribe, "natsConnection_Subscribe") &&
         SYM(subscribe_sync, "natsConnection_SubscribeSync") &&
         SYM(next_msg, "natsSubscription_NextMsg") &&
         SYM(publish_string, "natsConnection_PublishString") &&
         SYM(request_string, "natsConnection_RequestString") &&
         SYM(flush_timeout, "natsConnection_FlushTimeout") &&
         SYM(drain_timeout, "natsConnection_DrainTimeout") &&
         SYM(is_closed, "natsConnection_IsClosed") &&
         SYM(destroy, "natsConnection_Destroy") &&
         SYM(sub_destroy, "natsSubscription_Destroy") &&
         SYM(msg_data, "natsMsg_GetData") &&
         SYM(msg_reply, "natsMsg_GetReply") &&
         SYM(msg_destroy, "natsMsg_Destroy") &&
         SYM(close_and_wait, "nats_CloseAndWait");
}

/* The responder: answers "re:" + the request. */
static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                       void *closure) {
  char out[256];
  snprintf(out, sizeof(out), "re:%s", N.msg_data(msg));
  if (N.msg_reply(msg) != NULL)
    N.publish_string(nc, N.msg_reply(msg), out);
  N.msg_destroy(msg);
}

static volatile int g_drained;
static void on_count(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                     void *closure) {
  __atomic_add_fetch(&g_drained, 1, __ATOMIC_SEQ_CST);
  N.msg_destroy(msg);
}

START_TEST(natsc_through_the_proxy) {
  natsConnection *a = NULL, *b = NULL, *c = NULL;
  natsSubscription *sync = NULL, *resp = NULL, *cnt = NULL;
  natsMsg *m = NULL;
  char url[64];
  long long deadline;
  int i;

  /* ci/setup installs libnats-dev: without it the set-up is broken, and
   * this test must not pass. */
  ck_assert_msg(load_natsc(), "libnats.so (nats.c 3.4) cannot be loaded: %s",
                N.lib == NULL ? dlerror() : "a symbol is missing");
  px_start();
  nm_proxy_url(g_px, url, sizeof(url));
  ck_assert_int_eq(N.connect_to(&a, url), NATS_OK);
  ck_assert_int_eq(N.connect_to(&b, url), NATS_OK);

  /* pub/sub */
  ck_assert_int_eq(N.subscribe_sync(&sync, b, "ps.*"), NATS_OK);
  ck_assert_int_eq(N.flush_timeout(b, 2000), NATS_OK);
  ck_assert_int_eq(N.publish_string(a, "ps.one", "hello"), NATS_OK);
  ck_assert_int_eq(N.next_msg(&m, sync, 2000), NATS_OK);
  ck_assert_str_eq(N.msg_data(m), "hello");
  N.msg_destroy(m);

  /* request/reply, both ends through the proxy */
  ck_assert_int_eq(N.subscribe(&resp, b, "svc", on_request, NULL), NATS_OK);
  ck_assert_int_eq(N.flush_timeout(b, 2000), NATS_OK);
  for (i = 0; i < 20; i++) {
    ck_assert_int_eq(N.request_string(&m, a, "svc", "q", 2000), NATS_OK);
    ck_assert_str_eq(N.msg_data(m), "re:q");
    N.msg_destroy(m);
  }

  /* A fault: the proxy drops the next reply on its way to `a` (connection
   * 1), so the request times out; the one after it works again. */
  fault("{\"rules\":[{\"dir\":\"out\",\"verb\":\"MSG\",\"conn\":1,"
        "\"subject\":\"_INBOX.>\",\"limit\":1,\"action\":\"drop\"}]}");
  ck_assert_int_eq(N.request_string(&m, a, "svc", "lost", 300), NATS_TIMEOUT);
  ck_assert_int_eq(N.request_string(&m, a, "svc", "q2", 2000), NATS_OK);
  ck_assert_str_eq(N.msg_data(m), "re:q2");
  N.msg_destroy(m);
  ck_assert(obs_wait("action=drop", T_WAIT_MS));

  /* drain: every message published before the drain is handled, then the
   * connection closes. */
  ck_assert_int_eq(N.connect_to(&c, url), NATS_OK);
  ck_assert_int_eq(N.subscribe(&cnt, c, "dr", on_count, NULL), NATS_OK);
  ck_assert_int_eq(N.flush_timeout(c, 2000), NATS_OK);
  for (i = 0; i < 200; i++)
    ck_assert_int_eq(N.publish_string(a, "dr", "x"), NATS_OK);
  ck_assert_int_eq(N.flush_timeout(a, 2000), NATS_OK);
  ck_assert_int_eq(N.flush_timeout(c, 2000), NATS_OK);
  ck_assert_int_eq(N.drain_timeout(c, 5000), NATS_OK);
  deadline = nm_test_now_ms() + 6000;
  while (!N.is_closed(c) && nm_test_now_ms() < deadline)
    usleep(5000); /* nats.c's closed callback would need a thread handoff */
  ck_assert(N.is_closed(c));
  ck_assert_int_eq(__atomic_load_n(&g_drained, __ATOMIC_SEQ_CST), 200);

  N.sub_destroy(sync);
  N.sub_destroy(resp);
  N.sub_destroy(cnt);
  N.destroy(a);
  N.destroy(b);
  N.destroy(c);
  N.close_and_wait(2000);
  px_stop();
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("proxy_natsc");
  TCase *tc = tcase_create("natsc");
  tcase_add_unchecked_fixture(tc, ns_up, ns_down);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, natsc_through_the_proxy);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_NORMAL);
}
