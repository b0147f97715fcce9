#define _XOPEN_SOURCE 600
#include "cpty.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cpty_open(char *name, size_t size) {
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0) return -1;
    const char *slave;
    if (grantpt(master) != 0 || unlockpt(master) != 0 || !(slave = ptsname(master)) || strlen(slave) + 1 > size) {
        close(master);
        return -1;
    }
    strcpy(name, slave);
    return master;
}
