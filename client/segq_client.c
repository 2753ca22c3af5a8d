/*  segq_client.c: connection, request/reply matching and the job requests. */
#include "client_internal.h"
#include "resend.h"
#include "segq_keys.h"
#include "segq_mix.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct segq_client_t {
    zsock_t *sock;
    char *broker;
    char *user;
    int timeout_ms;
    uint64_t next_req;
    bool heard;        /* the broker has answered at least once */
    zhashx_t *pending; /* req_ids of pipelined submits not yet answered */
    zlistx_t *stash;   /* their replies, received during other waits */
    char error [1024];
    char *broker_key; /* CurveZMQ on: the broker's certificate file */
    char *cert;       /* ... and this user's */
    /* ZMTP handshake events (libzmq socket monitor), to say at once why a
       broker does not answer: our certificate refused, its key wrong, or
       keys on one side only */
    zsock_t *monitor;
    int auth_status;                /* ZAP status of a refused certificate (400), 0 none */
    int handshake_failures;         /* handshakes broken off (not by ZAP) */
    bool mechanism_mismatch;        /* ... because one side speaks CurveZMQ and the other not */
    bool handshake_ok;              /* a handshake succeeded */
    bool dropped;                   /* the connection broke since the broker last answered */
    bool key_by_default;            /* the broker key came from the config dir, not asked for */
    char *hash_cache_path;          /* "" for none */
    segq__hash_cache_t *hash_cache; /* read at first use */
    uint64_t bytes_uploaded;
    segq__resend_t *resend; /* PUTs and GETs to send again should the broker be busy */
};

static size_t
s_id_hash (const void *key)
{
    return (size_t) segq_mix64 ((uint64_t) (uintptr_t) key);
}

static int
s_id_compare (const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) a, y = (uintptr_t) b;
    return x < y ? -1 : x > y;
}

static void
s_msg_destructor (void **item)
{
    segq_msg_destroy ((segq_msg_t **) item);
}

int
segq__client_fail (segq_client_t *self, int code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, ap);
    va_end (ap);
    return code;
}

/* Who the client says it is without keys ($SEGQ_USER, else the login
   name); with keys the broker takes the certificate's name instead. */
static char *
s_os_user (void)
{
    const char *claimed = getenv ("SEGQ_USER");
    if (claimed && *claimed)
        return strdup (claimed);
    struct passwd *pw = getpwuid (geteuid ());
    if (pw && pw->pw_name && *pw->pw_name)
        return strdup (pw->pw_name);
    const char *env = getenv ("USER");
    return strdup (env && *env ? env : "unknown");
}

/* A PAIR socket that receives sock's handshake events and `more` (libzmq
   socket monitor at `endpoint`), or NULL; before connecting sock, so none
   goes unseen. */
static zsock_t *
s_handshake_monitor (zsock_t *sock, const char *endpoint, int more)
{
    zsock_t *monitor = NULL;
    if (zmq_socket_monitor (zsock_resolve (sock), endpoint,
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                                | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                                | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | more)
            == 0
        && (monitor = zsock_new (ZMQ_PAIR)) && zsock_connect (monitor, "%s", endpoint) != 0)
        zsock_destroy (&monitor);
    return monitor;
}

/* One event from a handshake monitor (waiting as its receive timeout says):
   event u16 + value u32, then the endpoint. false if none came. */
static bool
s_handshake_event (zsock_t *monitor, uint16_t *event, uint32_t *value)
{
    zmsg_t *msg = zmsg_recv (monitor);
    zframe_t *frame = msg ? zmsg_first (msg) : NULL;
    bool got = frame && zframe_size (frame) == 6;
    if (got) {
        memcpy (event, zframe_data (frame), 2);
        memcpy (value, zframe_data (frame) + 2, 4);
    }
    zmsg_destroy (&msg);
    return got;
}

/* A name for a monitor's inproc endpoint, new each time: a closed
   monitor's name is released by libzmq's reaper thread later, so one made
   from a client's address clashes (EADDRINUSE) when the next client is
   allocated where the last one was. */
static void
s_monitor_endpoint (const char *what, char *endpoint, size_t len)
{
    static atomic_ulong made;
    snprintf (endpoint, len, "inproc://segq-client-%s-%lu", what,
              (unsigned long) atomic_fetch_add (&made, 1));
}

static int
s_watch_handshakes (segq_client_t *self, char *err, size_t errlen)
{
    char endpoint [64];
    s_monitor_endpoint ("monitor", endpoint, sizeof endpoint);
    /* a broken connection too: a request sent before it gets no answer */
    if (!(self->monitor = s_handshake_monitor (self->sock, endpoint, ZMQ_EVENT_DISCONNECTED))) {
        snprintf (err, errlen, "cannot watch the connection's handshake: %s",
                  zmq_strerror (zmq_errno ()));
        return SEGQ_EINTERNAL;
    }
    return SEGQ_OK;
}

/* Whether the broker completes a handshake without keys: asked when the
   CurveZMQ handshakes keep breaking off, to tell a broker that runs without
   keys from a wrong broker key. The probe sends nothing else. */
static bool
s_broker_without_keys (segq_client_t *self)
{
    char endpoint [64];
    s_monitor_endpoint ("probe", endpoint, sizeof endpoint);
    zsock_t *probe = zsock_new (ZMQ_DEALER);
    zsock_t *monitor = probe ? s_handshake_monitor (probe, endpoint, 0) : NULL;
    uint16_t event = 0;
    uint32_t value;
    if (monitor) {
        zsock_set_linger (probe, 0);
        zsock_set_rcvtimeo (monitor, 1000);
        if (zsock_connect (probe, "%s", self->broker) != 0
            || !s_handshake_event (monitor, &event, &value))
            event = 0;
        zmq_socket_monitor (zsock_resolve (probe), NULL, 0);
    }
    zsock_destroy (&monitor);
    zsock_destroy (&probe);
    return event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
}

/* CurveZMQ when a broker key is given or found; the user's certificate
   must be there then. An empty key given (--broker-key "", --no-keys,
   SEGQ_BROKER_KEY set but empty) asks for a plain connection even where
   the config dir holds a broker.cert. With keys and no user given, the
   user is the certificate's name (what the broker will take it for). */
