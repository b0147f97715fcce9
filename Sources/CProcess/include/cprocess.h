#ifndef CPROCESS_H
#define CPROCESS_H
#include <spawn.h>
#include <sys/types.h>

/* posix_spawn_file_actions_addclosefrom_np (glibc 2.34+), which Swift's
 * Glibc module does not export: the child closes every descriptor from
 * `from` up. Returns 0 or an errno value. */
int cprocess_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/* Waits until process `pid` (not necessarily a child) has exited, at most
 * `timeout_ms` milliseconds, through a pidfd (Linux 5.3+): 1 when it has
 * exited (or never existed), 0 on timeout, -1 when pidfds are unavailable. */
int cprocess_wait_exit(pid_t pid, int timeout_ms);

#endif
