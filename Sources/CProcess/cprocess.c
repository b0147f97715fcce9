#define _GNU_SOURCE
#include "cprocess.h"
#include <errno.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

int cprocess_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int cprocess_wait_exit(pid_t pid, int timeout_ms) {
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) return errno == ESRCH ? 1 : -1;
    struct pollfd waiter = { .fd = fd, .events = POLLIN, .revents = 0 };
    int ready;
    do { ready = poll(&waiter, 1, timeout_ms); } while (ready < 0 && errno == EINTR);
    close(fd);
    return ready > 0 ? 1 : ready == 0 ? 0 : -1;
#else
    (void)pid; (void)timeout_ms;
    return -1;
#endif
}
