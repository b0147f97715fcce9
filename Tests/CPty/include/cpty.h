#ifndef CPTY_H
#define CPTY_H
#include <stddef.h>

/* Opens a pseudo-terminal master (posix_openpt, grantpt, unlockpt, which
 * Swift's Glibc module does not export) and writes the slave's path into
 * `name`. Returns the master's descriptor, or -1. For the REPL tests. */
int cpty_open(char *name, size_t size);

#endif
