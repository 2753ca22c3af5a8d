/*  segq_conf_lines.c: the "key = value" line reader (see segq_conf_lines.h).

    Input is untrusted bytes (segqd.conf is fuzzed): a line is bounded by
    the text, and copied only once it is known to fit the reader's buffer. */
#include "segq_conf_lines.h"
#include "segq_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
segq_conf_lines_init (segq_conf_lines_t *self, const char *name, const char *text, size_t len,
                      const char *sections, char *err, size_t errlen)
{
    memset (self, 0, offsetof (segq_conf_lines_t, buf));
    self->name = name ? name : "config";
    self->sections = sections;
    /* a UTF-8 byte-order mark is no key's part */
    if (len >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }
    self->text = text;
    self->len = len;
    self->err = err && errlen ? err : NULL;
    self->errlen = self->err ? errlen : 0;
    if (self->err)
        self->err [0] = 0;
}

/* Appends what snprintf wrote (n) to the messages, cut at their end. */
static void
s_advance (segq_conf_lines_t *self, int n)
{
    if (n > 0)
        self->used =
            self->used + (size_t) n < self->errlen ? self->used + (size_t) n : self->errlen - 1;
}

void
segq_conf_lines_error (segq_conf_lines_t *self, int line, const char *fmt, ...)
{
    if (self->errors++ >= SEGQ_CONF_ERRORS_SHOWN || self->used + 1 >= self->errlen)
        return;
    s_advance (self, snprintf (self->err + self->used, self->errlen - self->used,
                               "%s%s:%d: ", self->used ? "\n" : "", self->name, line));
    va_list ap;
    va_start (ap, fmt);
    s_advance (self, vsnprintf (self->err + self->used, self->errlen - self->used, fmt, ap));
    va_end (ap);
}

size_t
segq_conf_lines_errors (const segq_conf_lines_t *self)
{
    return self->errors;
}

size_t
segq_conf_lines_end (segq_conf_lines_t *self)
{
    if (self->errors > SEGQ_CONF_ERRORS_SHOWN && self->used + 1 < self->errlen)
        s_advance (self, snprintf (self->err + self->used, self->errlen - self->used,
                                   "\n%s: ... and %zu more", self->name,
                                   self->errors - SEGQ_CONF_ERRORS_SHOWN));
    return self->errors;
}

static bool
s_blank (char c)
{
    return c == ' ' || c == '\t';
}

static void
s_trim (const char **text, size_t *len)
{
    while (*len && s_blank (**text))
        (*text)++, (*len)--;
    while (*len && s_blank ((*text) [*len - 1]))
        (*len)--;
}

/* The next line of the text, without its "\n" or "\r\n". */
static void
s_cut (segq_conf_lines_t *self, const char **line, size_t *len)
{
    const char *start = self->text + self->at;
    const char *nl = memchr (start, '\n', self->len - self->at);
    *len = nl ? (size_t) (nl - start) : self->len - self->at;
    self->at += *len + (nl != NULL);
    if (*len && start [*len - 1] == '\r')
        (*len)--;
    *line = start;
    self->line++;
}

/* Whether the trimmed line can be one of the file's; false with the
   error said. `nul`: the untrimmed line has a NUL byte. */
static bool
s_readable (segq_conf_lines_t *self, const char *text, size_t len, bool nul)
{
    if (nul) {
        segq_conf_lines_error (self, self->line, "NUL byte: this is not a text file");
        return false;
    }
    if (len > SEGQ_CONF_LINE_MAX) {
        segq_conf_lines_error (self, self->line, "line longer than %d bytes", SEGQ_CONF_LINE_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++)
        if (((unsigned char) text [i] < 0x20 && text [i] != '\t') || text [i] == 0x7f) {
            segq_conf_lines_error (self, self->line, "a control character: write plain text");
            return false;
        }
    return true;
}

/* "[ NAME ]" in buf (len bytes): its inside, trimmed, as the line's
   section; none (the header refused) without its ']'. */
static bool
s_section (segq_conf_lines_t *self, size_t len, segq_conf_line_t *out)
{
    *out = (segq_conf_line_t){ self->line, NULL, NULL, NULL };
    if (len < 2 || self->buf [len - 1] != ']') {
        segq_conf_lines_error (self, self->line, "a section header ends with ']': expected %s",
                               self->sections);
        return true;
    }
    const char *inside = self->buf + 1;
    size_t n = len - 2;
    s_trim (&inside, &n);
    self->buf [(size_t) (inside - self->buf) + n] = 0;
    out->section = inside;
    return true;
}

static bool
s_valid_key (const char *key, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((key [i] >= 'a' && key [i] <= 'z') || (key [i] >= '0' && key [i] <= '9')
              || key [i] == '-' || key [i] == '_'))
            return false;
    return len <= SEGQ_CONF_KEY_MAX;
}

