/* Invariants over publishes and flushes, on hand-made timelines: each one
 * shown passing on a correct client's timeline and failing on a broken
 * one's. publish_order, no_loss, lone_publish_latency, flush_fence,
 * flush_timeout, pong_fifo, flush_liveness, close_reports. */
#include "test_invariant_util.h"

static const char kPub3[] = "\"op\":\"publish\",\"subject\":\"x\",\"count\":3";

START_TEST(publish_order_pass) {
  connected();
  cmd(0, 1, kPub3);
  in(1, "PUB x 1\r\n1\r\nPUB x 1\r\n2\r\nPUB x 1\r\n3\r\n");
  ok(0, 1);
  ck_assert_int_eq(check_inv("\"publish_order\""), 0);
  tlb_free();
}
END_TEST

START_TEST(publish_order_fail_reordered) {
  connected();
  cmd(0, 1, kPub3);
  in(1, "PUB x 1\r\n2\r\nPUB x 1\r\n1\r\nPUB x 1\r\n3\r\n");
  ok(0, 1);
  ck_assert_int_eq(check_inv("\"publish_order\""), 1);
  tlb_free();
}
END_TEST

START_TEST(publish_order_fail_duplicate) {
  connected();
  cmd(0, 1, kPub3);
  in(1, "PUB x 1\r\n1\r\nPUB x 1\r\n1\r\nPUB x 1\r\n2\r\nPUB x 1\r\n3\r\n");
  ok(0, 1);
  ck_assert_int_eq(check_inv("\"publish_order\""), 1);
  tlb_free();
}
END_TEST

START_TEST(publish_order_across_commands) {
  /* Two publish commands with the same payloads ("1"): order is by call. */
  connected();
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"a\"");
  cmd(0, 2, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"b\"");
  in(1, "PUB x 1\r\nb\r\nPUB x 1\r\na\r\n");
  ck_assert_int_eq(check_inv("\"publish_order\""), 1);
  tlb_free();
}
END_TEST

START_TEST(no_loss_pass_and_excused) {
  connected();
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"count\":2");
  in(1, "PUB x 1\r\n1\r\nPUB x 1\r\n2\r\n");
  ok(0, 1);
  /* Failed after publishing one: only that one is owed. */
  cmd(0, 2, "\"op\":\"publish\",\"subject\":\"y\",\"count\":3");
  in(1, "PUB y 1\r\n1\r\n");
  line(0, "{\"id\":2,\"ev\":\"err\",\"code\":\"closed\",\"published\":1}");
  /* Still pending when the steps ended: not counted. */
  cmd(0, 3, "\"op\":\"publish\",\"subject\":\"z\"");
  ck_assert_int_eq(check_inv("\"no_loss\""), 0);
  tlb_free();
}
END_TEST

START_TEST(no_loss_fail) {
  connected();
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"count\":3,\"size\":8");
  in(1, "PUB x 8\r\n1.......\r\nPUB x 8\r\n3.......\r\n");
  ok(0, 1);
  ck_assert_int_eq(check_inv("\"no_loss\""), 1);
  ck_assert_int_eq(check_inv("{\"name\":\"no_loss\",\"subject\":\"other\"}"),
                   0);
  tlb_free();
}
END_TEST

START_TEST(no_loss_data_b64) {
  connected();
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data_b64\":\"aGk=\"");
  in(1, "PUB x 2\r\nhi\r\n");
  ok(0, 1);
  ck_assert_int_eq(check_inv("\"no_loss\""), 0);
  tlb_free();
}
END_TEST

START_TEST(lone_publish_latency_pass) {
  connected();
  at(10);
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"lone\"");
  at(12);
  in(1, "PUB x 4\r\nlone\r\n");
  ok(0, 1);
  at(500);
  line(0, "{\"ev\":\"connected\"}");
  ck_assert_int_eq(check_inv("{\"name\":\"lone_publish_latency\","
                             "\"bound_ms\":50}"),
                   0);
  tlb_free();
}
END_TEST

