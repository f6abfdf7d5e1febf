/* Helpers shared by the Check tests: blocking loopback sockets with
 * deadlines, and a real nats-server 2.9.10 on an ephemeral port. Every call
 * bounds its own time. */
#ifndef NM_TEST_UTIL_H
#define NM_TEST_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* What the peer did by the end of a read. */
typedef enum {
  NM_PEER_OPEN = 0, /* still open when the read stopped */
  NM_PEER_EOF,      /* orderly close (FIN) */
  NM_PEER_RST,      /* ECONNRESET */
} nm_peer_state_t;

/* Connects to 127.0.0.1:port. Returns the fd or -1. */
int nm_test_connect(int port);
/* Writes all n bytes (or fails: -1). */
int nm_test_send(int fd, const void *p, size_t n);
int nm_test_send_str(int fd, const char *s);
/* Reads into buf (NUL-terminated, up to cap-1 bytes) until `needle` appears
 * (NULL: no needle), the peer closes, or timeout_ms passes. After the needle
 * it keeps reading for `settle_ms` more (0: stop at once) to catch trailing
 * bytes. Returns the byte count; *state says whether the peer closed. */
size_t nm_test_read(int fd, char *buf, size_t cap, const char *needle,
                    int timeout_ms, int settle_ms, nm_peer_state_t *state);
/* Reads exactly one line (through "\n") into buf; returns its length or -1. */
ssize_t nm_test_read_line(int fd, char *buf, size_t cap, int timeout_ms);

/* A nats-server 2.9.10 child process on an ephemeral port. */
typedef struct {
  pid_t pid;
  int port;
  char dir[256]; /* a temp dir: ports file, config, log */
} nm_natsserver_t;

/* Starts `nats-server -a 127.0.0.1 -p -1 --ports_file_dir DIR [-c CONF]`.
 * `config` is the text of a config file (NULL: none); `extra_args` is a
 * NULL-terminated list of more arguments (may be NULL). Waits (bounded, 10 s)
 * for the ports file and for the port to accept. Returns 0 or -1. */
int nm_natsserver_start(nm_natsserver_t *ns, const char *config,
                        const char *const *extra_args);
/* The same for any server binary that takes nats-server's command line (a
 * path, or a name looked up on PATH), e.g. natsmock: `binary -a 127.0.0.1 -p
 * -1 --ports_file_dir DIR [-c CONF] [extra_args]`. It waits for the ports file
 * DIR/<name>_<pid>.ports. Stop it with nm_natsserver_stop. */
int nm_server_proc_start(nm_natsserver_t *ns, const char *binary,
                         const char *config, const char *const *extra_args);
void nm_natsserver_stop(nm_natsserver_t *ns);
/* 1 when a nats-server binary is on PATH. */
int nm_natsserver_available(void);

/* Runs `cmd` with /bin/sh (stderr folded into stdout), keeps up to cap-1
 * bytes of its output in out (NUL-terminated), and returns its exit status,
 * or -1 when it could not run or did not exit normally. */
int nm_test_shell(const char *cmd, char *out, size_t cap);
/* Writes `text` to dir/name. Returns 0 or -1. */
int nm_test_write_file(const char *dir, const char *name, const char *text);
/* How many times `needle` occurs in `hay`. */
int nm_test_count(const char *hay, const char *needle);

/* Monotonic milliseconds. */
long long nm_test_now_ms(void);

#endif