static int
s_apply_keys (segq_client_t *self, const segq_client_options_t *options, char *err, size_t errlen)
{
    char key [4096] = "", cert [4096] = "";
    const char *env = getenv ("SEGQ_BROKER_KEY");
    if (options && options->broker_key)
        snprintf (key, sizeof key, "%s", options->broker_key);
    else if (env)
        snprintf (key, sizeof key, "%s", env);
    else if (segq_keys_config_dir (key, sizeof key - 16) == 0) {
        strcat (key, "/broker.cert");
        self->key_by_default = access (key, F_OK) == 0;
        if (!self->key_by_default)
            key [0] = 0;
    }
    if (!key [0])
        return SEGQ_OK; /* plain: only a loopback broker accepts it */
    int rc = SEGQ_OK;
    if (options && options->cert)
        snprintf (cert, sizeof cert, "%s", options->cert);
    else
        rc = segq_keys_default_cert (cert, sizeof cert, err, errlen);
    if (rc == SEGQ_OK)
        rc = segq_keys_apply_client (self->sock, cert, key, err, errlen);
    if (rc)
        return rc;
    if (!(self->broker_key = strdup (key)) || !(self->cert = strdup (cert))) {
        snprintf (err, errlen, "out of memory creating the client");
        return SEGQ_ENOMEM;
    }
    zcert_t *own = options && options->user ? NULL : zcert_load (cert);
    const char *name = own ? zcert_meta (own, "name") : NULL;
    if (name && *name) {
        free (self->user);
        self->user = strdup (name);
    }
    zcert_destroy (&own);
    if (!self->user) {
        snprintf (err, errlen, "out of memory creating the client");
        return SEGQ_ENOMEM;
    }
    return SEGQ_OK;
}

int
segq_client_connect (const segq_client_options_t *options, segq_client_t **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    const char *broker = options && options->broker ? options->broker : getenv ("SEGQ_BROKER");
    if (!broker || !*broker)
        broker = SEGQ_DEFAULT_BROKER;
    segq_client_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory creating the client");
        return SEGQ_ENOMEM;
    }
    self->broker = strdup (broker);
    self->user = options && options->user ? strdup (options->user) : s_os_user ();
    self->timeout_ms =
        options && options->timeout_ms > 0 ? options->timeout_ms : SEGQ_DEFAULT_TIMEOUT_MS;
    self->next_req = 1;
    char cache_path [4096] = "";
    if (options && options->hash_cache)
        snprintf (cache_path, sizeof cache_path, "%s", options->hash_cache);
    else if (segq__hash_cache_default_path (cache_path, sizeof cache_path) != 0)
        cache_path [0] = 0; /* too long a path: work without the cache */
    self->hash_cache_path = strdup (cache_path);
    self->pending = zhashx_new ();
    self->stash = zlistx_new ();
    self->resend = segq__resend_new ();
    /* A library must not take its host's Ctrl-C: CZMQ's handler, installed
       with the first socket, would only set a flag nobody reads. */
    zsys_handler_set (NULL);
    self->sock = zsock_new (ZMQ_DEALER);
    if (!self->broker || !self->user || !self->hash_cache_path || !self->pending || !self->stash
        || !self->resend || !self->sock) {
        segq_client_destroy (&self);
        snprintf (err, errlen, "out of memory creating the client");
        return SEGQ_ENOMEM;
    }
    zhashx_set_key_hasher (self->pending, s_id_hash);
    zhashx_set_key_comparator (self->pending, s_id_compare);
    zhashx_set_key_duplicator (self->pending, NULL);
    zhashx_set_key_destructor (self->pending, NULL);
    zlistx_set_destructor (self->stash, s_msg_destructor);
    /* Replies to a pipelined burst must never be dropped by a full queue,
       and a client that exits must not hang on unsent requests. */
    zsock_set_rcvhwm (self->sock, 0);
    zsock_set_sndhwm (self->sock, 0);
    zsock_set_linger (self->sock, 0);
    int krc = s_watch_handshakes (self, err, errlen);
    if (krc == SEGQ_OK)
        krc = s_apply_keys (self, options, err, errlen);
    if (krc) {
        segq_client_destroy (&self);
        return krc;
    }
    if (zsock_connect (self->sock, "%s", broker) != 0) {
        snprintf (err, errlen,
                  "invalid broker URL '%s' (expected e.g. tcp://127.0.0.1:5555; check --broker or "
                  "SEGQ_BROKER)",
                  broker);
        segq_client_destroy (&self);
        return SEGQ_EINVAL;
    }
    *out = self;
    return SEGQ_OK;
}

void
segq_client_destroy (segq_client_t **self_p)
{
    segq_client_t *self = *self_p;
    if (!self)
        return;
    if (self->monitor && self->sock)
        zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->sock);
    zhashx_destroy (&self->pending);
    zlistx_destroy (&self->stash);
    segq__resend_destroy (&self->resend);
    free (self->broker);
    free (self->broker_key);
    free (self->cert);
    free (self->user);
    free (self->hash_cache_path);
    segq__hash_cache_destroy (&self->hash_cache);
    free (self);
    *self_p = NULL;
}

segq__hash_cache_t *
segq__client_hash_cache (segq_client_t *self)
{
    if (!self->hash_cache && *self->hash_cache_path) {
        self->hash_cache = segq__hash_cache_open (self->hash_cache_path);
        if (!self->hash_cache)
            *self->hash_cache_path = 0; /* unusable: do not retry per file */
    }
    return self->hash_cache;
}

void
segq__client_count_upload (segq_client_t *self, uint64_t bytes)
{
    self->bytes_uploaded += bytes;
}

uint64_t
segq_client_bytes_uploaded (const segq_client_t *self)
{
    return self->bytes_uploaded;
}

const char *
segq_client_error (const segq_client_t *self)
{
    return self->error;
}

const char *
segq_client_broker (const segq_client_t *self)
{
    return self->broker;
}

const char *
segq_client_user (const segq_client_t *self)
{
    return self->user;
}

uint64_t
segq__client_next_req (segq_client_t *self)
{
    return self->next_req++;
}

int
segq__client_oom (segq_client_t *self)
{
    return segq__client_fail (self, SEGQ_ENOMEM, "out of memory");
}

segq_msg_t *
segq__client_new_request (segq_client_t *self, segq_msg_type_t type, uint64_t *req_id)
{
    segq_msg_t *msg = segq_msg_new (type);
    if (!msg)
        return NULL;
    uint64_t req = segq__client_next_req (self);
    if (req_id)
        *req_id = req;
    /* where the request id and the user go is the route table's to say */
    char **user = segq_msg_user (msg);
    if (segq_msg_set_req_id (msg, req) != SEGQ_OK || (user && !(*user = strdup (self->user))))
        segq_msg_destroy (&msg);
    return msg;
}

/* A request that opens a transfer, as encoded, sent and kept to be sent
   again should the broker have no transfer to spare (resend.h). */