START_TEST(lone_publish_latency_fail) {
  connected();
  at(10);
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"lone\"");
  ok(0, 1);
  at(300); /* the message waited for company */
  in(1, "PUB x 4\r\nlone\r\n");
  ck_assert_int_eq(check_inv("{\"name\":\"lone_publish_latency\","
                             "\"bound_ms\":50}"),
                   1);
  tlb_free();
}
END_TEST

START_TEST(lone_publish_latency_time_scale) {
  /* 250 ms against a 50 ms bound fails as written, passes scaled by 6. */
  nm_inv_ctx_t cx;
  nm_fails_t f;
  cJSON *spec = cJSON_Parse("{\"name\":\"lone_publish_latency\","
                            "\"bound_ms\":50}");
  connected();
  at(10);
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"lone\"");
  ok(0, 1);
  at(260);
  in(1, "PUB x 4\r\nlone\r\n");
  ck_assert_int_eq(nm_inv_ctx_init(&cx, &B.tl), 0);
  nm_fails_init(&f);
  nm_inv_check(&cx, spec, &f);
  ck_assert_int_eq(nm_fails_count(&f), 1);
  nm_fails_free(&f);
  cx.time_scale = 6;
  nm_inv_check(&cx, spec, &f);
  ck_assert_int_eq(nm_fails_count(&f), 0);
  nm_inv_ctx_free(&cx);
  cJSON_Delete(spec);
  tlb_free();
}
END_TEST

START_TEST(lone_publish_latency_never) {
  connected();
  at(10);
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"lone\"");
  ok(0, 1);
  at(400);
  line(0, "{\"ev\":\"connected\"}");
  ck_assert_int_eq(check_inv("\"lone_publish_latency\""), 1);
  tlb_free();
}
END_TEST

START_TEST(flush_fence_pass) {
  connected();
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"m\"");
  cmd(0, 2, "\"op\":\"flush\"");
  in(1, "PUB x 1\r\nm\r\nPING\r\n");
  ok(0, 1);
  out(1, "PONG\r\n");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"flush_fence\""), 0);
  tlb_free();
}
END_TEST

START_TEST(flush_fence_fail_before_pong) {
  connected();
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"m\"");
  cmd(0, 2, "\"op\":\"flush\"");
  in(1, "PUB x 1\r\nm\r\nPING\r\n");
  ok(0, 1);
  ok(0, 2); /* released before the PONG was sent */
  out(1, "PONG\r\n");
  ck_assert_int_eq(check_inv("\"flush_fence\""), 1);
  tlb_free();
}
END_TEST

START_TEST(flush_fence_fail_ping_before_publish) {
  /* The PONG answers a PING that overtook the publish. */
  connected();
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"m\"");
  cmd(0, 2, "\"op\":\"flush\"");
  in(1, "PING\r\n");
  out(1, "PONG\r\n");
  in(1, "PUB x 1\r\nm\r\n");
  ok(0, 1);
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"flush_fence\""), 1);
  tlb_free();
}
END_TEST

START_TEST(flush_fence_fail_pong_held) {
  /* A held PONG is an action entry, not a sent frame. */
  connected();
  cmd(0, 2, "\"op\":\"flush\"");
  in(1, "PING\r\n");
  taken(1, "PONG\r\n", "hold");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"flush_fence\""), 1);
  tlb_free();
}
END_TEST

START_TEST(flush_timeout_pass) {
  connected();
  at(100);
  cmd(0, 1, "\"op\":\"flush\",\"timeout_ms\":200");
  in(1, "PING\r\n");
  taken(1, "PONG\r\n", "hold");
  at(330);
  line(0, "{\"id\":1,\"ev\":\"err\",\"code\":\"timeout\"}");
  ck_assert_int_eq(check_inv("{\"name\":\"flush_timeout\",\"tolerance_ms\":"
                             "50}"),
                   0);
  tlb_free();
}
END_TEST

START_TEST(flush_timeout_fail_late) {
  connected();
  at(100);
  cmd(0, 1, "\"op\":\"flush\",\"timeout_ms\":200");
  in(1, "PING\r\n");
  at(900);
  line(0, "{\"id\":1,\"ev\":\"err\",\"code\":\"timeout\"}");
  ck_assert_int_eq(check_inv("{\"name\":\"flush_timeout\",\"tolerance_ms\":"
                             "50}"),
                   1);
  tlb_free();
}
END_TEST

