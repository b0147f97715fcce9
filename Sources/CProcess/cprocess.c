#define _GNU_SOURCE
#include "cprocess.h"

int cprocess_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