static int
s_send_kept (segq_client_t *self, segq_msg_t **msg_p)
{
    uint64_t req_id = segq_msg_req_id (*msg_p);
    zmsg_t *frames = NULL;
    int rc = segq_msg_encode (*msg_p, &frames);
    segq_msg_destroy (msg_p);
    /* no room for the copy: it goes all the same, once (resend.h) */
    if (rc == SEGQ_OK)
        (void) segq__resend_keep (self->resend, req_id, frames);
    if (rc == SEGQ_OK && zmsg_send (&frames, self->sock) != 0)
        rc = SEGQ_EUNAVAIL;
    zmsg_destroy (&frames);
    return rc;
}

int
segq__client_send (segq_client_t *self, segq_msg_t **msg_p)
{
    segq_msg_type_t type = (*msg_p)->type;
    int rc = type == SEGQ_MSG_PUT || type == SEGQ_MSG_GET ? s_send_kept (self, msg_p)
                                                          : segq_msg_send (msg_p, self->sock, NULL);
    if (rc < 0)
        return segq__client_fail (self, rc, "could not send %s to the broker at %s: %s",
                                  segq_msg_type_name (type), self->broker, segq_strerror (rc));
    return SEGQ_OK;
}

uint64_t
segq__client_msg_transfer (const segq_msg_t *msg)
{
    switch (msg->type) {
    case SEGQ_MSG_CHUNK:
        return msg->u.chunk.transfer;
    case SEGQ_MSG_CREDIT:
        return msg->u.credit.transfer;
    case SEGQ_MSG_PUT_DONE:
        return msg->u.put_done.transfer;
    default:
        return 0;
    }
}

/* Turn an ERROR reply into the client's error. */
static int
s_error_reply (segq_client_t *self, const segq_msg_t *msg)
{
    const segq_error_msg_t *e = &msg->u.error;
    int code = e->code < 0 ? e->code : SEGQ_EPROTO;
    if (code == SEGQ_EVERSION) {
        char versions [128] = "";
        size_t used = 0;
        for (size_t i = 0; i < e->n_versions && used < sizeof versions - 16; i++)
            used += (size_t) snprintf (versions + used, sizeof versions - used, "%s%u",
                                       i ? ", " : "", e->versions [i]);
        return segq__client_fail (
            self, code,
            "the broker at %s speaks protocol version%s %s; this client speaks %d: "
            "upgrade the older of the two",
            self->broker, e->n_versions == 1 ? "" : "s", *versions ? versions : "(none listed)",
            SEGQ_PROTO_VERSION);
    }
    return segq__client_fail (self, code, "%s",
                              e->message && *e->message ? e->message : segq_strerror (code));
}

/* Reads the monitor's events (each: a frame of event u16 + value u32,
   then the endpoint). */
static void
s_monitor_read (segq_client_t *self)
{
    uint16_t event;
    uint32_t value;
    while ((zsock_events (self->monitor) & ZMQ_POLLIN)
           && s_handshake_event (self->monitor, &event, &value)) {
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            self->auth_status = value ? (int) value : 400;
        else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            self->handshake_ok = true;
        else if (event == ZMQ_EVENT_DISCONNECTED)
            self->dropped = self->heard;
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                 && value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
            self->mechanism_mismatch = true;
        else
            self->handshake_failures++;
    }
}

/* libzmq reconnects every 100 ms: this many handshakes broken off in a row
   are a broker that refuses this client, not a hiccup. Where keys are on
   one side only, the side that sees it first closes, and the other often
   sees a broken pipe instead of the mismatch: a plain client is then told
   keys are needed all the same, a keyed one asks the broker without keys. */
#define HANDSHAKE_TRIES 3

/* Whether the user has a certificate where the client looks for one
   (SEGQ_CERT, else the one in the config dir): its path into cert. */
static bool
s_own_cert (char *cert, size_t len)
{
    char err [512];
    return segq_keys_default_cert (cert, len, err, sizeof err) == SEGQ_OK
           && access (cert, R_OK) == 0;
}

/* Why a connection got no answer, if the handshake says: fills the
   client's error and returns its code, or 0. */
static int
s_handshake_error (segq_client_t *self)
{
    bool refused = self->handshake_failures >= HANDSHAKE_TRIES && !self->handshake_ok;
    if (refused && self->broker_key && !self->mechanism_mismatch && !self->auth_status)
        self->mechanism_mismatch = s_broker_without_keys (self);
    char own [4096];
    if (!self->broker_key && (self->mechanism_mismatch || refused) && s_own_cert (own, sizeof own))
        return segq__client_fail (self, SEGQ_EAUTH,
                                  "the broker at %s requires keys (CurveZMQ): your certificate %s "
                                  "is here, but not the broker's key: ask the broker's admin for "
                                  "its broker.cert, to put beside it (or give --broker-key FILE "
                                  "or SEGQ_BROKER_KEY)",
                                  self->broker, own);
    if (!self->broker_key && (self->mechanism_mismatch || refused))
        return segq__client_fail (self, SEGQ_EAUTH,
                                  "the broker at %s requires keys (CurveZMQ) and this client has "
                                  "none: ask the broker's admin for a certificate (make your key "
                                  "pair with `segq keygen` and send them the .cert it writes) and "
                                  "for the broker's broker.cert, to put in ~/.config/segq/ (see "
                                  "`segq keygen --help`)",
                                  self->broker);
    if (self->mechanism_mismatch)
        return segq__client_fail (self, SEGQ_EAUTH,
                                  "the broker at %s runs without keys, and this client would use "
                                  "CurveZMQ (broker key %s%s): for this broker give --no-keys (or "
                                  "set SEGQ_BROKER_KEY to nothing)",
                                  self->broker, self->broker_key,
                                  self->key_by_default ? ", found in your config dir" : "");
    if (self->auth_status && self->cert)
        return segq__client_fail (self, SEGQ_EAUTH,
                                  "the broker at %s refused your certificate %s (ZAP status %d): "
                                  "it is not (or no longer) in the broker's keys directory. Send "
                                  "that file (the public part, never the _secret one) to the "
                                  "broker's admin and ask them to add it to certs/",
                                  self->broker, self->cert, self->auth_status);
    if (refused)
        return segq__client_fail (self, SEGQ_EAUTH,
                                  "the broker at %s broke off the CurveZMQ handshake: the broker "
                                  "key %s is not this broker's. "
                                  "Get the broker's current broker.cert from its admin and give it "
                                  "with --broker-key or SEGQ_BROKER_KEY",
                                  self->broker, self->broker_key);
    return 0;
}

