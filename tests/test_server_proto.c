/* The server's client protocol over loopback: a table of byte exchanges on
 * one connection (each checked against nats-server 2.9.10 by hand, see
 * docs/design.md, "The wire", and the differential suite), then the behaviours
 * that need several connections: routing, wildcards, queue groups, header
 * stripping, INFO, and the PONG-after-MSG ordering. */
#include "test_server_util.h"

#define NV "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n"
#define NVP "CONNECT {\"verbose\":false}\r\n"
#define HDRS "CONNECT {\"verbose\":false,\"headers\":true}\r\n"
#define NR                                                                     \
  "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n"

typedef struct {
  const char *name;
  const char *in;  /* sent right after INFO */
  const char *out; /* everything the server answers (before our PONG) */
  int closes;      /* 1: the server closes after `out` */
} wire_case_t;

static const wire_case_t kCases[] = {
    {"unknown op", "FOO\r\n", "-ERR 'Unknown Protocol Operation'\r\n", 1},
    {"unknown op after CONNECT", NV "FOO\r\n",
     "-ERR 'Unknown Protocol Operation'\r\n", 1},
    {"payload longer than declared", NV "PUB foo 5\r\nhello world\r\n",
     "-ERR 'Unknown Protocol Operation'\r\n", 1},
    {"bare CRLF", NV "\r\n", "-ERR 'Unknown Protocol Operation'\r\n", 1},
    {"client sends MSG", NV "MSG foo 1 1\r\nx\r\n",
     "-ERR 'Unknown Protocol Operation'\r\n", 1},
    {"max payload on the control line", NV "PUB foo 1048577\r\n",
     "-ERR 'Maximum Payload Violation'\r\n", 1},
    {"SUB without sid", NV "SUB foo\r\n", "", 1},
    {"SUB without sid, verbose", "CONNECT {}\r\nSUB foo\r\n", "+OK\r\n", 1},
    {"PUB without size", NV "PUB foo\r\n", "", 1},
    {"PUB with bad size", NV "PUB foo abc\r\n", "", 1},
    {"CONNECT bad json", "CONNECT {bad json\r\n", "", 1},
    {"CONNECT json with trailing junk", "CONNECT {} x\r\n", "", 1},
    {"CONNECT wrong type", "CONNECT {\"verbose\":\"x\"}\r\n", "", 1},
    {"CONNECT protocol not int", "CONNECT {\"protocol\":\"1\"}\r\n", "", 1},
    {"CONNECT null keeps defaults", "CONNECT null\r\n", "+OK\r\n", 0},
    {"CONNECT unused field mistyped",
     "CONNECT {\"verbose\":false,\"name\":5}\r\n", "", 1},
    {"CONNECT bool field mistyped",
     "CONNECT {\"verbose\":false,\"tls_required\":\"no\"}\r\n", "", 1},
    {"CONNECT null and unknown fields",
     "CONNECT {\"verbose\":false,\"lang\":null,\"foo\":[1,2]}\r\n", "", 0},
    {"CONNECT protocol 1.0 is not an int", "CONNECT {\"protocol\":1.0}\r\n", "",
     1},
    {"CONNECT leading zero is not JSON",
     "CONNECT {\"verbose\":false,\"x\":01}\r\n", "", 1},
    {"CONNECT control char in a string",
     "CONNECT {\"verbose\":false,\"name\":\"a\tb\"}\r\n", "", 1},
    {"CONNECT protocol beyond int32",
     "CONNECT {\"verbose\":false,\"protocol\":4294967297}\r\n",
     "-ERR 'invalid client protocol'\r\n", 1},
    {"CONNECT protocol beyond int64",
     "CONNECT {\"verbose\":false,\"protocol\":99999999999999999999}\r\n", "",
     1},
    {"CONNECT protocol -0", "CONNECT {\"verbose\":false,\"protocol\":-0}\r\n",
     "", 0},
    {"CONNECT keys match case-insensitively", "CONNECT {\"Verbose\":false}\r\n",
     "", 0},
    {"HPUB without headers", NV "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", "",
     1},
    {"invalid protocol", "CONNECT {\"verbose\":false,\"protocol\":2}\r\n",
     "-ERR 'invalid client protocol'\r\n", 1},
    {"no responders without headers",
     "CONNECT {\"verbose\":false,\"no_responders\":true}\r\n",
     "-ERR 'no responders requires headers support'\r\n", 1},
    {"client -ERR closes", NV "-ERR 'x'\r\n", "", 1},
    {"client INFO bad json", NV "INFO {bad\r\n", "", 1},
    {"client INFO ignored", NV "INFO {}\r\n", "", 0},
    {"client +OK ignored", NV "+OK\r\n", "", 0},
    {"PING before CONNECT", "", "", 0},
    {"PING with LF only", NV "PING\n", "PONG\r\n", 0},
    {"PING with junk", NV "PING xyz\r\n", "PONG\r\n", 0},
    {"PONG before CONNECT", "PONG\r\n", "", 0},
    {"verbose CONNECT", "CONNECT {\"verbose\":true}\r\n", "+OK\r\n", 0},
    {"verbose PUB SUB UNSUB",
     "CONNECT {}\r\nPUB foo 2\r\nhi\r\nSUB bar 1\r\n"
     "UNSUB 1\r\nUNSUB 99\r\n",
     "+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n", 0},
    {"verbose unknown op", "CONNECT {}\r\nFOO\r\n",
     "+OK\r\n-ERR 'Unknown Protocol Operation'\r\n", 1},
    {"lowercase ops", NV "sub foo 1\r\npub foo 2\r\nhi\r\n",
     "MSG foo 1 2\r\nhi\r\n", 0},
    {"mixed case and tabs", NV "SuB\tfoo \t 1\r\nPuB foo\t2\r\nhi\r\n",
     "MSG foo 1 2\r\nhi\r\n", 0},
    {"CONNECT without a space", "CONNECT{\"verbose\":false}\r\n", "", 0},
    {"nats.c SUB and UNSUB forms",
     NV "SUB foo  1\r\nUNSUB 1 \r\n"
        "PUB foo 1\r\nx\r\n",
     "", 0},
    {"reply subject", NV "SUB foo 7\r\nPUB foo bar.reply 3\r\nabc\r\n",
     "MSG foo 7 bar.reply 3\r\nabc\r\n", 0},
    {"empty payload", NV "SUB foo 7\r\nPUB foo 0\r\n\r\n",
     "MSG foo 7 0\r\n\r\n", 0},
    {"HPUB to a header subscriber",
     HDRS "SUB foo 1\r\nHPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n",
     "HMSG foo 1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n", 0},
    {"no responders", NR "SUB _INBOX.x 1\r\nPUB nobody _INBOX.x 2\r\nhi\r\n",
     "HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n", 0},
    {"no responders via wildcard",
     NR "SUB _INBOX.> 9\r\nPUB foo _INBOX.x 2\r\nhi\r\n",
     "HMSG _INBOX.x 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n", 0},
    {"no responders when echo drops the only copy",
     "CONNECT {\"verbose\":false,\"echo\":false,\"headers\":true,"
     "\"no_responders\":true}\r\nSUB _INBOX.> 9\r\nSUB foo 1\r\n"
     "PUB foo _INBOX.x 2\r\nhi\r\n",
     "HMSG _INBOX.x 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n", 0},
    {"no responders needs a reply sub", NR "PUB nobody _INBOX.x 2\r\nhi\r\n",
     "", 0},
    {"no responders not wanted",
     HDRS "SUB _INBOX.x 1\r\nPUB nobody _INBOX.x 2\r\nhi\r\n", "", 0},
    {"no responders not when delivered",
     NR "SUB _INBOX.x 1\r\nSUB foo 2\r\nPUB foo _INBOX.x 2\r\nhi\r\n",
     "MSG foo 2 _INBOX.x 2\r\nhi\r\n", 0},
    {"UNSUB max 1 of 2",
     NV "SUB foo q 3\r\nUNSUB 3 1\r\nPUB foo 1\r\na\r\n"
        "PUB foo 1\r\nb\r\n",
     "MSG foo 3 1\r\na\r\n", 0},
    {"UNSUB max 2 of 5",
     NV "SUB foo 22\r\nUNSUB 22 2\r\nPUB foo 1\r\na\r\n"
        "PUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n"
        "PUB foo 1\r\nd\r\nPUB foo 1\r\ne\r\n",
     "MSG foo 22 1\r\na\r\nMSG foo 22 1\r\nb\r\n", 0},
    {"UNSUB max already reached",
     NV "SUB foo 1\r\nPUB foo 1\r\na\r\n"
        "UNSUB 1 1\r\nPUB foo 1\r\nb\r\n",
     "MSG foo 1 1\r\na\r\n", 0},
    {"UNSUB max 0 is immediate",
     NV "SUB foo 1\r\nUNSUB 1 0\r\n"
        "PUB foo 1\r\nb\r\n",
     "", 0},
    {"UNSUB junk max is immediate",
     NV "SUB foo 1\r\nUNSUB 1 x\r\n"
        "PUB foo 1\r\nb\r\n",
     "", 0},
    {"UNSUB unknown sid", NV "UNSUB 99\r\n", "", 0},
    {"echo off",
     "CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\n"
     "PUB foo 2\r\nhi\r\n",
     "", 0},
    {"invalid subject stays open", NV "SUB foo..bar 1\r\n",
     "-ERR 'Invalid Subject'\r\n", 0},
    {"invalid subject, token after >", NV "SUB foo.>.bar 1\r\n",
     "-ERR 'Invalid Subject'\r\n", 0},
    {"pedantic publish to a wildcard",
     NVP "SUB foo.* 1\r\nPUB foo.* 2\r\nhi\r\n",
     "-ERR 'Invalid Publish Subject'\r\nMSG foo.* 1 2\r\nhi\r\n", 0},
    {"pedantic verbose order",
     "CONNECT {\"verbose\":true,\"pedantic\":true}\r\nSUB foo.* 1\r\n"
     "PUB foo.* 2\r\nhi\r\n",
     "+OK\r\n+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\n"
     "MSG foo.* 1 2\r\nhi\r\n",
     0},
    {"pedantic empty token", NVP "PUB foo..bar 1\r\nx\r\n",
     "-ERR 'Invalid Publish Subject'\r\n", 0},
    {"wildcard publish without pedantic", NV "PUB foo.* 1\r\nx\r\n", "", 0},
    {"several subs in nats-server order",
     NV "SUB foo 1\r\nSUB * 2\r\nSUB > 3\r\nPUB foo 2\r\nhi\r\n",
     "MSG foo 3 2\r\nhi\r\nMSG foo 1 2\r\nhi\r\nMSG foo 2 2\r\nhi\r\n", 0},
    {"deeper wildcard order",
     NV "SUB a.b.c 1\r\nSUB a.*.c 2\r\nSUB a.> 3\r\nSUB *.b.* 4\r\n"
        "SUB a.b.> 5\r\nPUB a.b.c 1\r\nx\r\n",
     "MSG a.b.c 4 1\r\nx\r\nMSG a.b.c 3 1\r\nx\r\nMSG a.b.c 2 1\r\nx\r\n"
     "MSG a.b.c 5 1\r\nx\r\nMSG a.b.c 1 1\r\nx\r\n",
     0},
    {"two-token wildcard order",
     NV "SUB > 1\r\nSUB *.> 2\r\nSUB *.* 3\r\nSUB a.* 4\r\nSUB a.b 5\r\n"
        "SUB *.b 6\r\nPUB a.b 1\r\nx\r\n",
     "MSG a.b 1 1\r\nx\r\nMSG a.b 2 1\r\nx\r\nMSG a.b 6 1\r\nx\r\n"
     "MSG a.b 3 1\r\nx\r\nMSG a.b 5 1\r\nx\r\nMSG a.b 4 1\r\nx\r\n",
     0},
    {"> needs one more token",
     NV "SUB foo.> 1\r\nPUB foo 1\r\nx\r\n"
        "PUB foo.bar.baz 1\r\ny\r\n",
     "MSG foo.bar.baz 1 1\r\ny\r\n", 0},
    {"* is one token",
     NV "SUB foo.* 1\r\nPUB foo.bar.baz 1\r\nx\r\n"
        "PUB foo.bar 1\r\ny\r\n",
     "MSG foo.bar 1 1\r\ny\r\n", 0},
    {"duplicate sid ignored",
     NV "SUB foo 1\r\nSUB bar 1\r\nPUB foo 1\r\na\r\n"
        "PUB bar 1\r\nb\r\n",
     "MSG foo 1 1\r\na\r\n", 0},
    {"duplicate sid with bad subject gets +OK",
     "CONNECT {}\r\nSUB foo 1\r\nSUB foo..bar 1\r\nSUB foo..bar 2\r\n",
     "+OK\r\n+OK\r\n+OK\r\n-ERR 'Invalid Subject'\r\n", 0},
    {"second CONNECT keeps subs and options",
     "CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\nSUB bar 2\r\n"
     "CONNECT {\"echo\":true}\r\nPUB foo 1\r\na\r\nCONNECT {}\r\n"
     "PUB bar 1\r\nb\r\n",
     "MSG foo 1 1\r\na\r\nMSG bar 2 1\r\nb\r\n", 0},
    {"second CONNECT with bad protocol", NV "CONNECT {\"protocol\":2}\r\n",
     "-ERR 'invalid client protocol'\r\n", 1},
    {"second CONNECT turns headers off",
     HDRS "CONNECT {\"headers\":false}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\n"
          "hi\r\n",
     "", 1},
    {"ops before CONNECT use the defaults", "SUB foo 1\r\nPUB foo 2\r\nhi\r\n",
     "+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\n", 0},
    {"HPUB before CONNECT closes",
     "SUB foo 1\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", "+OK\r\n", 1},
    {"$MOCK. is not routed", NV "SUB > 1\r\nPUB $MOCK.x 1\r\na\r\n", "", 0},
    {"size fields echoed as written",
     HDRS "SUB foo 1\r\nHPUB foo 012 0014\r\nNATS/1.0\r\n\r\nhi\r\n"
          "PUB foo r 002\r\nhi\r\n",
     "HMSG foo 1 012 0014\r\nNATS/1.0\r\n\r\nhi\r\nMSG foo 1 r 002\r\nhi\r\n",
     0},
    {"a sub added after a cached publish comes last",
     NV
     "SUB foo.> 3\r\nPUB foo.bar 1\r\n1\r\nSUB > 4\r\nPUB foo.bar 1\r\n2\r\n",
     "MSG foo.bar 3 1\r\n1\r\nMSG foo.bar 3 1\r\n2\r\nMSG foo.bar 4 1\r\n2\r\n",
     0},
    {"an UNSUB drops the cached order",
     NV "SUB > 1\r\nSUB foo.* 2\r\nPUB foo.bar 1\r\n1\r\nUNSUB 1\r\n"
        "SUB > 3\r\nSUB foo.bar 4\r\nPUB foo.bar 1\r\n2\r\n",
     "MSG foo.bar 1 1\r\n1\r\nMSG foo.bar 2 1\r\n1\r\nMSG foo.bar 3 1\r\n2\r\n"
     "MSG foo.bar 4 1\r\n2\r\nMSG foo.bar 2 1\r\n2\r\n",
     0},
    {"no responders to the first sub in match order",
     NR "SUB bar.* 5\r\nSUB bar.> 4\r\nSUB *.x 6\r\nSUB bar.x 7\r\n"
        "PUB x bar.x 1\r\n1\r\n",
     "HMSG bar.x 6 16 16\r\nNATS/1.0 503\r\n\r\n\r\n", 0},
    {"no responders ignores queue subs",
     NR "SUB _INBOX.x q 1\r\nPUB nobody _INBOX.x 1\r\n1\r\n", "", 0},
    {"CONNECT duplicate keys: the last wins",
     "CONNECT {\"verbose\":true,\"verbose\":false}\r\n", "", 0},
};

