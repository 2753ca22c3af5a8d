/*  http_test.h: what the tests of segqd's HTTP listener share: its URL from
    the broker's log, a plain HTTP client over a socket (no library: the
    test sees the bytes), and a way to run the outside programs that judge
    the answers (python3's Prometheus parser, chromium, openssl). */
#ifndef SEGQ_HTTP_TEST_H
#define SEGQ_HTTP_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include "harness.h"

/* The listener's base URL ("http://127.0.0.1:PORT"), from the line segqd
   logs once it serves ("HTTP on URL: ..."); waits for it. 0 or -1. */
int http_url (harness_t *h, char *url, size_t len);

typedef struct {
    int status;  /* 0: no answer (the connection closed first) */
    char *head;  /* the status line and headers (malloc'ed) */
    char *body;  /* malloc'ed, NUL-terminated */
    size_t size; /* of body */
} http_answer_t;

/* GET url + path (HTTP/1.0: the server closes after answering) with
   `Authorization: Bearer token` unless token is NULL, from local address
   `from` (NULL: any). 0 with *answer filled (clear it), or -1 when no
   connection could be made. */
int http_get (const char *url, const char *path, const char *token, const char *from,
              http_answer_t *answer);
void http_answer_clear (http_answer_t *answer);

/* A TCP connection to url's address from `from` (NULL: any); -1 on failure. */
int http_connect (const char *url, const char *from);

/* Runs argv (NULL-terminated) with stdout into out_path (NULL: the log)
   and stderr into log_path, and extra "NAME=VALUE" environment (or NULL);
   the exit status, -1 if it did not run or was killed. */
int http_run (const char *const *argv, const char *out_path, const char *log_path,
              const char *const *env);

/* The whole of a file (malloc'ed, NUL-terminated), or NULL. */
char *http_slurp (const char *path, size_t *size);

/* Writes a stand-in segq-run into h's folder (path gets it): `train`
   copies its image as the checkpoint and reports a model's shape at
   once, `generate` writes a pair and contact_sheet.png
   (tests/http/contact_sheet.py). For segq-worker --segq-run. */
void http_stand_in_segq_run (harness_t *h, char *path, size_t len);

/* c's user trains model `name` on a picture (the stand-in's: no time)
   and generates from it, and waits for both. The model's id ("m-" + the
   training's id) and the generate job's id. */
void http_model (harness_t *h, segq_client_t *c, const char *name, char *model, size_t model_len,
                 char generate [SEGQ_JOB_ID_MAX]);

#endif