/* The error for a deadline passed in silence: a broker never heard from
 * is not reachable (with keys: perhaps the wrong key or an unknown
 * certificate); one heard from before did not answer in time. */
static int
s_no_answer (segq_client_t *self)
{
    if (!self->heard && self->broker_key)
        return segq__client_fail (
            self, SEGQ_EUNAVAIL,
            "broker not reachable at %s: is segqd running? The broker key %s may be "
            "wrong (ask the admin for the broker's broker.cert), or your certificate "
            "is not allowed there (ask the admin to add it)",
            self->broker, self->broker_key);
    if (!self->heard)
        return segq__client_fail (
            self, SEGQ_EUNAVAIL,
            "broker not reachable at %s (is segqd running? set SEGQ_BROKER or --broker)",
            self->broker);
    if (self->dropped)
        return segq__client_fail (self, SEGQ_ETIMEOUT,
                                  "the connection to the broker at %s broke while waiting for its "
                                  "answer (did segqd restart?): the answer is lost; run the "
                                  "command again (what the broker acknowledged before stays)",
                                  self->broker);
    return segq__client_fail (self, SEGQ_ETIMEOUT,
                              "no answer from the broker at %s within %d ms (is it "
                              "overloaded or stopped? retry with a longer --timeout)",
                              self->broker, self->timeout_ms);
}

/* Receive one message within the deadline. */
static int
s_recv (segq_client_t *self, int64_t deadline, segq_msg_t **out)
{
    *out = NULL;
    for (;;) {
        int64_t left = deadline - zclock_mono ();
        if (left < 0)
            left = 0;
        zmq_pollitem_t items [2] = {
            { zsock_resolve (self->sock), 0, ZMQ_POLLIN, 0 },
            { self->monitor ? zsock_resolve (self->monitor) : NULL, 0, ZMQ_POLLIN, 0 },
        };
        int n = zmq_poll (items, self->monitor ? 2 : 1, (long) left);
        if (n < 0) {
            if (zmq_errno () == EINTR && zsys_interrupted == 0)
                continue;
            return segq__client_fail (self, SEGQ_EUNAVAIL,
                                      "interrupted while waiting for the broker");
        }
        if (self->monitor && (items [1].revents & ZMQ_POLLIN)) {
            s_monitor_read (self);
            /* a refusal is final: no need to wait out the timeout */
            int code = self->heard ? 0 : s_handshake_error (self);
            if (code)
                return code;
            if (!(items [0].revents & ZMQ_POLLIN))
                continue;
        }
        if (n == 0 && !self->heard && self->monitor) {
            s_monitor_read (self);
            int code = s_handshake_error (self);
            if (code)
                return code;
        }
        if (n == 0)
            return s_no_answer (self);
        uint8_t version = 0;
        char err [256];
        segq_msg_t *msg = NULL;
        int rc = segq_msg_recv (self->sock, NULL, &msg, &version, err, sizeof err);
        self->heard = true;
        self->dropped = false;
        if (rc == SEGQ_EVERSION)
            return segq__client_fail (
                self, rc,
                "the broker at %s answered in protocol version %u; this client speaks %d: "
                "upgrade the older of the two",
                self->broker, version, SEGQ_PROTO_VERSION);
        if (rc < 0 || !msg)
            continue; /* a garbled message is dropped, as peers do */
        *out = msg;
        return SEGQ_OK;
    }
}

static bool
s_is_pending_submit (segq_client_t *self, const segq_msg_t *msg)
{
    if (msg->type != SEGQ_MSG_SUBMITTED && msg->type != SEGQ_MSG_ERROR)
        return false;
    uint64_t id = segq_msg_req_id (msg);
    return id && zhashx_lookup (self->pending, (void *) (uintptr_t) id) != NULL;
}

/* Receives one message within the deadline, sending again meanwhile the
   requests that are due (resend.h). */
static int
s_recv_resending (segq_client_t *self, int64_t deadline, segq_msg_t **out)
{
    for (;;) {
        int64_t due = segq__resend_due (self->resend);
        if (due >= deadline)
            return s_recv (self, deadline, out);
        /* only the broker's refusal makes a request due: it has been
           heard, so the wait ends on time, not on a handshake */
        int rc = s_recv (self, due, out);
        if (rc != SEGQ_ETIMEOUT)
            return rc;
        zmsg_t *again;
        while ((again = segq__resend_next (self->resend, zclock_mono ())))
            if (zmsg_send (&again, self->sock) != 0) {
                zmsg_destroy (&again);
                return segq__client_fail (self, SEGQ_EUNAVAIL,
                                          "could not send a request to the broker at %s again",
                                          self->broker);
            }
    }
}

/* Whether the message turns a request away for a moment (ELIMIT) that
   will be sent again: then the wait goes on. */
static bool
s_refused_for_now (segq_client_t *self, const segq_msg_t *msg, uint64_t req_id)
{
    return msg->type == SEGQ_MSG_ERROR && msg->u.error.code == SEGQ_ELIMIT
           && segq__resend_refused (self->resend, req_id, zclock_mono ());
}

int
segq__client_wait_for (segq_client_t *self, segq__client_match_t match, void *arg, int timeout_ms,
                       segq_msg_t **out)
{
    *out = NULL;
    int wait_ms = timeout_ms < 0 ? self->timeout_ms : timeout_ms;
    int64_t deadline = zclock_mono () + wait_ms;
    for (;;) {
        segq_msg_t *msg;
        int rc = s_recv_resending (self, deadline, &msg);
        if (rc < 0)
            return rc;
        uint64_t id = segq_msg_req_id (msg);
        bool mine = match (arg, id, segq__client_msg_transfer (msg))
                    || (msg->type == SEGQ_MSG_ERROR && id == 0);
        if (mine && s_refused_for_now (self, msg, id)) {
            segq_msg_destroy (&msg);
            deadline = zclock_mono () + wait_ms; /* the broker answers: it is there */
            continue;
        }
        if (mine) {
            segq__resend_forget (self->resend, id);
            if (msg->type == SEGQ_MSG_ERROR) {
                rc = s_error_reply (self, msg);
                segq_msg_destroy (&msg);
                return rc;
            }
            *out = msg;
            return SEGQ_OK;
        }
        if (s_is_pending_submit (self, msg)) {
            if (!zlistx_add_end (self->stash, msg)) {
                segq_msg_destroy (&msg);
                return segq__client_fail (self, SEGQ_ENOMEM, "out of memory keeping a reply");
            }
        } else
            segq_msg_destroy (&msg); /* late answer to a request that timed out */
    }
}

