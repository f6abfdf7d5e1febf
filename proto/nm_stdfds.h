/* Descriptors 0, 1 and 2 kept open. A process started with one of them
 * closed hands that number to the next file or socket it opens, and then
 * libuv aborts closing it (uv__close asserts fd > STDERR_FILENO), and a
 * stray write to "stderr" would land in a socket. Daemons do what this does
 * at start: open /dev/null on whichever of the three is closed. The server
 * library calls it before it makes its loop or listener. libc only. */
#ifndef NM_STDFDS_H
#define NM_STDFDS_H

/* Opens /dev/null (read-write, inherited across exec) on each of 0-2 that
 * is closed. Returns 0, or -errno when /dev/null cannot be opened. */
int nm_hold_std_fds(void);

#endif
