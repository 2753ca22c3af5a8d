/*  http.h: segqd's HTTP listener (libmicrohttpd): Prometheus metrics at
    /metrics and the live status page at / with its JSON API under /api/.

    It runs inside the broker's one reactor thread: libmicrohttpd has no
    thread of its own here (MHD_USE_EPOLL with external polling). Its
    epoll descriptor is a poller of the broker's zloop and a zloop timer
    fires when libmicrohttpd asks for a run (MHD_get_timeout), so every
    handler reads the broker's state directly, between turns, never
    while another thread could change it.

    What a peer can make it hold is bounded: connections (all together
    and per address), an idle connection's lifetime, the time and memory
    a request's headers may take; bodies are built whole, bounded by the
    API's page sizes, then sent.

    Security. It listens on loopback unless TLS (a certificate and key)
    and an access token file are both configured; segq__http_new refuses
    anything else. A request's viewer is the user its token names
    (Authorization: Bearer TOKEN, or ?token=TOKEN); without a token, on a
    loopback listener of a broker without keys, the user segqd runs as
    ($SEGQ_USER, else its login name: whom a `segq` run beside it acts as);
    otherwise nobody, who sees what a user sees of others' jobs (the
    queue, none of their data). What each viewer sees is decided by the
    broker's one access rule (access.h), as for any client. */
#ifndef SEGQ_HTTP_H
#define SEGQ_HTTP_H

#include "access.h"
#include "segq_broker.h"
#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct segq__http segq__http_t;

typedef struct {
    const char *listen; /* "ADDR:PORT", "[ADDR]:PORT" (port 0: a free one) */
    const char *cert;   /* TLS: PEM certificate (chain) file ... */
    const char *key;    /* ... and its private key, mode 0600; both or neither */
    const char *tokens; /* access tokens: lines "TOKEN USER", mode 0600; or NULL */
    bool keys;          /* the broker has CurveZMQ keys: users are who they prove */
} segq__http_config_t;

/* Listens as config says, serving from the broker's reactor loop, into
   *out. 0, or the error with err saying what is wrong and how to fix it:
   SEGQ_EINVAL (or EUNSUPPORTED) for the settings (a non-loopback address
   without TLS and tokens, an unreadable or too open file), SEGQ_EIO for
   the rest (a port taken). */
int segq__http_new (segq_broker_t *broker, zloop_t *loop, const segq__http_config_t *config,
                    segq__http_t **out, char *err, size_t errlen);
/* Stops listening (before the loop is destroyed); NULL is a no-op. */
void segq__http_destroy (segq__http_t **self_p);

/* Where it listens, as bound: "http://127.0.0.1:9464" or "https://...". */
const char *segq__http_url (const segq__http_t *self);

/* ---- routes: what a handler gets and gives ---- */

typedef struct {
    const char *path;      /* the URL's path: "/api/models/m-0001/thumbnail.png" */
    const char *rest;      /* after a prefix route's prefix ("m-0001/thumbnail.png"), else "" */
    segq__caller_t viewer; /* who asks; user NULL: nobody (see above) */
    const char *peer;      /* "http:ADDRESS:PORT", for the log and the audit trail */
    void *connection;      /* libmicrohttpd's, for segq__http_arg */
} segq__http_request_t;

typedef struct {
    unsigned status;  /* 200, 404, ... */
    const char *type; /* Content-Type (static) */
    char *body;       /* malloc'ed; the listener frees it ... */
    size_t size;
    int fd; /* ... or a file sent whole from its start and closed; -1 none */
    uint64_t fd_size;
    bool cache; /* may be cached (the page); API answers are never */
} segq__http_response_t;

/* Fills the response; every handler ends with one of these. A body the
   listener cannot build in memory becomes a 500. */
typedef void (segq__http_handler_fn) (segq_broker_t *broker, const segq__http_request_t *req,
                                      segq__http_response_t *res);

/* A query argument (?name=value, decoded), or NULL. */
const char *segq__http_arg (const segq__http_request_t *req, const char *name);
/* A plain-text answer: a status and what to do about it. */
void segq__http_text (segq__http_response_t *res, unsigned status, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
/* json (taken) as the body, status 200. */
void segq__http_json (segq__http_response_t *res, json_t *json);

#endif