typedef struct {
    uint64_t req_id, transfer;
} s_awaited_t;

static bool
s_awaited (void *arg, uint64_t req_id, uint64_t transfer)
{
    const s_awaited_t *awaited = arg;
    return segq_msg_is_for (req_id, transfer, awaited->req_id, awaited->transfer);
}

int
segq__client_wait (segq_client_t *self, uint64_t req_id, uint64_t transfer, int timeout_ms,
                   segq_msg_t **out)
{
    s_awaited_t awaited = { req_id, transfer };
    return segq__client_wait_for (self, s_awaited, &awaited, timeout_ms, out);
}

/* Send a request and wait for its answer: the reply the route table
   names for its type (or an ERROR, which fails it), matched by its
   request id. */
int
segq__client_request (segq_client_t *self, segq_msg_t **req_p, segq_msg_t **reply)
{
    return segq__client_request_within (self, req_p, -1, reply);
}

int
segq__client_request_within (segq_client_t *self, segq_msg_t **req_p, int timeout_ms,
                             segq_msg_t **reply)
{
    segq_msg_route_t route;
    if (segq_msg_route ((*req_p)->type, &route) != SEGQ_OK || !route.reply) {
        segq_msg_destroy (req_p);
        return segq__client_fail (self, SEGQ_EINTERNAL, "no reply is defined for a request");
    }
    segq_msg_type_t type = route.reply;
    uint64_t req_id = segq_msg_req_id (*req_p);
    int rc = segq__client_send (self, req_p);
    if (rc < 0)
        return rc;
    rc = segq__client_wait (self, req_id, 0, timeout_ms, reply);
    if (rc < 0)
        return rc;
    if ((*reply)->type != type) {
        segq_msg_type_t got = (*reply)->type;
        segq_msg_destroy (reply);
        return segq__client_fail (self, SEGQ_EPROTO, "the broker answered %s where %s was expected",
                                  segq_msg_type_name (got), segq_msg_type_name (type));
    }
    return SEGQ_OK;
}

/* ---- submit ---- */

int
segq_client_submit_send (segq_client_t *self, segq_job_spec_t *spec, uint64_t *req_id_out)
{
    char err [512];
    int rc = segq_job_spec_validate (spec, err, sizeof err);
    if (rc < 0)
        return segq__client_fail (self, rc, "%s", err);
    rc = segq__spec_upload_inputs (self, spec);
    if (rc < 0)
        return rc;
    uint64_t req_id = segq__client_next_req (self);
    segq_msg_t *msg;
    rc = segq__spec_to_submit (spec, self->user, req_id, &msg);
    if (rc < 0)
        return segq__client_oom (self);
    rc = segq__client_send (self, &msg);
    if (rc < 0)
        return rc;
    if (zhashx_insert (self->pending, (void *) (uintptr_t) req_id, (void *) 1) != 0)
        return segq__client_fail (self, SEGQ_EINTERNAL, "duplicate request id %llu",
                                  (unsigned long long) req_id);
    *req_id_out = req_id;
    return SEGQ_OK;
}

size_t
segq_client_submits_pending (const segq_client_t *self)
{
    return zhashx_size (self->pending);
}

static void
s_fill_submit_reply (segq_client_t *self, segq_msg_t *msg, segq_submit_reply_t *reply)
{
    memset (reply, 0, sizeof *reply);
    reply->req_id = segq_msg_req_id (msg);
    zhashx_delete (self->pending, (void *) (uintptr_t) reply->req_id);
    if (msg->type == SEGQ_MSG_SUBMITTED) {
        snprintf (reply->job, sizeof reply->job, "%s", msg->u.submitted.job);
        reply->gpu_mem = msg->u.submitted.gpu_mem;
        reply->cpu_slots = msg->u.submitted.cpu_slots;
        return;
    }
    reply->code = s_error_reply (self, msg);
    snprintf (reply->message, sizeof reply->message, "%.*s", (int) sizeof reply->message - 1,
              self->error);
}

int
segq_client_submit_recv (segq_client_t *self, int timeout_ms, segq_submit_reply_t *reply)
{
    segq_msg_t *msg = zlistx_first (self->stash);
    if (msg) {
        zlistx_detach_cur (self->stash);
        s_fill_submit_reply (self, msg, reply);
        segq_msg_destroy (&msg);
        return SEGQ_OK;
    }
    if (zhashx_size (self->pending) == 0)
        return segq__client_fail (self, SEGQ_ENOENT, "no submit is waiting for its reply");
    int64_t deadline = zclock_mono () + (timeout_ms < 0 ? self->timeout_ms : timeout_ms);
    for (;;) {
        int rc = s_recv (self, deadline, &msg);
        if (rc < 0)
            return rc;
        if (msg->type == SEGQ_MSG_ERROR && msg->u.error.req_id == 0) {
            rc = s_error_reply (self, msg);
            segq_msg_destroy (&msg);
            return rc;
        }
        if (s_is_pending_submit (self, msg)) {
            s_fill_submit_reply (self, msg, reply);
            segq_msg_destroy (&msg);
            return SEGQ_OK;
        }
        segq_msg_destroy (&msg);
    }
}

int
segq_client_submit (segq_client_t *self, segq_job_spec_t *spec, char *job_out, size_t job_len)
{
    char err [512];
    int rc = segq_job_spec_validate (spec, err, sizeof err);
    if (rc < 0)
        return segq__client_fail (self, rc, "%s", err);
    rc = segq__spec_upload_inputs (self, spec);
    if (rc < 0)
        return rc;
    uint64_t req_id = segq__client_next_req (self);
    segq_msg_t *msg, *reply;
    rc = segq__spec_to_submit (spec, self->user, req_id, &msg);
    if (rc < 0)
        return segq__client_oom (self);
    rc = segq__client_request (self, &msg, &reply);
    if (rc < 0)
        return rc;
    snprintf (job_out, job_len, "%s", reply->u.submitted.job);
    segq_msg_destroy (&reply);
    return SEGQ_OK;
}

/* ---- status ---- */

static char **
s_strv_dup (const char *const *v, size_t n)
{
    char **copy = calloc (n ? n : 1, sizeof *copy);
    for (size_t i = 0; copy && i < n; i++)
        if (!(copy [i] = strdup (v [i]))) {
            while (i--)
                free (copy [i]);
            free (copy);
            return NULL;
        }
    return copy;
}

