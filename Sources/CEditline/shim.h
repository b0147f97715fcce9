/* libedit (BSD editline) through its readline-compatible interface. */
#include <stdio.h>
#include <editline/readline.h>
