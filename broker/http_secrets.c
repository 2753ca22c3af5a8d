/*  http_secrets.c: see http_secrets.h. */
#include "http_secrets.h"
#include "segq_error.h"
#include "segq_records.h"
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKENS_MAX_BYTES (1u << 20)

typedef struct {
    char *token;
    char *user;
} entry_t;

struct segq__http_tokens {
    entry_t *entries;
    size_t n;
};

/* Reads fd to its end into a new buffer of at most max bytes. */
static char *
s_read_all (int fd, size_t max, size_t *len)
{
    char *text = malloc (max + 1);
    size_t used = 0;
    while (text && used <= max) {
        ssize_t n = read (fd, text + used, max + 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t) n;
    }
    if (text && used > max) {
        free (text);
        errno = EFBIG;
        return NULL;
    }
    if (text)
        text [used] = 0;
    *len = used;
    return text;
}

char *
segq__http_read_file (const char *path, const char *what, size_t max, bool secret, char *err,
                      size_t errlen)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat (fd, &st) != 0) {
        snprintf (err, errlen, "%s %s: cannot read it: %s", what, path, strerror (errno));
        if (fd >= 0)
            close (fd);
        return NULL;
    }
    if (secret && (st.st_mode & 077)) {
        snprintf (err, errlen,
                  "%s %s is readable by others (mode %04o): it is a secret; "
                  "chmod 600 %s",
                  what, path, (unsigned) (st.st_mode & 07777), path);
        close (fd);
        return NULL;
    }
    size_t len = 0;
    char *text = s_read_all (fd, max, &len);
    if (!text)
        snprintf (err, errlen, "%s %s: %s", what, path,
                  errno == EFBIG ? "larger than such a file can be" : strerror (errno));
    close (fd);
    return text;
}

static bool
s_token_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || strchr ("._~+/=-", c);
}

/* One "TOKEN USER" line into entry; false with why. */
static bool
s_parse_line (char *line, entry_t *entry, char *why, size_t len)
{
    char *save = NULL;
    char *token = strtok_r (line, " \t\r", &save);
    char *user = strtok_r (NULL, " \t\r", &save);
    char *more = strtok_r (NULL, " \t\r", &save);
    size_t n = token ? strlen (token) : 0;
    bool chars = true;
    for (size_t i = 0; i < n; i++)
        chars = chars && s_token_char (token [i]);
    if (!user || more)
        snprintf (why, len, "expected \"TOKEN USER\"");
    else if (n < SEGQ_HTTP_TOKEN_MIN || !chars)
        snprintf (why, len,
                  "the token must be at least %d characters of [A-Za-z0-9._~+/=-] "
                  "(openssl rand -hex 32)",
                  SEGQ_HTTP_TOKEN_MIN);
    else if (!segq_user_valid (user))
        snprintf (why, len, "a user name is " SEGQ_USER_RULE);
    else
        return (entry->token = strdup (token)) && (entry->user = strdup (user));
    return false;
}

/* Whether an entry before the last holds token (two users for one token
   would leave which one a request acts for to the order of the lines). */
static bool
s_given_before (const segq__http_tokens_t *self, const char *token)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp (self->entries [i].token, token) == 0)
            return true;
    return false;
}

/* Every line of text into self; the problems into err, "PATH:LINE: why". */
static int
s_parse (segq__http_tokens_t *self, char *text, const char *path, char *err, size_t errlen)
{
    size_t lines = 1, used = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    if (!(self->entries = calloc (lines, sizeof *self->entries)))
        return segq_fail (err, errlen, SEGQ_ENOMEM, "--http-tokens: out of memory");
    int rc = 0, number = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr (line, '\n');
        if (next)
            *next++ = 0;
        number++;
        line += strspn (line, " \t\r");
        if (!*line || *line == '#')
            continue;
        char why [200] = "out of memory";
        entry_t *entry = &self->entries [self->n];
        if (s_parse_line (line, entry, why, sizeof why) && !s_given_before (self, entry->token)) {
            self->n++;
            continue;
        }
        if (entry->token && entry->user)
            snprintf (why, sizeof why, "this token is on an earlier line too: one user each");
        free (entry->token);
        free (entry->user);
        entry->token = entry->user = NULL;
        if (used < errlen)
            used += (size_t) snprintf (err + used, errlen - used, "%s%s:%d: %s", used ? "\n" : "",
                                       path, number, why);
        rc = SEGQ_EINVAL;
    }
    if (rc == 0 && self->n == 0)
        rc = segq_fail (err, errlen, SEGQ_EINVAL, "%s holds no token (lines \"TOKEN USER\")", path);
    return rc;
}

segq__http_tokens_t *
segq__http_tokens_load (const char *path, char *err, size_t errlen)
{
    char *text = segq__http_read_file (path, "--http-tokens", TOKENS_MAX_BYTES, true, err, errlen);
    size_t len = text ? strlen (text) : 0; /* before parsing cuts it into lines */
    segq__http_tokens_t *self = text ? calloc (1, sizeof *self) : NULL;
    if (text && !self)
        snprintf (err, errlen, "--http-tokens: out of memory");
    if (self && s_parse (self, text, path, err, errlen) != 0)
        segq__http_tokens_destroy (&self);
    if (text)
        memset (text, 0, len); /* no copy of the tokens left in freed memory */
    free (text);
    return self;
}

void
segq__http_tokens_destroy (segq__http_tokens_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq__http_tokens_t *self = *self_p;
    for (size_t i = 0; self->entries && i < self->n; i++) {
        free (self->entries [i].token);
        free (self->entries [i].user);
    }
    free (self->entries);
    free (self);
    *self_p = NULL;
}

/* a == b, in time that depends on their lengths only. */
static bool
s_same (const char *a, const char *b)
{
    size_t na = strlen (a), nb = strlen (b);
    unsigned char diff = na != nb;
    for (size_t i = 0; i < na; i++)
        diff |= (unsigned char) a [i] ^ (unsigned char) (i < nb ? b [i] : 0);
    return diff == 0;
}

const char *
segq__http_tokens_user (const segq__http_tokens_t *self, const char *token)
{
    const char *user = NULL;
    for (size_t i = 0; self && token && i < self->n; i++)
        if (s_same (token, self->entries [i].token) && !user)
            user = self->entries [i].user;
    return user;
}