static int
s_status (segq_client_t *self, const segq_status_query_t *query, const char *cursor, int wait_ms,
          segq_job_list_t *out)
{
    memset (out, 0, sizeof *out);
    segq_msg_t *msg = segq__client_new_request (self, SEGQ_MSG_STATUS, NULL);
    if (!msg)
        return segq__client_oom (self);
    segq_status_t *s = &msg->u.status;
    bool oom = false;
    if (query && query->n_jobs) {
        s->jobs = s_strv_dup (query->jobs, query->n_jobs);
        s->n_jobs = s->jobs ? query->n_jobs : 0;
        oom |= !s->jobs;
    }
    if (query && query->user)
        oom |= !(s->user = strdup (query->user));
    if (cursor)
        oom |= !(s->cursor = strdup (cursor));
    s->state = query ? (int32_t) query->state : 0;
    s->limit = query ? query->limit : 0;
    s->detail = query ? query->detail : false;
    s->newest = query ? query->newest : false;
    s->wait_ms = wait_ms;
    if (oom) {
        segq_msg_destroy (&msg);
        return segq__client_oom (self);
    }
    segq_msg_t *reply;
    /* a waiting STATUS is answered up to wait_ms later than others */
    int rc = segq__client_request_within (self, &msg, self->timeout_ms + wait_ms, &reply);
    if (rc < 0)
        return rc;
    /* Take the arrays over from the reply. */
    segq_status_reply_t *r = &reply->u.status_reply;
    out->jobs = r->jobs;
    out->n_jobs = r->n_jobs;
    out->cursor = r->cursor;
    r->jobs = NULL;
    r->n_jobs = 0;
    r->cursor = NULL;
    segq_msg_destroy (&reply);
    return SEGQ_OK;
}

int
segq_client_status (segq_client_t *self, const segq_status_query_t *query, const char *cursor,
                    segq_job_list_t *out)
{
    return s_status (self, query, cursor, 0, out);
}

int
segq_client_status_wait (segq_client_t *self, const segq_status_query_t *query, int wait_ms,
                         segq_job_list_t *out)
{
    memset (out, 0, sizeof *out);
    if (!query || !query->n_jobs)
        return segq__client_fail (self, SEGQ_EINVAL,
                                  "a waiting status request names the jobs to wait for");
    if (wait_ms < 0 || wait_ms > SEGQ_STATUS_WAIT_MAX_MS)
        return segq__client_fail (self, SEGQ_EINVAL,
                                  "wait of %d ms: expected 0..%d (ask again to wait longer)",
                                  wait_ms, SEGQ_STATUS_WAIT_MAX_MS);
    return s_status (self, query, NULL, wait_ms, out);
}

int
segq_client_job (segq_client_t *self, const char *job, bool detail, segq_job_info_t *out)
{
    memset (out, 0, sizeof *out);
    segq_status_query_t q = { .jobs = &job, .n_jobs = 1, .detail = detail };
    segq_job_list_t list;
    int rc = segq_client_status (self, &q, NULL, &list);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < list.n_jobs; i++)
        if (strcmp (list.jobs [i].id, job) == 0) {
            *out = list.jobs [i];
            memset (&list.jobs [i], 0, sizeof list.jobs [i]);
            segq_job_list_clear (&list);
            return SEGQ_OK;
        }
    segq_job_list_clear (&list);
    return segq__client_fail (self, SEGQ_ENOENT,
                              "unknown job '%s' (see `segq status` for the jobs the broker knows)",
                              job);
}

void
segq_job_list_clear (segq_job_list_t *self)
{
    for (size_t i = 0; i < self->n_jobs; i++)
        segq_job_info_clear (&self->jobs [i]);
    free (self->jobs);
    free (self->cursor);
    memset (self, 0, sizeof *self);
}

/* ---- cancel ---- */

/* The per-job answers of CANCEL and HOLD, moved out of the reply. */
static int
s_job_outcomes (segq_client_t *self, segq_cancel_result_t *results, size_t n,
                segq_cancel_outcome_t **out, size_t *n_out)
{
    segq_cancel_outcome_t *outcomes = realloc (*out, (*n_out + n ? *n_out + n : 1) * sizeof **out);
    if (!outcomes)
        return segq__client_oom (self);
    *out = outcomes;
    for (size_t i = 0; i < n; i++) {
        outcomes [*n_out].job = results [i].job;
        outcomes [*n_out].code = results [i].code;
        outcomes [*n_out].message = results [i].message;
        results [i].job = NULL;
        results [i].message = NULL;
        ++*n_out;
    }
    return SEGQ_OK;
}

/* A request that names jobs (CANCEL, HOLD): the message with its list. */
static segq_msg_t *
s_jobs_request (segq_client_t *self, segq_msg_type_t type, const char *const *jobs, size_t n_jobs)
{
    segq_msg_t *msg = segq__client_new_request (self, type, NULL);
    char ***list = !msg ? NULL : type == SEGQ_MSG_HOLD ? &msg->u.hold.jobs : &msg->u.cancel.jobs;
    if (msg && (*list = s_strv_dup (jobs, n_jobs))) {
        if (type == SEGQ_MSG_HOLD)
            msg->u.hold.n_jobs = n_jobs;
        else
            msg->u.cancel.n_jobs = n_jobs;
    } else
        segq_msg_destroy (&msg);
    return msg;
}

/* A request about n jobs, its answer kept in arg. */
typedef int (s_jobs_part_fn) (segq_client_t *self, const char *const *jobs, size_t n, void *arg);

/* jobs in requests of at most SEGQ_JOB_LIST_MAX (a job array's may be
   100,000), one at least; stops at the first that fails. */
static int
s_in_parts (segq_client_t *self, const char *const *jobs, size_t n_jobs, s_jobs_part_fn *part,
            void *arg)
{
    size_t at = 0;
    do {
        size_t n = n_jobs - at < SEGQ_JOB_LIST_MAX ? n_jobs - at : SEGQ_JOB_LIST_MAX;
        int rc = part (self, jobs + at, n, arg);
        if (rc)
            return rc;
        at += n;
    } while (at < n_jobs);
    return SEGQ_OK;
}

/* What a CANCEL or HOLD asks, and the outcomes so far. */
typedef struct {
    segq_msg_type_t type;
    bool release; /* of HOLD */
    segq_cancel_outcome_t **out;
    size_t *n_out;
} jobs_act_t;

