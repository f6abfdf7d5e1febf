/* Invariants over subscriptions, on hand-made timelines, each passing and
 * failing: delivery_order, delivered_all, drain_sub_fence, auto_unsub_max. */
#include "test_invariant_util.h"

/* Client a on connection 1 with subscription s (subject x, sid 1). */
static void subscribed(const char *extra) {
  connected();
  sub_s(1, extra);
}

static void msg(int seq) {
  char buf[128];
  snprintf(buf, sizeof(buf),
           "{\"ev\":\"msg\",\"sub\":\"s\",\"subject\":\"x\",\"size\":1,"
           "\"seq\":%d}",
           seq);
  line(0, buf);
}

START_TEST(delivery_order_pass) {
  subscribed("");
  out(1, "MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\nMSG x 1 1\r\n3\r\n");
  msg(1);
  msg(2);
  msg(3);
  ck_assert_int_eq(check_inv("\"delivery_order\""), 0);
  ck_assert_int_eq(check_inv("\"delivered_all\""), 0);
  tlb_free();
}
END_TEST

START_TEST(delivery_order_fail_swapped) {
  subscribed("");
  out(1, "MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\nMSG x 1 1\r\n3\r\n");
  msg(2);
  msg(1);
  msg(3);
  ck_assert_int_eq(check_inv("\"delivery_order\""), 1);
  tlb_free();
}
END_TEST

START_TEST(delivery_order_fail_never_sent) {
  subscribed("");
  out(1, "MSG x 1 1\r\n1\r\n");
  msg(1);
  msg(7);
  ck_assert_int_eq(check_inv("\"delivery_order\""), 1);
  ck_assert_int_eq(check_inv("{\"name\":\"delivery_order\",\"sub\":\"t\"}"), 0);
  tlb_free();
}
END_TEST

START_TEST(delivery_order_replay_keeps_sid) {
  /* After a reconnect the SUB is replayed with the same sid: same sub. */
  subscribed("");
  out(1, "MSG x 1 1\r\n1\r\n");
  msg(1);
  srv(NM_TL_CLOSE, 1);
  srv(NM_TL_OPEN, 2);
  in(2, "CONNECT {\"name\":\"a\"}\r\nSUB x 1\r\n");
  out(2, "MSG x 1 1\r\n2\r\n");
  msg(2);
  ck_assert_int_eq(check_inv("\"delivery_order\""), 0);
  tlb_free();
}
END_TEST

START_TEST(delivered_all_fail_and_excuses) {
  subscribed("");
  out(1, "MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\n");
  msg(1);
  ck_assert_int_eq(check_inv("\"delivered_all\""), 1);
  tlb_free();

  /* In flight after the UNSUB: may be dropped. */
  subscribed("");
  out(1, "MSG x 1 1\r\n1\r\n");
  in(1, "UNSUB 1\r\n");
  out(1, "MSG x 1 1\r\n2\r\n");
  msg(1);
  ck_assert_int_eq(check_inv("\"delivered_all\""), 0);
  tlb_free();

  /* The client reported dropping messages as a slow consumer. */
  subscribed("");
  out(1, "MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\n");
  msg(1);
  line(0, "{\"ev\":\"slow_consumer\",\"sub\":\"s\"}");
  ck_assert_int_eq(check_inv("\"delivered_all\""), 0);
  tlb_free();

  /* Sent before the UNSUB reached the server, but the application had
   * unsubscribed: the client may drop what it had not handed over yet. */
  subscribed("");
  out(1, "MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\n");
  msg(1);
  cmd(0, 2, "\"op\":\"unsubscribe\",\"sub\":\"s\"");
  ok(0, 2);
  in(1, "UNSUB 1\r\n");
  ck_assert_int_eq(check_inv("\"delivered_all\""), 0);
  tlb_free();

  /* An unsubscribe with a max is not one. */
  subscribed("");
  out(1, "MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\n");
  msg(1);
  cmd(0, 2, "\"op\":\"unsubscribe\",\"sub\":\"s\",\"max\":5");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"delivered_all\""), 1);
  tlb_free();

  /* But what lies beyond the max is not owed, though the server sent it
   * before it read the UNSUB: the client must drop it (auto_unsub_max). */
  subscribed("");
  out(1, "MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\nMSG x 1 1\r\n3\r\n");
  msg(1);
  cmd(0, 2, "\"op\":\"unsubscribe\",\"sub\":\"s\",\"max\":1");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"delivered_all\""), 0);
  tlb_free();

  /* Up to the max it is owed. */
  subscribed("");
  out(1, "MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\nMSG x 1 1\r\n3\r\n");
  cmd(0, 2, "\"op\":\"unsubscribe\",\"sub\":\"s\",\"max\":2");
  ok(0, 2);
  msg(1);
  ck_assert_int_eq(check_inv("\"delivered_all\""), 1);
  tlb_free();

  /* The same for a max given to subscribe. */
  subscribed(",\"max\":1");
  out(1, "MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\n");
  msg(1);
  ck_assert_int_eq(check_inv("\"delivered_all\""), 0);
  tlb_free();
}
END_TEST

