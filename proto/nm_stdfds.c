/* See nm_stdfds.h. */
#include "nm_stdfds.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int nm_hold_std_fds(void) {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
    int got;
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
      continue;
    /* open takes the lowest free number: fd, as those below it are open. */
    got = open("/dev/null", O_RDWR);
    if (got < 0)
      return -errno;
    /* Another thread took fd first: it is open now, ours is not needed. */
    if (got > STDERR_FILENO)
      close(got);
  }
  return 0;
}
