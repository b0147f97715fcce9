#ifndef CPROCESS_H
#define CPROCESS_H
#include <spawn.h>

/* posix_spawn_file_actions_addclosefrom_np (glibc 2.34+), which Swift's
 * Glibc module does not export: the child closes every descriptor from
 * `from` up. Returns 0 or an errno value. */
int cprocess_addclosefrom(posix_spawn_file_actions_t *actions, int from);

#endif
