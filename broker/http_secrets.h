/*  http_secrets.h: the HTTP listener's secrets, read from files: the TLS
    private key and the access tokens.

    A secret file must be private to its owner (no group or other
    permission bits: 0600 or 0400); one that is not is refused, since
    anyone who can read it can act as every user it names. The token file
    holds one token per line, "TOKEN USER" ('#' starts a comment line):
    the token at least 16 characters of [A-Za-z0-9._~+/=-] (`openssl rand
    -hex 32` makes a good one), the user a name as the broker knows users
    (a certificate's name with keys). */
#ifndef SEGQ_HTTP_SECRETS_H
#define SEGQ_HTTP_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#define SEGQ_HTTP_TOKEN_MIN 16

/* The whole of a file (NUL-terminated, at most max bytes), or NULL with
   err saying why: unreadable, too large, or (secret) readable by others,
   with the chmod that fixes it. what names the file's role in messages
   ("--http-key"). */
char *segq__http_read_file (const char *path, const char *what, size_t max, bool secret, char *err,
                            size_t errlen);

typedef struct segq__http_tokens segq__http_tokens_t;

/* Loads the token file; NULL with err naming every bad line (FILE:LINE). */
segq__http_tokens_t *segq__http_tokens_load (const char *path, char *err, size_t errlen);
void segq__http_tokens_destroy (segq__http_tokens_t **self_p);

/* The user `token` names, or NULL. Every token is compared in full,
   whether or not an earlier one matched, so the time taken says nothing
   about which bytes were right. */
const char *segq__http_tokens_user (const segq__http_tokens_t *self, const char *token);

#endif
