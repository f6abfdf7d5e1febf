// An outside C++ program embedding natsmock through pkg-config: the header's
// extern "C" guards make the C symbols link. Starts a server, talks to it
// over a plain socket (INFO, PING -> PONG), scripts a fault, stops it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <natsmock/natsmock.h>

namespace {

// Reads until `want` appears (bounded by the socket's 5 s timeout).
bool read_until(int fd, const std::string &want) {
  std::string got;
  char buf[4096];
  while (got.size() < 65536) {
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r <= 0)
      return false;
    got.append(buf, static_cast<size_t>(r));
    if (got.find(want) != std::string::npos)
      return true;
  }
  return false;
}

} // namespace

int main() {
  nm_server_opts_t o;
  nm_server_opts_init(&o);
  nm_server_t *srv = nullptr;
  if (nm_server_start_thread(&o, &srv) != 0) {
    std::fprintf(stderr, "consumer: server did not start\n");
    return 1;
  }
  char url[64];
  nm_server_url(srv, url, sizeof url);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(nm_server_port(srv)));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string hello = "CONNECT {}\r\nPING\r\n";
  bool ok = connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0 &&
            read_until(fd, "INFO {") &&
            send(fd, hello.data(), hello.size(), 0) ==
                static_cast<ssize_t>(hello.size()) &&
            read_until(fd, "PONG\r\n");
  nm_buf_t result;
  nm_buf_init(&result, 4096);
  char err[256];
  int frc = nm_server_fault_sync(
      srv,
      R"({"rules":[{"id":"cxx","dir":"out","verb":"PING","action":"drop"}]})",
      &result, err, sizeof err);
  nm_buf_free(&result);
  close(fd);
  nm_server_stop_thread(srv);
  if (!ok || frc != 0) {
    std::fprintf(stderr, "consumer: failed (%s)\n",
                 ok ? nm_errname(frc) : "PING/PONG");
    return 1;
  }
  std::printf("consumer (C++, pkg-config): %s answered PING with PONG\n", url);
  return 0;
}
