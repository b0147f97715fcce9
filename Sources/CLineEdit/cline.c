/* The REPL's use of libedit that Swift cannot express: its settings are C
 * globals (shared mutable state to Swift 6) and its line callback has no
 * context pointer. */
#include "cline.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>
#include <editline/readline.h>

/* From CLuaShims (clua_sigint.c): whether Ctrl-C was pressed. */
extern int clua_sigint_pending(void);

/* What the line handler was given. */
static char *finished_line;
static int finished;

static void cel_line_done(char *line) {
    finished_line = line;
    finished = 1;
}

/* Reads a line with readline's callback interface, as Python's REPL does:
 * the wait for keys is our own poll loop, so Ctrl-C (the REPL's handler sets
 * a flag) ends it cleanly, with the terminal given back, instead of
 * interrupting libedit inside a read. Returns 1 with the line in *line
 * (malloc'd), 0 at end of input (Ctrl-D), -1 for Ctrl-C. */
int cel_read_line(const char *prompt, char **line) {
    int fd = fileno(stdin);
    finished_line = NULL;
    finished = 0;
    rl_callback_handler_install(prompt, cel_line_done);
    while (!finished) {
        if (clua_sigint_pending()) {
            rl_callback_handler_remove();
            return -1;
        }
        struct pollfd waiting = { fd, POLLIN, 0 };
        int ready = poll(&waiting, 1, 100);
        if (ready > 0) {
            rl_callback_read_char();
        } else if (ready < 0 && errno != EINTR) {
            break;
        }
    }
    rl_callback_handler_remove();
    *line = finished_line;
    return *line ? 1 : 0;
}

/* libedit's settings are C globals, which Swift 6 will not touch directly
 * (shared mutable state); the REPL sets them from its one thread. */
void cel_setup(const char *name, cel_completer *complete) {
    rl_readline_name = name;
    rl_attempted_completion_function = complete;
    /* Ctrl-C is the REPL's own (see cel_read_line): libedit's handler
     * would re-send the signal to the whole process group. */
    rl_catch_signals = 0;
}

/* Inside a completion: no file-name fallback, nothing appended after a word. */
void cel_completing(void) {
    rl_attempted_completion_over = 1;
    rl_completion_append_character = 0;
}