START_TEST(test_wire_table) {
  const wire_case_t *c = &kCases[_i];
  nm_server_t *s = ts_start(NULL);
  static char out[65536];
  int fd = ts_connect(s, NULL, 0);

  if (c->closes) {
    nm_peer_state_t st = ts_until_close(fd, c->in, out, sizeof(out), 2000);
    ck_assert_msg(strcmp(out, c->out) == 0, "%s: got [%s] want [%s]", c->name,
                  out, c->out);
    ck_assert_msg(st != NM_PEER_OPEN, "%s: still open", c->name);
  } else {
    ts_roundtrip_n(fd, c->in, out, sizeof(out), ts_count(c->out, "PONG\r\n"));
    ck_assert_msg(strcmp(out, c->out) == 0, "%s: got [%s] want [%s]", c->name,
                  out, c->out);
  }
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_info_shape) {
  nm_server_t *s = ts_start(NULL);
  char info[4096], id[64];
  const char *p;
  int fd = ts_connect(s, info, sizeof(info)), i, port = nm_server_port(s);
  char want[512];

  ck_assert_msg(strncmp(info, "INFO {\"server_id\":\"N", 20) == 0, "%s", info);
  p = info + 19;
  for (i = 0; i < 56 && p[i] != '"'; i++)
    ck_assert_msg((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '2' && p[i] <= '7'),
                  "server_id char %c", p[i]);
  ck_assert_int_eq(i, 56);
  memcpy(id, p, 56);
  id[56] = 0;
  snprintf(want, sizeof(want),
           "INFO {\"server_id\":\"%s\",\"server_name\":\"%s\","
           "\"version\":\"2.9.10\",\"proto\":1,\"go\":\"natsmock\","
           "\"host\":\"127.0.0.1\",\"port\":%d,\"headers\":true,"
           "\"max_payload\":1048576,\"client_id\":1,"
           "\"client_ip\":\"127.0.0.1\"} \r\n",
           id, id, port);
  ck_assert_str_eq(info, want);
  close(fd);
  /* The next connection gets the next client_id. */
  fd = ts_connect(s, info, sizeof(info));
  ck_assert_ptr_nonnull(strstr(info, "\"client_id\":2,"));
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_info_auth_and_name) {
  nm_server_opts_t o;
  nm_server_t *s;
  char info[4096];
  int fd;
  nm_server_opts_init(&o);
  o.user = "u";
  o.pass = "p";
  o.server_name = "mock-1";
  o.max_payload = 1024;
  s = ts_start(&o);
  fd = ts_connect(s, info, sizeof(info));
  ck_assert_ptr_nonnull(strstr(info, "\"server_name\":\"mock-1\""));
  ck_assert_ptr_nonnull(strstr(info, "\"headers\":true,\"auth_required\":true,"
                                     "\"max_payload\":1024,\"client_id\":1,"));
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_route_between_conns) {
  nm_server_t *s = ts_start(NULL);
  char out[4096];
  int a = ts_client(s, "{\"verbose\":false}");
  int b = ts_client(s, "{\"verbose\":false}");
  ts_roundtrip(a, "SUB foo.* 1\r\nSUB foo.> 2\r\nSUB bar 3\r\n", out,
               sizeof(out));
  ts_roundtrip(b,
               "PUB foo.x 2\r\nhi\r\nPUB foo.x.y 1\r\nz\r\nPUB baz 1\r\nq\r\n",
               out, sizeof(out));
  ck_assert_str_eq(out, "");
  ts_roundtrip(a, NULL, out, sizeof(out));
  ck_assert_str_eq(out, "MSG foo.x 2 2\r\nhi\r\nMSG foo.x 1 2\r\nhi\r\n"
                        "MSG foo.x.y 2 1\r\nz\r\n");
  close(a);
  close(b);
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_headers_stripped) {
  nm_server_t *s = ts_start(NULL);
  char out[4096];
  int h = ts_client(s, "{\"verbose\":false,\"headers\":true}");
  int p = ts_client(s, "{\"verbose\":false}");
  int pub = ts_client(s, "{\"verbose\":false,\"headers\":true}");
  ts_roundtrip(h, "SUB foo 1\r\n", out, sizeof(out));
  ts_roundtrip(p, "SUB foo 2\r\n", out, sizeof(out));
  ts_roundtrip(pub, "HPUB foo r 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n",
               out, sizeof(out));
  ts_roundtrip(h, NULL, out, sizeof(out));
  ck_assert_str_eq(out,
                   "HMSG foo 1 r 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n");
  ts_roundtrip(p, NULL, out, sizeof(out));
  ck_assert_str_eq(out, "MSG foo 2 r 5\r\nhello\r\n");
  close(h);
  close(p);
  close(pub);
  nm_server_stop_thread(s);
}
END_TEST

