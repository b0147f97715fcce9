#ifndef CLINE_H
#define CLINE_H

/* A completion callback in readline's form: the words for `text`. */
typedef char **cel_completer(const char *text, int start, int end);

/* Names the program, installs the completion callback and leaves Ctrl-C to
 * the REPL. Call before anything else that initializes libedit. */
void cel_setup(const char *name, cel_completer *complete);

/* Inside a completion: no file-name fallback, nothing appended after a word. */
void cel_completing(void);

/* Reads a line: 1 with the line in *line (malloc'd), 0 at end of input
 * (Ctrl-D), -1 for Ctrl-C (the REPL's SIGINT flag, see clua_sigint.c). */
int cel_read_line(const char *prompt, char **line);

#endif