START_TEST(flush_timeout_fail_never_or_ok) {
  connected();
  at(100);
  cmd(0, 1, "\"op\":\"flush\",\"timeout_ms\":200");
  cmd(0, 2, "\"op\":\"flush\"");
  in(1, "PING\r\nPING\r\n");
  at(150);
  ok(0, 2); /* no PONG at all, yet ok */
  at(2000);
  line(0, "{\"ev\":\"disconnected\"}");
  /* Flush 1 never ended; flush 2 has no timeout unless a default is set. */
  ck_assert_int_eq(check_inv("\"flush_timeout\""), 1);
  ck_assert_int_eq(check_inv("{\"name\":\"flush_timeout\","
                             "\"default_timeout_ms\":100}"),
                   2);
  tlb_free();
}
END_TEST

START_TEST(pong_fifo_pass) {
  connected();
  cmd(0, 1, "\"op\":\"flush\"");
  cmd(0, 2, "\"op\":\"flush\"");
  in(1, "PING\r\nPING\r\n");
  out(1, "PONG\r\n");
  ok(0, 1);
  out(1, "PONG\r\n");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"pong_fifo\""), 0);
  tlb_free();
}
END_TEST

START_TEST(pong_fifo_fail_dropped_pong_overtakes) {
  /* The first PONG is dropped; the client releases the second flush while
   * the first is still pending (and before its own PONG, FIFO-wise). */
  connected();
  cmd(0, 1, "\"op\":\"flush\",\"timeout_ms\":500");
  cmd(0, 2, "\"op\":\"flush\"");
  in(1, "PING\r\nPING\r\n");
  taken(1, "PONG\r\n", "drop");
  out(1, "PONG\r\n");
  ok(0, 2);
  line(0, "{\"id\":1,\"ev\":\"err\",\"code\":\"timeout\"}");
  ck_assert_int_eq(check_inv("\"pong_fifo\""), 2);
  tlb_free();
}
END_TEST

START_TEST(pong_fifo_unsolicited_pong_is_fair) {
  /* An extra PONG while a PING is outstanding releases that flush in every
   * FIFO client: not blamed (docs/design.md, Fairness). */
  connected();
  cmd(0, 1, "\"op\":\"flush\"");
  in(1, "PING\r\n");
  out(1, "PONG\r\n");
  ok(0, 1);
  out(1, "PONG\r\n");
  ck_assert_int_eq(check_inv("\"pong_fifo\""), 0);
  ck_assert_int_eq(check_inv("\"flush_fence\""), 0);
  tlb_free();
}
END_TEST

START_TEST(pong_before_any_ping_answers_nothing) {
  connected();
  out(1, "PONG\r\n"); /* no PING outstanding: ignored */
  out(1, "PING\r\n");
  in(1, "PONG\r\n"); /* the client read both: the stray PONG is spent */
  cmd(0, 1, "\"op\":\"flush\"");
  in(1, "PING\r\n");
  ok(0, 1);
  ck_assert_int_eq(check_inv("\"pong_fifo\""), 1);
  ck_assert_int_eq(check_inv("\"flush_fence\""), 1);
  tlb_free();

  /* Without that proof the client may not have read the stray PONG before
   * it sent the flush's PING: no client could tell it from the answer. */
  connected();
  out(1, "PONG\r\n");
  cmd(0, 1, "\"op\":\"flush\"");
  in(1, "PING\r\n");
  ok(0, 1);
  ck_assert_int_eq(check_inv("\"pong_fifo\""), 0);
  ck_assert_int_eq(check_inv("\"flush_fence\""), 0);
  ck_assert_uint_eq(not_evaluated_n, 1);
  tlb_free();
}
END_TEST