#define QN 2000
START_TEST(test_queue_distribution) {
  nm_server_t *s = ts_start(NULL);
  static char out[QN * 40];
  static char pubs[QN * 20];
  int a = ts_client(s, "{\"verbose\":false}");
  int b = ts_client(s, "{\"verbose\":false}");
  int pub = ts_client(s, "{\"verbose\":false}");
  int na, nb, nplain, i;
  size_t n = 0;

  ts_roundtrip(a, "SUB q.x grp 1\r\nSUB q.x grp 2\r\nSUB q.* 5\r\n", out,
               sizeof(out));
  ts_roundtrip(b, "SUB q.x grp 3\r\nSUB q.x other 4\r\n", out, sizeof(out));
  for (i = 0; i < QN; i++)
    n += (size_t)sprintf(pubs + n, "PUB q.x 1\r\n%d\r\n", i % 10);
  ts_roundtrip(pub, pubs, out, sizeof(out));
  ts_roundtrip(a, NULL, out, sizeof(out));
  na = ts_count(out, "MSG q.x 1 1\r\n") + ts_count(out, "MSG q.x 2 1\r\n");
  nplain = ts_count(out, "MSG q.x 5 1\r\n");
  ts_roundtrip(b, NULL, out, sizeof(out));
  nb = ts_count(out, "MSG q.x 3 1\r\n");
  /* Every message reaches the plain sub, one member of grp and the only
   * member of other; grp's three members share it about evenly. */
  ck_assert_int_eq(nplain, QN);
  ck_assert_int_eq(ts_count(out, "MSG q.x 4 1\r\n"), QN);
  ck_assert_int_eq(na + nb, QN);
  ck_assert_msg(nb > QN / 3 - QN / 10 && nb < QN / 3 + QN / 10,
                "member 3 got %d of %d", nb, QN);
  close(a);
  close(b);
  close(pub);
  nm_server_stop_thread(s);
}
END_TEST

