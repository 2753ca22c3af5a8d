/*  segq_conf_lines.h: the "key = value" lines of segq's configuration
    files (segqd.conf, the autoscaler's slurm-scale.conf), read one way so
    that a file says the same thing to each of them.

    Part of segq_base (libc only). The syntax:

        # a comment, on a line of its own
        key = value                 blanks around both trimmed
        [kind train]                a section header, where the file has them

    A UTF-8 byte-order mark at the start is skipped (Windows editors write
    one); lines end with "\n" or "\r\n". The reader refuses, naming the
    line and the fix: a line with no '=', a key that is not lowercase
    letters, digits, '-' and '_' (at most SEGQ_CONF_KEY_MAX bytes), an
    empty value, a control character other than a tab, a NUL byte, a line
    over SEGQ_CONF_LINE_MAX bytes, a header without its ']', a '#' comment
    after a value and a quoted value (both would be taken into the value:
    data_dir = "/srv/segq" named a folder '"' under the working directory).
    What a key means, and what its value must be, is the caller's.

    Every problem goes to the caller's err as "FILE:LINE: what", one a
    line, the first SEGQ_CONF_ERRORS_SHOWN of them; the caller adds its own
    with segq_conf_lines_error, so a file's problems are all said at once.

        segq_conf_lines_t r;
        segq_conf_line_t l;
        segq_conf_lines_init (&r, path, text, len, NULL, err, errlen);
        while (segq_conf_lines_next (&r, &l))
            ... l.key, l.value, l.line ...
        if (segq_conf_lines_end (&r)) -> refuse the file, err says why
*/
#ifndef SEGQ_CONF_LINES_H
#define SEGQ_CONF_LINES_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEGQ_CONF_LINE_MAX     4095 /* bytes of a line, blanks trimmed */
#define SEGQ_CONF_KEY_MAX      64
#define SEGQ_CONF_ERRORS_SHOWN 20

/* The reader: on the caller's stack; its members are its own. */
typedef struct {
    const char *name; /* the file, in messages */
    const char *sections;
    const char *text;
    size_t len, at;
    int line;
    char *err;
    size_t errlen, used;
    size_t errors; /* said or not */
    char buf [SEGQ_CONF_LINE_MAX + 1];
} segq_conf_lines_t;

/* One line that says something: key and value, or (key NULL) a section
   header. The strings are the reader's, valid until the next call. */
typedef struct {
    int line;            /* from 1 */
    const char *section; /* a header "[ kind train ]": "kind train"; NULL for a
                            header refused (said already: the lines after it
                            are in no section the file meant), or for a key */
    const char *key;     /* as written; NULL for a header */
    const char *value;   /* blanks trimmed, never empty; NULL for a header */
} segq_conf_line_t;

/* Reads `len` bytes of text (not NUL-terminated) named `name` in messages.
   `sections`: the headers the file takes, as its messages name them
   ("[defaults], [user NAME] or [kind NAME]"); NULL when it has none (then
   a "[...]" line is refused as a line with no '='). err (may be NULL)
   is emptied. */
void segq_conf_lines_init (segq_conf_lines_t *self, const char *name, const char *text, size_t len,
                           const char *sections, char *err, size_t errlen);

/* The next line with a key and value, or a section header (one refused
   too: its section NULL): true with *out filled; false at the end. Blank
   lines and comments are skipped; any other line the reader refuses is
   said in err and skipped. */
bool segq_conf_lines_next (segq_conf_lines_t *self, segq_conf_line_t *out);

/* One more problem, said as "FILE:LINE: what". */
void segq_conf_lines_error (segq_conf_lines_t *self, int line, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* How many problems so far: a caller may skip work (a did-you-mean) for
   one that will not be shown (SEGQ_CONF_ERRORS_SHOWN or more). */
size_t segq_conf_lines_errors (const segq_conf_lines_t *self);

/* Once all is said: adds "FILE: ... and N more" past the shown ones;
   returns how many problems the file has (0: it is good). */
size_t segq_conf_lines_end (segq_conf_lines_t *self);

/* The whole file at `path`, at most `max` bytes, into *text (malloc'ed,
   the caller's; *len bytes). 0, or SEGQ_ENOENT, SEGQ_EIO, SEGQ_ETOOBIG or
   SEGQ_ENOMEM with err saying so ("cannot read config file PATH: why"). */
int segq_conf_read_file (const char *path, size_t max, char **text, size_t *len, char *err,
                         size_t errlen);

/* A yes or no as a file or a job parameter writes it: yes, true, on, 1 or
   no, false, off, 0 (lowercase). 0, or SEGQ_EINVAL. */
int segq_parse_bool (const char *text, bool *out);

#ifdef __cplusplus
}
#endif
#endif