/* Why the value (len bytes, trimmed) of `key` is not one, or false. */
static bool
s_bad_value (segq_conf_lines_t *self, const char *key, const char *value, size_t len)
{
    int line = self->line;
    /* taken into the value, a comment would name another folder or fail
       its check with a puzzling message */
    const char *hash = memchr (value, '#', len);
    if (len == 0)
        segq_conf_lines_error (self, line, "%s = '': no value (leave the line out for its default)",
                               key);
    else if (hash && (hash == value || s_blank (hash [-1])))
        segq_conf_lines_error (
            self, line,
            "a comment after the value of '%s': put '#' comments on a line of their own", key);
    else if (len >= 2 && (value [0] == '"' || value [0] == '\'') && value [len - 1] == value [0])
        segq_conf_lines_error (self, line, "%s = %.*s: values are not quoted (write %s = %.*s)",
                               key, (int) len, value, key, (int) len - 2, value + 1);
    else
        return false;
    return true;
}

/* "key = value" in buf (len bytes, trimmed), split into the line. */
static bool
s_pair (segq_conf_lines_t *self, size_t len, segq_conf_line_t *out)
{
    char *eq = memchr (self->buf, '=', len);
    if (!eq) {
        segq_conf_lines_error (self, self->line, "%s",
                               self->sections
                                   ? "expected 'key = value', '[section]' or a '#' comment"
                                   : "expected 'key = value' or a '#' comment");
        return false;
    }
    size_t key_len = (size_t) (eq - self->buf);
    while (key_len && s_blank (self->buf [key_len - 1]))
        key_len--;
    if (key_len == 0) {
        segq_conf_lines_error (self, self->line, "a key is missing before '='");
        return false;
    }
    if (!s_valid_key (self->buf, key_len)) {
        segq_conf_lines_error (self, self->line,
                               "'%.*s' is not a key: keys are lowercase letters, digits, '-' and "
                               "'_', at most %d of them",
                               (int) (key_len < SEGQ_CONF_KEY_MAX ? key_len : SEGQ_CONF_KEY_MAX),
                               self->buf, SEGQ_CONF_KEY_MAX);
        return false;
    }
    self->buf [key_len] = 0;
    const char *value = eq + 1;
    size_t value_len = len - (size_t) (value - self->buf);
    s_trim (&value, &value_len);
    if (s_bad_value (self, self->buf, value, value_len))
        return false;
    self->buf [(size_t) (value - self->buf) + value_len] = 0;
    *out = (segq_conf_line_t){ self->line, NULL, self->buf, value };
    return true;
}

bool
segq_conf_lines_next (segq_conf_lines_t *self, segq_conf_line_t *out)
{
    while (self->at < self->len) {
        const char *text;
        size_t len;
        s_cut (self, &text, &len);
        /* a binary file is said as one, even where it looks like a comment */
        bool nul = memchr (text, 0, len) != NULL;
        s_trim (&text, &len);
        if (!nul && (len == 0 || text [0] == '#'))
            continue;
        if (!s_readable (self, text, len, nul))
            continue;
        memcpy (self->buf, text, len);
        self->buf [len] = 0;
        bool header = self->sections && text [0] == '[';
        if (header ? s_section (self, len, out) : s_pair (self, len, out))
            return true;
    }
    return false;
}

int
segq_conf_read_file (const char *path, size_t max, char **text, size_t *len, char *err,
                     size_t errlen)
{
    *text = NULL;
    *len = 0;
    FILE *file = fopen (path, "rb");
    if (!file) {
        int code = errno;
        return segq_fail (err, errlen, code == ENOENT ? SEGQ_ENOENT : SEGQ_EIO,
                          "cannot read config file %s: %s", path, strerror (code));
    }
    char *buf = max < SIZE_MAX ? malloc (max + 1) : NULL;
    size_t n = buf ? fread (buf, 1, max + 1, file) : 0;
    int rc = 0;
    if (!buf)
        rc = segq_fail (err, errlen, SEGQ_ENOMEM, "out of memory reading %s", path);
    else if (ferror (file))
        rc = segq_fail (err, errlen, SEGQ_EIO, "cannot read config file %s: %s", path,
                        strerror (errno));
    else if (n > max)
        rc = segq_fail (err, errlen, SEGQ_ETOOBIG,
                        "config file %s is over %zu bytes: is it the right file?", path, max);
    fclose (file);
    if (rc) {
        free (buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return 0;
}

int
segq_parse_bool (const char *text, bool *out)
{
    /* the first half says no */
    static const char *const words [] = { "no", "false", "off", "0", "yes", "true", "on", "1" };
    for (size_t i = 0; text && i < sizeof words / sizeof words [0]; i++)
        if (strcmp (text, words [i]) == 0) {
            *out = i >= 4;
            return 0;
        }
    return SEGQ_EINVAL;
}