/* One CANCEL or HOLD: its outcomes appended to the act's. */
static int
s_jobs_act_part (segq_client_t *self, const char *const *jobs, size_t n_jobs, void *arg)
{
    jobs_act_t *act = arg;
    segq_msg_type_t type = act->type;
    bool release = act->release;
    segq_cancel_outcome_t **out = act->out;
    size_t *n_out = act->n_out;
    segq_msg_t *msg = s_jobs_request (self, type, jobs, n_jobs);
    if (!msg)
        return segq__client_oom (self);
    bool hold = type == SEGQ_MSG_HOLD;
    if (hold)
        msg->u.hold.release = release;
    segq_msg_t *reply;
    int rc = segq__client_request (self, &msg, &reply);
    if (rc < 0)
        return rc;
    rc = hold ? s_job_outcomes (self, reply->u.hold_reply.results, reply->u.hold_reply.n_results,
                                out, n_out)
              : s_job_outcomes (self, reply->u.cancel_reply.results,
                                reply->u.cancel_reply.n_results, out, n_out);
    segq_msg_destroy (&reply);
    return rc;
}

/* CANCEL or HOLD (release: of HOLD) of these jobs: one outcome each. */
static int
s_jobs_act (segq_client_t *self, segq_msg_type_t type, const char *const *jobs, size_t n_jobs,
            bool release, segq_cancel_outcome_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    jobs_act_t act = { type, release, out, n_out };
    int rc = s_in_parts (self, jobs, n_jobs, s_jobs_act_part, &act);
    if (rc) {
        segq_cancel_outcomes_free (out, *n_out);
        *n_out = 0;
    }
    return rc;
}

int
segq_client_cancel (segq_client_t *self, const char *const *jobs, size_t n_jobs,
                    segq_cancel_outcome_t **out, size_t *n_out)
{
    return s_jobs_act (self, SEGQ_MSG_CANCEL, jobs, n_jobs, false, out, n_out);
}

int
segq_client_hold (segq_client_t *self, const char *const *jobs, size_t n_jobs, bool release,
                  segq_cancel_outcome_t **out, size_t *n_out)
{
    return s_jobs_act (self, SEGQ_MSG_HOLD, jobs, n_jobs, release, out, n_out);
}

int
segq_client_usage (segq_client_t *self, const segq_usage_query_t *query, segq_usage_row_t **rows,
                   size_t *n_rows, double *half_life_s)
{
    *rows = NULL;
    *n_rows = 0;
    segq_msg_t *msg = segq__client_new_request (self, SEGQ_MSG_USAGE, NULL);
    if (msg && query->of_user && !(msg->u.usage.of_user = strdup (query->of_user)))
        segq_msg_destroy (&msg);
    if (!msg)
        return segq__client_oom (self);
    msg->u.usage.since = query->since;
    msg->u.usage.until = query->until;
    msg->u.usage.by = query->by ? query->by : SEGQ_USAGE_BY_USER;
    segq_msg_t *reply;
    int rc = segq__client_request (self, &msg, &reply);
    if (rc < 0)
        return rc;
    /* the rows move to the caller whole */
    *rows = reply->u.usage_reply.rows;
    *n_rows = reply->u.usage_reply.n_rows;
    if (half_life_s)
        *half_life_s = reply->u.usage_reply.half_life_s;
    reply->u.usage_reply.rows = NULL;
    reply->u.usage_reply.n_rows = 0;
    segq_msg_destroy (&reply);
    return SEGQ_OK;
}

void
segq_usage_rows_free (segq_usage_row_t **rows_p, size_t n)
{
    segq_usage_row_t *rows = *rows_p;
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++)
        free (rows [i].key);
    free (rows);
    *rows_p = NULL;
}

/* The results of a PURGE so far. */
typedef struct {
    segq_purge_result_t **out;
    size_t *n_out;
} purged_t;

/* One PURGE: its results appended to the others. */
static int
s_purge_part (segq_client_t *self, const char *const *jobs, size_t n_jobs, void *arg)
{
    segq_purge_result_t **out = ((purged_t *) arg)->out;
    size_t *n_out = ((purged_t *) arg)->n_out;
    segq_msg_t *msg = segq__client_new_request (self, SEGQ_MSG_PURGE, NULL);
    if (msg && (msg->u.purge.jobs = s_strv_dup (jobs, n_jobs)))
        msg->u.purge.n_jobs = n_jobs;
    else
        segq_msg_destroy (&msg);
    if (!msg)
        return segq__client_oom (self);
    segq_msg_t *reply;
    int rc = segq__client_request (self, &msg, &reply);
    if (rc < 0)
        return rc;
    /* the results move to the caller */
    segq_purge_reply_t *r = &reply->u.purge_reply;
    segq_purge_result_t *all = realloc (*out, (*n_out + r->n_results + 1) * sizeof **out);
    if (!all) {
        segq_msg_destroy (&reply);
        return segq__client_oom (self);
    }
    *out = all;
    memcpy (all + *n_out, r->results, r->n_results * sizeof *all);
    *n_out += r->n_results;
    free (r->results);
    r->results = NULL;
    r->n_results = 0;
    segq_msg_destroy (&reply);
    return SEGQ_OK;
}

int
segq_client_purge (segq_client_t *self, const char *const *jobs, size_t n_jobs,
                   segq_purge_result_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    purged_t purged = { out, n_out };
    int rc = s_in_parts (self, jobs, n_jobs, s_purge_part, &purged);
    if (rc) {
        segq_purge_results_free (out, *n_out);
        *n_out = 0;
    }
    return rc;
}

void
segq_purge_results_free (segq_purge_result_t **results_p, size_t n)
{
    segq_purge_result_t *r = *results_p;
    if (!r)
        return;
    for (size_t i = 0; i < n; i++) {
        free (r [i].job);
        free (r [i].message);
    }
    free (r);
    *results_p = NULL;
}

int
segq_client_backup (segq_client_t *self, const char *path, int timeout_ms, uint64_t *size_out,
                    uint64_t *jobs_out)
{
    segq_msg_t *msg = segq__client_new_request (self, SEGQ_MSG_BACKUP, NULL);
    if (msg && !(msg->u.backup.path = strdup (path)))
        segq_msg_destroy (&msg);
    if (!msg)
        return segq__client_oom (self);
    segq_msg_t *reply;
    int rc = segq__client_request_within (self, &msg, timeout_ms, &reply);
    if (rc < 0)
        return rc;
    if (size_out)
        *size_out = reply->u.backup_reply.size;
    if (jobs_out)
        *jobs_out = reply->u.backup_reply.jobs;
    segq_msg_destroy (&reply);
    return SEGQ_OK;
}

void
segq_cancel_outcomes_free (segq_cancel_outcome_t **outcomes_p, size_t n)
{
    segq_cancel_outcome_t *o = *outcomes_p;
    if (!o)
        return;
    for (size_t i = 0; i < n; i++) {
        free (o [i].job);
        free (o [i].message);
    }
    free (o);
    *outcomes_p = NULL;
}