/* A PONG to X goes out after every MSG queued for X before it: after the
 * publisher's own PING/PONG, the subscriber's PING/PONG must bring all. */
#define ON 5000
START_TEST(test_pong_after_msgs) {
  nm_server_t *s = ts_start(NULL);
  static char out[ON * 40], pubs[ON * 24];
  int sub = ts_client(s, "{\"verbose\":false}");
  int pub = ts_client(s, "{\"verbose\":false}");
  size_t n = 0;
  int i, round;

  ts_roundtrip(sub, "SUB ord 1\r\n", out, sizeof(out));
  for (round = 0; round < 3; round++) {
    n = 0;
    for (i = 0; i < ON; i++)
      n += (size_t)sprintf(pubs + n, "PUB ord 4\r\n%04d\r\n", i % 10000);
    ts_roundtrip(pub, pubs, out, sizeof(out));
    ts_roundtrip(sub, NULL, out, sizeof(out));
    ck_assert_int_eq(ts_count(out, "MSG ord 1 4\r\n"), ON);
    ck_assert_ptr_nonnull(strstr(out, "MSG ord 1 4\r\n4999\r\n"));
  }
  close(sub);
  close(pub);
  nm_server_stop_thread(s);
}
END_TEST

/* nats-server parses a PUB's arguments twice when a read ends inside its
 * payload, so a pedantic -ERR comes twice then (and once otherwise). */