START_TEST(pong_sent_before_its_ping_was_read_is_not_blamed) {
  /* An injected PONG reaches the client after it sent the flush's PUB and
   * PING but before the server read them: every FIFO client takes it as the
   * answer and no client can tell (docs/design.md, Fairness). Recorded
   * ("not evaluated"), not blamed; the real PONG that follows answers the
   * next flush's PING, which was on its way too. */
  connected();
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"m\"");
  cmd(0, 2, "\"op\":\"flush\",\"timeout_ms\":500");
  ok(0, 1);
  out(1, "PONG\r\n"); /* injected */
  ok(0, 2);
  cmd(0, 3, "\"op\":\"flush\",\"timeout_ms\":500");
  in(1, "PUB x 1\r\nm\r\nPING\r\n");
  out(1, "PONG\r\n"); /* the answer to flush 2's PING */
  ok(0, 3);
  in(1, "PING\r\n");
  out(1, "PONG\r\n");
  ck_assert_int_eq(check_inv("\"flush_fence\""), 0);
  ck_assert_uint_eq(not_evaluated_n, 2); /* both flushes: recorded */
  ck_assert_int_eq(check_inv("\"pong_fifo\""), 0);
  ck_assert_int_eq(check_inv("\"flush_timeout\""), 0);
  /* What a client MUST do keeps the server's pairing: flush 2 was owed
   * success by its own PONG, and got it. */
  ck_assert_int_eq(check_inv("\"flush_liveness\""), 0);
  tlb_free();
}
END_TEST

START_TEST(message_lost_with_its_connection_is_not_blamed) {
  /* Published while connection 1 was open, which the server then reset:
   * the message may have died in the socket (no client can tell). One
   * published while disconnected waits in the reconnect buffer: owed. */
  connected();
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"m\"");
  ok(0, 1);
  srv(NM_TL_CLOSE, 1);
  srv(NM_TL_OPEN, 2);
  in(2, "CONNECT {\"name\":\"a\"}\r\nPING\r\n");
  out(2, "PONG\r\n");
  cmd(0, 2, "\"op\":\"flush\"");
  in(2, "PING\r\n");
  out(2, "PONG\r\n");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"flush_fence\""), 0);
  ck_assert_uint_eq(not_evaluated_n, 1);
  tlb_free();

  /* The server stopped reading connection 1 (stall): it never sees the
   * close, but the client reconnecting shows it left. */
  connected();
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"m\"");
  ok(0, 1);
  srv(NM_TL_OPEN, 2);
  in(2, "CONNECT {\"name\":\"a\"}\r\nPING\r\n");
  out(2, "PONG\r\n");
  cmd(0, 2, "\"op\":\"flush\"");
  in(2, "PING\r\n");
  out(2, "PONG\r\n");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"flush_fence\""), 0);
  ck_assert_uint_eq(not_evaluated_n, 1);
  tlb_free();

  connected();
  srv(NM_TL_CLOSE, 1);
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"m\"");
  ok(0, 1); /* buffered while disconnected */
  srv(NM_TL_OPEN, 2);
  in(2, "CONNECT {\"name\":\"a\"}\r\nPING\r\n");
  out(2, "PONG\r\n");
  cmd(0, 2, "\"op\":\"flush\"");
  in(2, "PING\r\n");
  out(2, "PONG\r\n");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"flush_fence\""), 1);
  tlb_free();
}
END_TEST

START_TEST(stale_pong_after_the_ping_was_answered_is_blamed) {
  /* The flush's PING was read and answered; a PONG injected after it
   * arrives when no PING is outstanding, and the client's answer to a
   * server PING proves it read it. A client that takes it as the next
   * flush's answer is wrong, and detectably so. */
  connected();
  cmd(0, 1, "\"op\":\"flush\"");
  in(1, "PING\r\n");
  out(1, "PONG\r\n");
  out(1, "PONG\r\n"); /* injected: answers nothing */
  ok(0, 1);
  out(1, "PING\r\n");
  in(1, "PONG\r\n"); /* proof the client read the injected PONG */
  cmd(0, 2, "\"op\":\"publish\",\"subject\":\"x\",\"data\":\"m\"");
  cmd(0, 3, "\"op\":\"flush\"");
  ok(0, 2);
  ok(0, 3); /* released by the stale PONG */
  in(1, "PUB x 1\r\nm\r\nPING\r\n");
  out(1, "PONG\r\n");
  ck_assert_int_eq(check_inv("\"pong_fifo\""), 1);
  ck_assert_int_eq(check_inv("\"flush_fence\""), 1);
  tlb_free();
}
END_TEST