/* ---- logs, workers, drain ---- */

int
segq_client_logs (segq_client_t *self, const char *job, uint64_t offset, uint32_t max_bytes,
                  segq_log_chunk_t *out)
{
    memset (out, 0, sizeof *out);
    segq_msg_t *msg = segq__client_new_request (self, SEGQ_MSG_LOGS, NULL);
    if (msg && !(msg->u.logs.job = strdup (job)))
        segq_msg_destroy (&msg);
    if (!msg)
        return segq__client_oom (self);
    msg->u.logs.offset = offset;
    msg->u.logs.max_bytes = max_bytes;
    segq_msg_t *reply;
    int rc = segq__client_request (self, &msg, &reply);
    if (rc < 0)
        return rc;
    segq_logs_reply_t *r = &reply->u.logs_reply;
    out->offset = r->offset;
    out->data = r->data;
    out->size = r->size;
    out->complete = r->complete;
    r->data = NULL;
    r->size = 0;
    segq_msg_destroy (&reply);
    return SEGQ_OK;
}

void
segq_log_chunk_clear (segq_log_chunk_t *self)
{
    free (self->data);
    memset (self, 0, sizeof *self);
}

/* A request that carries nothing but its req, and its reply of `type`. */
static int
s_request_bare (segq_client_t *self, segq_msg_type_t request, segq_msg_t **reply)
{
    segq_msg_t *msg = segq__client_new_request (self, request, NULL);
    if (!msg)
        return segq__client_oom (self);
    return segq__client_request (self, &msg, reply);
}

int
segq_client_workers (segq_client_t *self, segq_worker_info_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    segq_msg_t *reply;
    int rc = s_request_bare (self, SEGQ_MSG_WORKERS, &reply);
    if (rc < 0)
        return rc;
    *out = reply->u.workers_reply.workers;
    *n_out = reply->u.workers_reply.n_workers;
    reply->u.workers_reply.workers = NULL;
    reply->u.workers_reply.n_workers = 0;
    segq_msg_destroy (&reply);
    return SEGQ_OK;
}

void
segq_workers_free (segq_worker_info_t **workers_p, size_t n)
{
    segq_worker_info_t *w = *workers_p;
    if (!w)
        return;
    for (size_t i = 0; i < n; i++)
        segq_worker_info_clear (&w [i]);
    free (w);
    *workers_p = NULL;
}

int
segq_client_kinds (segq_client_t *self, segq_kind_info_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    segq_msg_t *reply;
    int rc = s_request_bare (self, SEGQ_MSG_KINDS, &reply);
    if (rc < 0)
        return rc;
    *out = reply->u.kinds_reply.kinds;
    *n_out = reply->u.kinds_reply.n_kinds;
    reply->u.kinds_reply.kinds = NULL;
    reply->u.kinds_reply.n_kinds = 0;
    segq_msg_destroy (&reply);
    return SEGQ_OK;
}

int
segq_client_priority (segq_client_t *self, const char *job, int32_t priority, int32_t *previous)
{
    segq_msg_t *msg = segq__client_new_request (self, SEGQ_MSG_PRIORITY, NULL);
    if (msg && !(msg->u.priority.job = strdup (job)))
        segq_msg_destroy (&msg);
    if (!msg)
        return segq__client_oom (self);
    msg->u.priority.priority = priority;
    segq_msg_t *reply;
    int rc = segq__client_request (self, &msg, &reply);
    if (rc < 0)
        return rc;
    if (previous)
        *previous = reply->u.priority_reply.previous;
    segq_msg_destroy (&reply);
    return SEGQ_OK;
}

int
segq_client_drain (segq_client_t *self, const char *node)
{
    segq_msg_t *msg = segq__client_new_request (self, SEGQ_MSG_DRAIN, NULL);
    if (msg && !(msg->u.drain.node = strdup (node)))
        segq_msg_destroy (&msg);
    if (!msg)
        return segq__client_oom (self);
    segq_msg_t *reply;
    int rc = segq__client_request (self, &msg, &reply);
    if (rc < 0)
        return rc;
    segq_msg_destroy (&reply);
    return SEGQ_OK;
}

/* ---- job arrays ---- */

bool
segq_array_id (const char *text)
{
    return text && strncmp (text, "a-", 2) == 0 && text [2];
}

static int
s_array_request (segq_client_t *self, segq_msg_t **msg, segq_array_info_t *out)
{
    segq_msg_t *reply;
    int rc = segq__client_request (self, msg, &reply);
    if (rc < 0)
        return rc;
    segq_array_reply_t *r = &reply->u.array_reply;
    out->array = r->array;
    out->owner = r->owner;
    out->created = r->created;
    out->jobs = r->jobs;
    out->n_jobs = r->n_jobs;
    memset (r, 0, sizeof *r); /* now out's */
    segq_msg_destroy (&reply);
    return SEGQ_OK;
}

int
segq_client_array_create (segq_client_t *self, const char *const *jobs, size_t n_jobs,
                          segq_array_info_t *out)
{
    memset (out, 0, sizeof *out);
    if (n_jobs == 0)
        return segq__client_fail (self, SEGQ_EINVAL, "a job array needs at least one job");
    segq_msg_t *msg = segq__client_new_request (self, SEGQ_MSG_ARRAY, NULL);
    if (msg && !(msg->u.array.jobs = calloc (n_jobs, sizeof *msg->u.array.jobs)))
        segq_msg_destroy (&msg);
    for (size_t i = 0; msg && i < n_jobs; i++) {
        msg->u.array.n_jobs = i + 1;
        if (!(msg->u.array.jobs [i] = strdup (jobs [i])))
            segq_msg_destroy (&msg);
    }
    if (!msg)
        return segq__client_oom (self);
    return s_array_request (self, &msg, out);
}

int
segq_client_array (segq_client_t *self, const char *array, segq_array_info_t *out)
{
    memset (out, 0, sizeof *out);
    segq_msg_t *msg = segq__client_new_request (self, SEGQ_MSG_ARRAY, NULL);
    if (msg && !(msg->u.array.array = strdup (array)))
        segq_msg_destroy (&msg);
    if (!msg)
        return segq__client_oom (self);
    return s_array_request (self, &msg, out);
}

void
segq_array_info_clear (segq_array_info_t *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->n_jobs; i++)
        free (info->jobs [i]);
    free (info->jobs);
    free (info->array);
    free (info->owner);
    memset (info, 0, sizeof *info);
}