START_TEST(test_pedantic_split_payload) {
  static const char kErr[] = "-ERR 'Invalid Publish Subject'\r\n";
  nm_server_t *s = ts_start(NULL);
  char out[4096], want[256];
  int fd = ts_client(s, "{\"verbose\":false,\"pedantic\":true}");
  nm_peer_state_t st;
  ts_roundtrip(fd, "SUB > 1\r\n", out, sizeof(out));
  ck_assert_int_eq(nm_test_send_str(fd, "PUB foo.* 2\r\nh"), 0);
  snprintf(want, sizeof(want), "%s%s", kErr, kErr);
  nm_test_read(fd, out, sizeof(out), want, TS_WAIT_MS, 0, &st);
  ck_assert_str_eq(out, want);
  ts_roundtrip(fd, "i\r\n", out, sizeof(out));
  ck_assert_str_eq(out, "MSG foo.* 1 2\r\nhi\r\n");
  /* Whole in one read: once. */
  ts_roundtrip(fd, "PUB foo.* 2\r\nhi\r\n", out, sizeof(out));
  snprintf(want, sizeof(want), "%sMSG foo.* 1 2\r\nhi\r\n", kErr);
  ck_assert_str_eq(out, want);
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

/* Input split at every byte still gives the same answer. */
START_TEST(test_split_input) {
  static const char in[] = "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\n"
                           "PUB foo 5\r\nhello\r\n";
  nm_server_t *s = ts_start(NULL);
  char out[4096];
  int fd = ts_connect(s, NULL, 0);
  size_t i;
  for (i = 0; i < sizeof(in) - 1; i++)
    ck_assert_int_eq(nm_test_send(fd, in + i, 1), 0);
  ts_roundtrip(fd, NULL, out, sizeof(out));
  ck_assert_str_eq(out, "MSG foo 1 5\r\nhello\r\n");
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

static Suite *suite(void) {
  Suite *su = suite_create("server_proto");
  TCase *tc = tcase_create("wire");
  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, test_wire_table, 0,
                      (int)(sizeof(kCases) / sizeof(kCases[0])));
  tcase_add_test(tc, test_info_shape);
  tcase_add_test(tc, test_info_auth_and_name);
  tcase_add_test(tc, test_route_between_conns);
  tcase_add_test(tc, test_headers_stripped);
  tcase_add_test(tc, test_queue_distribution);
  tcase_add_test(tc, test_pong_after_msgs);
  tcase_add_test(tc, test_split_input);
  tcase_add_test(tc, test_pedantic_split_payload);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_ENV);
}