START_TEST(drain_sub_fence_pass) {
  subscribed(",\"delay_ms\":5");
  out(1, "MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\n");
  cmd(0, 2, "\"op\":\"drain_sub\",\"sub\":\"s\"");
  in(1, "UNSUB 1\r\nPING\r\n");
  out(1, "PONG\r\n");
  msg(1);
  line(0, "{\"ev\":\"msg_done\",\"sub\":\"s\",\"seq\":1}");
  msg(2);
  line(0, "{\"ev\":\"msg_done\",\"sub\":\"s\",\"seq\":2}");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"drain_sub_fence\""), 0);
  tlb_free();
}
END_TEST

START_TEST(drain_sub_fence_fail_early_ok) {
  /* The drain completes before the second pre-UNSUB message was handled,
   * which then arrives after it. */
  subscribed("");
  out(1, "MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\n");
  cmd(0, 2, "\"op\":\"drain_sub\",\"sub\":\"s\"");
  in(1, "UNSUB 1\r\nPING\r\n");
  out(1, "PONG\r\n");
  msg(1);
  ok(0, 2);
  msg(2);
  ck_assert_int_eq(check_inv("\"drain_sub_fence\""), 2);
  tlb_free();
}
END_TEST

START_TEST(drain_sub_fence_fail_handler_running) {
  subscribed(",\"delay_ms\":100");
  out(1, "MSG x 1 1\r\n1\r\n");
  cmd(0, 2, "\"op\":\"drain_sub\",\"sub\":\"s\"");
  in(1, "UNSUB 1\r\nPING\r\n");
  out(1, "PONG\r\n");
  msg(1);
  ok(0, 2); /* msg_done not yet: the handler still runs */
  line(0, "{\"ev\":\"msg_done\",\"sub\":\"s\",\"seq\":1}");
  ck_assert_int_eq(check_inv("\"drain_sub_fence\""), 1);
  tlb_free();
}
END_TEST

START_TEST(drain_sub_fence_fail_no_unsub) {
  subscribed("");
  cmd(0, 2, "\"op\":\"drain_sub\",\"sub\":\"s\"");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"drain_sub_fence\""), 1);
  tlb_free();
}
END_TEST

START_TEST(auto_unsub_max_pass_fail) {
  subscribed(",\"max\":2");
  out(1, "MSG x 1 1\r\n1\r\nMSG x 1 1\r\n2\r\n");
  msg(1);
  msg(2);
  ck_assert_int_eq(check_inv("\"auto_unsub_max\""), 0);
  out(1, "MSG x 1 1\r\n3\r\n");
  msg(3);
  ck_assert_int_eq(check_inv("\"auto_unsub_max\""), 1);
  tlb_free();

  /* A max set later by unsubscribe counts too. */
  subscribed("");
  cmd(0, 2, "\"op\":\"unsubscribe\",\"sub\":\"s\",\"max\":1");
  msg(1);
  msg(2);
  ck_assert_int_eq(check_inv("\"auto_unsub_max\""), 1);
  tlb_free();

  /* What was handled before that unsubscribe returned cannot be taken back:
   * a max below it ends the subscription at once, and nothing may follow. */
  subscribed("");
  msg(1);
  msg(2);
  msg(3);
  cmd(0, 2, "\"op\":\"unsubscribe\",\"sub\":\"s\",\"max\":1");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"auto_unsub_max\""), 0);
  msg(4);
  ck_assert_int_eq(check_inv("\"auto_unsub_max\""), 1);
  tlb_free();
}
END_TEST

int main(void) {
  Suite *s = suite_create("invariant_sub");
  TCase *tc = tcase_create("all");
  tcase_add_test(tc, delivery_order_pass);
  tcase_add_test(tc, delivery_order_fail_swapped);
  tcase_add_test(tc, delivery_order_fail_never_sent);
  tcase_add_test(tc, delivery_order_replay_keeps_sid);
  tcase_add_test(tc, delivered_all_fail_and_excuses);
  tcase_add_test(tc, drain_sub_fence_pass);
  tcase_add_test(tc, drain_sub_fence_fail_early_ok);
  tcase_add_test(tc, drain_sub_fence_fail_handler_running);
  tcase_add_test(tc, drain_sub_fence_fail_no_unsub);
  tcase_add_test(tc, auto_unsub_max_pass_fail);
  suite_add_tcase(s, tc);
  return nm_test_run_suite(s, CK_NORMAL);
}
