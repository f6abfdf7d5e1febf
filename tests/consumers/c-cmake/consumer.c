/* An outside C program embedding natsmock: start a server on its own thread,
 * speak to it over a plain socket, script a fault, stop it. Exit 0 on
 * success; every wait is bounded by a 5 s socket timeout. */
#include <arpa/inet.h>
#include <natsmock/natsmock.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Reads until `want` appears in what was received (or 5 s pass). */
static int read_until(int fd, const char *want) {
  char buf[8192];
  size_t n = 0;
  while (n < sizeof buf - 1) {
    ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
    if (r <= 0)
      return -1;
    n += (size_t)r;
    buf[n] = '\0';
    if (strstr(buf, want))
      return 0;
  }
  return -1;
}

int main(void) {
  nm_server_opts_t o;
  nm_server_t *srv;
  char err[256];
  nm_server_opts_init(&o);
  if (nm_server_start_thread(&o, &srv) != 0) {
    fprintf(stderr, "consumer: server did not start\n");
    return 1;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)nm_server_port(srv));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
           read_until(fd, "INFO {") == 0;
  const char *hello = "CONNECT {\"verbose\":false}\r\nPING\r\n";
  ok = ok && send(fd, hello, strlen(hello), 0) == (ssize_t)strlen(hello) &&
       read_until(fd, "PONG\r\n") == 0;
  /* The fault engine from a foreign thread: one rule, accepted. */
  int frc = nm_server_fault_sync(
      srv,
      "{\"rules\":[{\"id\":\"c1\",\"dir\":\"out\",\"verb\":\"PONG\","
      "\"limit\":1,\"action\":\"drop\"}]}",
      NULL, err, sizeof err);
  if (frc != 0)
    fprintf(stderr, "consumer: fault refused: %s\n", err);
  close(fd);
  nm_server_stop_thread(srv);
  if (!ok || frc != 0) {
    fprintf(stderr, "consumer: failed (%s)\n", ok ? "fault" : "PING/PONG");
    return 1;
  }
  printf("consumer (C, find_package): natsmock %s answered PING with PONG\n",
         NM_VERSION);
  return 0;
}