/* ---- flush_liveness ---- */

/* Answered in time, ended ok: holds. */
START_TEST(flush_liveness_pass) {
  connected();
  at(10);
  cmd(0, 1, "\"op\":\"flush\",\"timeout_ms\":500");
  at(11);
  in(1, "PING\r\n");
  at(100); /* the PONG leaves 90 ms after the call */
  out(1, "PONG\r\n");
  at(101);
  ok(0, 1);
  ck_assert_int_eq(check_inv("\"flush_liveness\""), 0);
  tlb_free();
}
END_TEST

/* The PONG left the server 90 ms into a 500 ms flush, and the flush timed
 * out anyway (a client that lost or mis-paired the PONG): fails. */
START_TEST(flush_liveness_fail_timed_out_with_answer) {
  connected();
  at(10);
  cmd(0, 1, "\"op\":\"flush\",\"timeout_ms\":500");
  at(11);
  in(1, "PING\r\n");
  at(100);
  out(1, "PONG\r\n");
  at(510);
  line(0, "{\"id\":1,\"ev\":\"err\",\"code\":\"timeout\"}");
  ck_assert_int_eq(check_inv("\"flush_liveness\""), 1);
  tlb_free();
}
END_TEST

/* Fairness: after a dropped PONG the next PONG answers the first PING
 * (first-in first-out), so the second flush is owed nothing (it may time
 * out); a PONG that came too late to leave the tolerance is not owed either;
 * a flush without a timeout is not judged. */
START_TEST(flush_liveness_fair_after_drop_and_late) {
  connected();
  at(10);
  cmd(0, 1, "\"op\":\"flush\",\"timeout_ms\":300");
  at(11);
  in(1, "PING\r\n");
  at(12);
  taken(1, "PONG\r\n", "drop");
  at(311);
  line(0, "{\"id\":1,\"ev\":\"err\",\"code\":\"timeout\"}");
  at(320);
  cmd(0, 2, "\"op\":\"flush\",\"timeout_ms\":300");
  at(321);
  in(1, "PING\r\n");
  at(322);
  out(1, "PONG\r\n"); /* pairs with flush 1's PING */
  at(621);
  line(0, "{\"id\":2,\"ev\":\"err\",\"code\":\"timeout\"}");
  ck_assert_int_eq(check_inv("\"flush_liveness\""), 0);
  tlb_free();

  connected();
  at(10);
  cmd(0, 1, "\"op\":\"flush\",\"timeout_ms\":300");
  in(1, "PING\r\n");
  at(200); /* 110 ms before the deadline: less than the 250 ms tolerance */
  out(1, "PONG\r\n");
  at(310);
  line(0, "{\"id\":1,\"ev\":\"err\",\"code\":\"timeout\"}");
  ck_assert_int_eq(check_inv("\"flush_liveness\""), 0);
  ck_assert_int_eq(
      check_inv("{\"name\":\"flush_liveness\",\"tolerance_ms\":50}"), 1);
  tlb_free();

  /* The client reconnects: the first PING after the flush is the new
   * connection's handshake PING, answered at once; the flush (failed as
   * disconnected) is owed nothing. */
  connected();
  at(10);
  cmd(0, 1, "\"op\":\"flush\",\"timeout_ms\":1000");
  at(20);
  srv(NM_TL_CLOSE, 1);
  srv(NM_TL_OPEN, 2);
  in(2, "CONNECT {\"name\":\"a\"}\r\nPING\r\n");
  out(2, "PONG\r\n");
  at(30);
  line(0, "{\"id\":1,\"ev\":\"err\",\"code\":\"disconnected\"}");
  ck_assert_int_eq(check_inv("\"flush_liveness\""), 0);
  tlb_free();

  connected();
  cmd(0, 1, "\"op\":\"flush\"");
  in(1, "PING\r\n");
  out(1, "PONG\r\n");
  line(0, "{\"id\":1,\"ev\":\"err\",\"code\":\"timeout\"}");
  ck_assert_int_eq(check_inv("\"flush_liveness\""), 0);
  ck_assert_int_eq(
      check_inv("{\"name\":\"flush_liveness\",\"default_timeout_ms\":10000}"),
      1);
  tlb_free();
}
END_TEST

