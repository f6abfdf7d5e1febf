/* A fast publisher and a subscriber that reads nothing, with a long write
 * deadline, against nats-server 2.9.10 and natsmock (both as processes, the
 * same config). nats-server stalls the publisher once the subscriber's
 * pending output passes half of max_pending and lets one message through
 * per stall (100 ms to 1 s), so the subscriber's backlog grows slowly: it is
 * not cut at max_pending, and the publisher is held back (until the write
 * deadline closes the subscriber, if the kernel never takes a little more of
 * the backlog in time). Both servers must show that shape over a few
 * seconds: the publisher held, the subscriber still open.
 *
 * Measured, not guessed: with max_pending 1MB and write_deadline "60s"
 * nats-server held a 1 KB-message publisher from about 1 s to 60 s, then
 * closed the subscriber; natsmock before this test's fix cut the subscriber
 * at max_pending about 3 s in and let the publisher run (a whole 64 KB read
 * of small messages went through each stall). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>

#include "nm_test_check.h"
#include "nm_test_util.h"

/* The publisher counts as held once it could not write for this long. */
#define HELD_QUIET_MS 300
/* How long it is watched once held. */
#define HOLD_WATCH_MS 3000
/* What it may write in that time: a released publisher writes hundreds of
 * MB a second on loopback; a held one a message per stall, plus what the
 * kernel takes now and then. */
#define HELD_MAX_BYTES (16 * 1024 * 1024)
/* Bound of the wait for the publisher to be held. */
#define HOLD_WAIT_MS 10000

static const char *config = "max_payload: 64KB\n"
                            "max_pending: 128KB\n"
                            "write_deadline: \"60s\"\n";

typedef struct {
  int held;             /* the publisher was held */
  long long while_held; /* bytes it wrote in HOLD_WATCH_MS after that */
  nm_peer_state_t sub;  /* the subscriber, read after the watch */
  int sub_err;          /* an -ERR reached the subscriber */
  long long sub_bytes;  /* what the subscriber got */
} stall_result_t;

static int hello(int fd, const char *ops) {
  char buf[4096];
  nm_peer_state_t st;
  if (fd < 0 || nm_test_read_line(fd, buf, sizeof(buf), 5000) <= 0 ||
      nm_test_send_str(fd, ops) < 0)
    return -1;
  nm_test_read(fd, buf, sizeof(buf), "PONG\r\n", 5000, 0, &st);
  return strstr(buf, "PONG\r\n") ? 0 : -1;
}

/* A small receive buffer (set before connecting, so the window is small
 * from the start): the kernel holds little for the subscriber. */
static int small_rcvbuf_connect(int port) {
  struct sockaddr_in sa;
  int fd = socket(AF_INET, SOCK_STREAM, 0), sz = 4096;
  ck_assert_int_ge(fd, 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  return fd;
}

static void measure(int port, stall_result_t *r) {
  static char pubs[64 * 1024], in[64 * 1024];
  int sub = small_rcvbuf_connect(port), pub;
  size_t n = 0, off = 0;
  long long t0, last_progress, held_at = 0, now, deadline;

  memset(r, 0, sizeof(*r));
  ck_assert_int_eq(
      hello(sub, "CONNECT {\"verbose\":false}\r\nSUB s 1\r\nPING\r\n"), 0);
  pub = nm_test_connect(port);
  ck_assert_int_eq(hello(pub, "CONNECT {\"verbose\":false}\r\nPING\r\n"), 0);
  /* Small messages: many in each of the server's reads. */
  while (n + 128 < sizeof(pubs))
    n += (size_t)sprintf(pubs + n, "PUB s 100\r\n%0100d\r\n", 7);
  fcntl(pub, F_SETFL, fcntl(pub, F_GETFL) | O_NONBLOCK);

  t0 = last_progress = nm_test_now_ms();
  deadline = t0 + HOLD_WAIT_MS;
  while ((now = nm_test_now_ms()) < deadline) {
    struct pollfd p = {.fd = pub, .events = POLLOUT | POLLIN};
    ssize_t w;
    poll(&p, 1, 20);
    /* Server PINGs and anything else for the publisher: read and dropped. */
    while (recv(pub, in, sizeof(in), MSG_DONTWAIT) > 0)
      ;
    w = send(pub, pubs + off, n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    now = nm_test_now_ms();
    if (w > 0) {
      off = (off + (size_t)w) % n;
      last_progress = now;
      if (held_at)
        r->while_held += w;
    } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      break;
    }
    if (!held_at && now - last_progress >= HELD_QUIET_MS) {
      held_at = now;
      r->held = 1;
      deadline = now + HOLD_WATCH_MS;
    }
  }
  /* Then the subscriber reads what it was sent: it is still open when
   * nothing more comes for a while without an end. */
  r->sub = NM_PEER_OPEN;
  deadline = nm_test_now_ms() + 20000;
  while (nm_test_now_ms() < deadline) {
    struct pollfd p = {.fd = sub, .events = POLLIN};
    ssize_t got;
    if (poll(&p, 1, 500) <= 0)
      break;
    got = recv(sub, in, sizeof(in) - 1, 0);
    if (got == 0 || (got < 0 && errno == ECONNRESET)) {
      r->sub = got == 0 ? NM_PEER_EOF : NM_PEER_RST;
      break;
    }
    if (got < 0)
      break;
    r->sub_bytes += got;
    /* Only MSG frames of digits come: a '-' is an -ERR. */
    if (memchr(in, '-', (size_t)got))
      r->sub_err = 1;
  }
  close(sub);
  close(pub);
}

static void check_shape(const char *who, const stall_result_t *r) {
  fprintf(stderr,
          "%s: held %d, %lld bytes published while held, subscriber got "
          "%lld bytes, ended %d\n",
          who, r->held, r->while_held, r->sub_bytes, (int)r->sub);
  ck_assert_msg(r->held, "%s: the publisher was never held", who);
  ck_assert_msg(r->while_held < HELD_MAX_BYTES,
                "%s: %lld bytes published in the %d ms after it was held "
                "(the subscriber was cut and the publisher released)",
                who, r->while_held, HOLD_WATCH_MS);
  ck_assert_msg(r->sub == NM_PEER_OPEN,
                "%s: subscriber closed before the write deadline", who);
  ck_assert_msg(!r->sub_err, "%s: -ERR sent to the subscriber", who);
}

START_TEST(test_publisher_held_not_subscriber_cut) {
  nm_natsserver_t ns, nm;
  stall_result_t real, mock;
  const char *b = getenv("NM_BINARY_DIR");
  char bin[1024];
  snprintf(bin, sizeof(bin), "%s/server/natsmock", b ? b : ".");
  ck_assert_int_eq(nm_natsserver_start(&ns, config, NULL), 0);
  measure(ns.port, &real);
  nm_natsserver_stop(&ns);
  ck_assert_int_eq(nm_server_proc_start(&nm, bin, config, NULL), 0);
  measure(nm.port, &mock);
  nm_natsserver_stop(&nm);
  check_shape("nats-server", &real);
  check_shape("natsmock", &mock);
}
END_TEST

static Suite *suite(void) {
  Suite *su = suite_create("server_stall");
  TCase *tc = tcase_create("stall");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_publisher_held_not_subscriber_cut);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_NORMAL);
}