/* ---- close_reports ---- */

/* Everything accepted reached the server before the FIN: holds. */
START_TEST(close_reports_pass) {
  connected();
  cmd(0, 1, kPub3);
  ok(0, 1);
  cmd(0, 2, "\"op\":\"close\"");
  in(1, "PUB x 1\r\n1\r\nPUB x 1\r\n2\r\nPUB x 1\r\n3\r\n");
  srv(NM_TL_CLOSE, 1);
  line(0, "{\"ev\":\"closed\"}");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"close_reports\""), 0);
  tlb_free();
}
END_TEST

/* Publish ok, close ok, only message 1 arrived before the FIN: fails; the
 * same with the close ending err holds (the loss was reported). */
START_TEST(close_reports_fail_lost_silently) {
  connected();
  cmd(0, 1, kPub3);
  ok(0, 1);
  cmd(0, 2, "\"op\":\"close\"");
  in(1, "PUB x 1\r\n1\r\n");
  srv(NM_TL_CLOSE, 1);
  line(0, "{\"ev\":\"closed\"}");
  ok(0, 2);
  ck_assert_int_eq(check_inv("\"close_reports\""), 1);
  tlb_free();

  connected();
  cmd(0, 1, kPub3);
  ok(0, 1);
  cmd(0, 2, "\"op\":\"close\"");
  in(1, "PUB x 1\r\n1\r\n");
  srv(NM_TL_CLOSE, 1);
  line(0, "{\"id\":2,\"ev\":\"err\",\"code\":\"other\",\"error\":"
          "\"2 messages not sent\"}");
  ck_assert_int_eq(check_inv("\"close_reports\""), 0);
  tlb_free();
}
END_TEST

/* A PUB that arrives after the FIN (on a later connection) does not count
 * for the close; a cut-short timeline with the close pending is "not
 * evaluated". */
START_TEST(close_reports_after_fin_and_cut_short) {
  connected();
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\"");
  ok(0, 1);
  cmd(0, 2, "\"op\":\"close\"");
  srv(NM_TL_CLOSE, 1);
  ok(0, 2);
  srv(NM_TL_OPEN, 2);
  in(2, "CONNECT {\"name\":\"a\"}\r\nPUB x 1\r\n1\r\n");
  ck_assert_int_eq(check_inv("\"close_reports\""), 1);
  tlb_free();

  connected();
  cmd(0, 1, "\"op\":\"publish\",\"subject\":\"x\"");
  ok(0, 1);
  cmd(0, 2, "\"op\":\"close\"");
  B.tl.cut_short = 1;
  ck_assert_int_eq(check_inv("\"close_reports\""), 0);
  ck_assert_int_eq(not_evaluated_n, 1);
  tlb_free();
}
END_TEST

START_TEST(client_parameter_filters) {
  tlb_init(2);
  srv(NM_TL_OPEN, 1);
  in(1, "CONNECT {\"name\":\"a\"}\r\n");
  nm_tl_set_owner(&B.tl, 1, 0);
  srv(NM_TL_OPEN, 2);
  in(2, "CONNECT {\"name\":\"b\"}\r\n");
  nm_tl_set_owner(&B.tl, 2, 1);
  cmd(1, 1, "\"op\":\"flush\"");
  ok(1, 1); /* b's flush, no PING at all */
  ck_assert_int_eq(check_inv("\"flush_fence\""), 1);
  ck_assert_int_eq(check_inv("{\"name\":\"flush_fence\",\"client\":\"a\"}"), 0);
  ck_assert_int_eq(check_inv("{\"name\":\"flush_fence\",\"client\":\"b\"}"), 1);
  tlb_free();
}
END_TEST

START_TEST(skipped_without_server_view) {
  nm_inv_ctx_t cx;
  nm_fails_t f;
  cJSON *s = cJSON_Parse("\"flush_fence\"");
  cJSON *c = cJSON_Parse("\"closed_once\"");
  connected();
  B.tl.server_view = 0;
  nm_inv_ctx_init(&cx, &B.tl);
  nm_fails_init(&f);
  ck_assert_int_eq(nm_inv_check(&cx, s, &f), 1);
  ck_assert_int_eq(nm_inv_check(&cx, c, &f), 0);
  nm_inv_ctx_free(&cx);
  cJSON_Delete(s);
  cJSON_Delete(c);
  tlb_free();
}
END_TEST

START_TEST(validate_specs) {
  char err[256];
  const char *good[] = {"\"no_loss\"",
                        "{\"name\":\"flush_timeout\",\"tolerance_ms\":10}",
                        "{\"name\":\"delivery_order\",\"sub\":\"s\"}"};
  const char *bad[] = {"\"no_such\"", "{\"name\":\"no_loss\",\"bound_ms\":1}",
                       "{\"name\":\"flush_timeout\",\"tolerance_ms\":\"x\"}",
                       "{\"name\":\"closed_once\",\"client\":3}", "42"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    cJSON *j = cJSON_Parse(good[i]);
    ck_assert_msg(nm_inv_validate(j, err, sizeof(err)) == 0, "%s: %s", good[i],
                  err);
    cJSON_Delete(j);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cJSON *j = cJSON_Parse(bad[i]);
    ck_assert_msg(nm_inv_validate(j, err, sizeof(err)) != 0, "%s accepted",
                  bad[i]);
    cJSON_Delete(j);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("invariant_flush");
  TCase *tc = tcase_create("all");
  tcase_add_test(tc, publish_order_pass);
  tcase_add_test(tc, publish_order_fail_reordered);
  tcase_add_test(tc, publish_order_fail_duplicate);
  tcase_add_test(tc, publish_order_across_commands);
  tcase_add_test(tc, no_loss_pass_and_excused);
  tcase_add_test(tc, no_loss_fail);
  tcase_add_test(tc, no_loss_data_b64);
  tcase_add_test(tc, lone_publish_latency_pass);
  tcase_add_test(tc, lone_publish_latency_fail);
  tcase_add_test(tc, lone_publish_latency_never);
  tcase_add_test(tc, lone_publish_latency_time_scale);
  tcase_add_test(tc, flush_fence_pass);
  tcase_add_test(tc, flush_fence_fail_before_pong);
  tcase_add_test(tc, flush_fence_fail_ping_before_publish);
  tcase_add_test(tc, flush_fence_fail_pong_held);
  tcase_add_test(tc, flush_timeout_pass);
  tcase_add_test(tc, flush_timeout_fail_late);
  tcase_add_test(tc, flush_timeout_fail_never_or_ok);
  tcase_add_test(tc, pong_fifo_pass);
  tcase_add_test(tc, pong_fifo_fail_dropped_pong_overtakes);
  tcase_add_test(tc, pong_fifo_unsolicited_pong_is_fair);
  tcase_add_test(tc, pong_before_any_ping_answers_nothing);
  tcase_add_test(tc, pong_sent_before_its_ping_was_read_is_not_blamed);
  tcase_add_test(tc, stale_pong_after_the_ping_was_answered_is_blamed);
  tcase_add_test(tc, message_lost_with_its_connection_is_not_blamed);
  tcase_add_test(tc, flush_liveness_pass);
  tcase_add_test(tc, flush_liveness_fail_timed_out_with_answer);
  tcase_add_test(tc, flush_liveness_fair_after_drop_and_late);
  tcase_add_test(tc, close_reports_pass);
  tcase_add_test(tc, close_reports_fail_lost_silently);
  tcase_add_test(tc, close_reports_after_fin_and_cut_short);
  tcase_add_test(tc, client_parameter_filters);
  tcase_add_test(tc, skipped_without_server_view);
  tcase_add_test(tc, validate_specs);
  suite_add_tcase(s, tc);
  return nm_test_run_suite(s, CK_NORMAL);
}
