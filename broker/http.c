/*  http.c: see http.h.

    libmicrohttpd runs without a thread of its own: MHD_USE_EPOLL gives one
    epoll descriptor for the listening socket and every connection, which
    the broker's zloop polls like its ROUTER socket; a zloop timer covers
    what no descriptor announces (an idle connection's timeout, data TLS
    has already decrypted). Each wake-up is one MHD_run, after which the
    timer is set again from MHD_get_timeout (or sooner, for the header
    deadline below). Handlers run inside MHD_run,
    on the reactor's thread, between the broker's turns: no transaction is
    open then, and nothing else touches what they read. */
#include "broker_internal.h"
#include "http.h"
#include "http_secrets.h"
#include "metrics.h"
#include "status_page.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNECTIONS   64         /* open at once, all clients together (more wait) ... */
#define MAX_PER_ADDRESS   16         /* ... and from one address (more are closed) */
#define IDLE_TIMEOUT_S    10         /* a connection quiet this long is closed */
#define HEADER_DEADLINE_S 15         /* a request's headers, however slowly they come */
#define CONNECTION_MEMORY (32 << 10) /* a request's headers and buffers; more: 431 */
#define LISTEN_BACKLOG    64         /* connections waiting while MAX_CONNECTIONS are open */
#define PEM_MAX           (1 << 20)

/* An open connection, for the header deadline: libmicrohttpd's idle
   timeout restarts with every byte, so a peer sending one header byte
   every few seconds would hold its connection (and its address's share of
   MAX_PER_ADDRESS) for as long as it likes. */
typedef struct connection {
    struct connection *prev, *next;
    struct MHD_Connection *connection;
    int fd;
    int64_t awaiting_since; /* zclock_mono ms since it waits for a request's headers; 0: serving */
} connection_t;

struct segq__http {
    segq_broker_t *broker;
    zloop_t *loop;
    struct MHD_Daemon *daemon;
    zmq_pollitem_t poller; /* libmicrohttpd's epoll descriptor */
    bool polling;
    int timer; /* the zloop timer of its next timeout, -1 none */
    connection_t *connections; /* open ones, newest first */
    segq__http_tokens_t *tokens;
    char *cert, *key; /* PEM text; the key is wiped before it is freed */
    bool keys, loopback, tls;
    char local_user [SEGQ_USER_MAX + 1]; /* a tokenless viewer on loopback without keys, "" none */
    char url [320];
};

typedef struct {
    const char *path;
    bool prefix; /* path is a prefix: the rest is the handler's */
    segq__http_handler_fn *handle;
} route_t;

static const route_t s_routes [] = {
    { "/", false, segq__status_page_index },
    { "/index.html", false, segq__status_page_index },
    { "/metrics", false, segq__metrics_serve },
    { "/api/jobs", false, segq__status_page_jobs },
    { "/api/workers", false, segq__status_page_workers },
    { "/api/models", false, segq__status_page_models },
    { "/api/usage", false, segq__status_page_usage },
    { "/api/models/", true, segq__status_page_thumbnail },
};

/* ---- responses ---- */

void
segq__http_text (segq__http_response_t *res, unsigned status, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = NULL;
    int len = vsnprintf (NULL, 0, format, args);
    va_end (args);
    if (len >= 0 && (text = malloc ((size_t) len + 2))) {
        va_start (args, format);
        vsnprintf (text, (size_t) len + 1, format, args);
        va_end (args);
        text [len] = '\n';
        text [len + 1] = 0;
    }
    res->status = text ? status : 500;
    res->type = "text/plain; charset=utf-8";
    res->body = text;
    res->size = text ? (size_t) len + 1 : 0;
}

void
segq__http_json (segq__http_response_t *res, json_t *json)
{
    char *text = json ? json_dumps (json, JSON_COMPACT) : NULL;
    json_decref (json);
    if (!text) {
        segq__http_text (res, 500, "out of memory building the answer");
        return;
    }
    res->status = 200;
    res->type = "application/json";
    res->body = text;
    res->size = strlen (text);
}

const char *
segq__http_arg (const segq__http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value (req->connection, MHD_GET_ARGUMENT_KIND, name);
}

/* The headers every answer carries: nothing outside this origin is
   loaded or framed, and a ?token= in the page's address is never sent
   on as a referrer. */
static bool
s_headers (struct MHD_Response *r, const segq__http_response_t *res)
{
    bool html = strncmp (res->type, "text/html", 9) == 0;
    return MHD_add_response_header (r, "Content-Type", res->type) == MHD_YES
           && MHD_add_response_header (r, "Cache-Control", res->cache ? "max-age=60" : "no-store")
                  == MHD_YES
           && MHD_add_response_header (r, "X-Content-Type-Options", "nosniff") == MHD_YES
           && MHD_add_response_header (r, "Referrer-Policy", "no-referrer") == MHD_YES
           && (!html
               || MHD_add_response_header (r, "Content-Security-Policy",
                                           "default-src 'none'; script-src 'unsafe-inline'; "
                                           "style-src 'unsafe-inline'; img-src 'self'; "
                                           "connect-src 'self'; frame-ancestors 'none'")
                      == MHD_YES);
}

/* Hands res to libmicrohttpd (which frees the body and closes the file). */
static enum MHD_Result
s_queue (struct MHD_Connection *connection, segq__http_response_t *res)
{
    if (!res->status || !res->type)
        segq__http_text (res, 500, "the broker could not build this answer");
    struct MHD_Response *r = res->fd >= 0 ? MHD_create_response_from_fd64 (res->fd_size, res->fd)
                                          : MHD_create_response_from_buffer (res->size, res->body,
                                                                             MHD_RESPMEM_MUST_FREE);
    if (!r) {
        if (res->fd >= 0)
            close (res->fd);
        free (res->body);
        return MHD_NO; /* closes the connection: nothing else can be said */
    }
    enum MHD_Result ok =
        s_headers (r, res) ? MHD_queue_response (connection, res->status, r) : MHD_NO;
    MHD_destroy_response (r);
    return ok;
}

/* "http:ADDRESS:PORT" of a connection's peer, for the log. */
static void
s_peer (struct MHD_Connection *connection, char *peer, size_t len)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host [INET6_ADDRSTRLEN] = "?", port [16] = "?";
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    socklen_t size = sa && sa->sa_family == AF_INET6 ? sizeof (struct sockaddr_in6)
                                                     : sizeof (struct sockaddr_in);
    if (sa
        && getnameinfo (sa, size, host, sizeof host, port, sizeof port,
                        NI_NUMERICHOST | NI_NUMERICSERV)
               != 0)
        snprintf (host, sizeof host, "?");
    snprintf (peer, len, "http:%s:%s", host, port);
}

/* ---- the header deadline ---- */

/* A connection opened: its headers are awaited from now. */
static void
s_connection_opened (segq__http_t *self, struct MHD_Connection *connection, void **socket_context)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    connection_t *c = info ? calloc (1, sizeof *c) : NULL;
    if (!c) {
        /* no record, no deadline: not worth the risk of one held for ever */
        if (info)
            shutdown (info->connect_fd, SHUT_RDWR);
        return;
    }
    *c = (connection_t){ .next = self->connections,
                         .connection = connection,
                         .fd = info->connect_fd,
                         .awaiting_since = zclock_mono () };
    if (c->next)
        c->next->prev = c;
    self->connections = c;
    *socket_context = c;
}

static void
s_connection_closed (segq__http_t *self, connection_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        self->connections = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free (c);
}

static void
s_on_connection (void *cls, struct MHD_Connection *connection, void **socket_context,
                 enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        s_connection_opened (cls, connection, socket_context);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        s_connection_closed (cls, *socket_context);
        *socket_context = NULL;
    }
}

static connection_t *
s_connection_of (struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/* A request answered: a kept-alive connection waits for the next one's
   headers from now. */
static void
s_on_completed (void *cls, struct MHD_Connection *connection, void **request_context,
                enum MHD_RequestTerminationCode code)
{
    connection_t *c = s_connection_of (connection);
    if (c)
        c->awaiting_since = zclock_mono ();
}

/* Ms until the next connection's headers are overdue, -1 none waits. */
static int64_t
s_next_deadline (const segq__http_t *self)
{
    int64_t now = zclock_mono (), next = -1;
    for (const connection_t *c = self->connections; c; c = c->next) {
        int64_t left = c->awaiting_since + HEADER_DEADLINE_S * 1000 - now;
        if (c->awaiting_since && (next < 0 || left < next))
            next = left < 0 ? 0 : left;
    }
    return next;
}

/* Shuts the connections whose headers are overdue: the next run of
   libmicrohttpd reads the end of their stream and closes them. */
static void
s_shut_overdue (segq__http_t *self)
{
    int64_t now = zclock_mono ();
    for (connection_t *c = self->connections; c; c = c->next) {
        if (!c->awaiting_since || now - c->awaiting_since < HEADER_DEADLINE_S * 1000)
            continue;
        char peer [INET6_ADDRSTRLEN + 32];
        s_peer (c->connection, peer, sizeof peer);
        segq__broker_log (self->broker, 1, NULL,
                          "HTTP: closed %s: no whole request's headers in %d s", peer,
                          HEADER_DEADLINE_S);
        shutdown (c->fd, SHUT_RDWR);
        c->awaiting_since = 0;
    }
}

/* ---- a request ---- */

/* Who asks: 0 with *viewer set, or -1 for a token nobody holds. */
static int
s_viewer (segq__http_t *self, struct MHD_Connection *connection, segq__caller_t *viewer)
{
    static const char bearer [] = "Bearer ";
    const char *header = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Authorization");
    const char *token = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "token");
    if (header && strncmp (header, bearer, sizeof bearer - 1) == 0)
        token = header + sizeof bearer - 1;
    *viewer = (segq__caller_t){ .user = NULL, .admin = false };
    if (token && *token) {
        viewer->user = segq__http_tokens_user (self->tokens, token);
        return viewer->user ? 0 : -1;
    }
    /* without keys a name is a claim anyway: a local viewer is whom a
       `segq` beside segqd would claim to be; with keys, or from afar,
       only a token says who someone is */
    if (!self->keys && self->loopback && self->local_user [0])
        viewer->user = self->local_user;
    return 0;
}

static const route_t *
s_find_route (const char *path, const char **rest)
{
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes [0]; i++) {
        size_t n = strlen (s_routes [i].path);
        bool match = s_routes [i].prefix ? strncmp (path, s_routes [i].path, n) == 0 && path [n]
                                         : strcmp (path, s_routes [i].path) == 0;
        if (match) {
            *rest = s_routes [i].prefix ? path + n : "";
            return &s_routes [i];
        }
    }
    return NULL;
}

static void
s_route (segq__http_t *self, struct MHD_Connection *connection, const char *path, const char *peer,
         segq__http_response_t *res)
{
    segq__http_request_t req = { .path = path, .peer = peer, .connection = connection };
    const route_t *route = s_find_route (path, &req.rest);
    if (s_viewer (self, connection, &req.viewer) != 0) {
        segq__broker_log (self->broker, 0, NULL, "HTTP %s from %s refused: unknown token", path,
                          peer);
        segq__http_text (res, 401,
                         self->tokens ? "unknown token: ask the broker's admin for one"
                                      : "this broker has no tokens (segqd --http-tokens FILE)");
    } else if (!route)
        segq__http_text (res, 404,
                         "no page %s here: the status page is /, metrics /metrics, the API "
                         "/api/jobs, /api/workers, /api/models",
                         path);
    else
        route->handle (self->broker, &req, res);
}

static enum MHD_Result
s_on_request (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    segq__http_t *self = cls;
    segq__http_response_t res = { .fd = -1 };
    connection_t *c = s_connection_of (connection);
    if (c)
        c->awaiting_since = 0; /* its headers are in */
    char peer [INET6_ADDRSTRLEN + 32];
    s_peer (connection, peer, sizeof peer);
    if (strcmp (method, MHD_HTTP_METHOD_GET) != 0 && strcmp (method, MHD_HTTP_METHOD_HEAD) != 0)
        segq__http_text (&res, 405, "%s: this listener only reads (GET)", method);
    else
        s_route (self, connection, url, peer, &res);
    segq__broker_log (self->broker, 1, NULL, "HTTP %s %s from %s: %u", method, url, peer,
                      res.status);
    return s_queue (connection, &res);
}

/* ---- in the reactor ---- */

static int s_on_timer (zloop_t *loop, int timer_id, void *arg);

/* Connections open now. */
static unsigned
s_connections (segq__http_t *self)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}

/* Sets the timer to libmicrohttpd's next timeout or the next header
   deadline, whichever comes first (none: only its descriptor will wake
   it). At least 1 ms, so that a run that asks for
   another at once lets the broker's own events in between. A run that
   closed connections asks for one more: at MAX_CONNECTIONS the listening
   socket leaves the epoll set, and only a run puts it back, so without
   that run a client waiting in the listen queue would wait for nothing. */
static void
s_schedule (segq__http_t *self, bool closed)
{
    if (self->timer >= 0)
        zloop_timer_end (self->loop, self->timer);
    self->timer = -1;
    MHD_UNSIGNED_LONG_LONG ms = 0;
    bool wanted = MHD_get_timeout (self->daemon, &ms) == MHD_YES;
    int64_t deadline = s_next_deadline (self);
    if (deadline >= 0 && (!wanted || (MHD_UNSIGNED_LONG_LONG) deadline < ms)) {
        ms = (MHD_UNSIGNED_LONG_LONG) deadline;
        wanted = true;
    }
    if (closed)
        ms = 0;
    else if (!wanted)
        return;
    size_t delay = ms < 1 ? 1 : ms > IDLE_TIMEOUT_S * 1000 ? IDLE_TIMEOUT_S * 1000 : (size_t) ms;
    self->timer = zloop_timer (self->loop, delay, 1, s_on_timer, self);
    if (self->timer < 0)
        segq__broker_log (self->broker, 0, NULL,
                          "HTTP: cannot set a timer: idle connections may stay open until "
                          "their next request");
}

static void
s_run (segq__http_t *self)
{
    unsigned before = s_connections (self);
    s_shut_overdue (self);
    if (MHD_run (self->daemon) != MHD_YES)
        segq__broker_log (self->broker, 1, NULL, "HTTP: a run of libmicrohttpd failed");
    s_schedule (self, s_connections (self) < before);
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    segq__http_t *self = arg;
    self->timer = -1; /* it fired once and is gone */
    s_run (self);
    return 0;
}

static int
s_on_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_run (arg);
    return 0;
}

/* ---- start and stop ---- */

/* "ADDR:PORT" or "[ADDR]:PORT" into addr (a name resolves to its first
   address). */
static int
s_parse_listen (const char *listen, struct sockaddr_storage *addr, char *err, size_t errlen)
{
    char host [256];
    snprintf (host, sizeof host, "%s", listen);
    char *colon = strrchr (host, ':'), *start = host;
    if (host [0] == '[') {
        char *close = strchr (host, ']');
        colon = close && close [1] == ':' ? close + 1 : NULL;
        if (close)
            *close = 0;
        start = host + 1;
    }
    char *end = NULL;
    long port = colon ? strtol (colon + 1, &end, 10) : -1;
    if (!colon || !end || *end || end == colon + 1 || port < 0 || port > 65535)
        return segq_fail (err, errlen, SEGQ_EINVAL,
                          "--http %s: expected ADDRESS:PORT (127.0.0.1:9464, [::1]:9464)", listen);
    *colon = 0;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *found;
    int rc = getaddrinfo (start, colon + 1, &hints, &found);
    if (rc != 0)
        return segq_fail (err, errlen, SEGQ_EINVAL, "--http %s: %s", listen, gai_strerror (rc));
    memcpy (addr, found->ai_addr, found->ai_addrlen);
    freeaddrinfo (found);
    return 0;
}

static bool
s_is_loopback (const struct sockaddr_storage *addr)
{
    if (addr->ss_family == AF_INET)
        return (ntohl (((const struct sockaddr_in *) addr)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *) addr)->sin6_addr;
    return addr->ss_family == AF_INET6
           && (IN6_IS_ADDR_LOOPBACK (a6) || (IN6_IS_ADDR_V4MAPPED (a6) && a6->s6_addr [12] == 127));
}

/* TLS's PEM files and the tokens, and whether this address may be used
   with what is configured. */
static int
s_load (segq__http_t *self, const segq__http_config_t *c, char *err, size_t errlen)
{
    if (!c->cert != !c->key)
        return segq_fail (err, errlen, SEGQ_EINVAL,
                          "--http-cert and --http-key go together: give both for TLS, or "
                          "neither");
    if (!self->loopback && (!c->cert || !c->tokens))
        return segq_fail (err, errlen, SEGQ_EINVAL,
                          "refusing to serve HTTP on %s without TLS and access tokens: anyone "
                          "who reaches it could watch the queue. Give --http-cert FILE, "
                          "--http-key FILE and --http-tokens FILE (docs/usage.md, \"HTTP metrics "
                          "and status page\"), or listen on loopback (--http 127.0.0.1:9464)",
                          c->listen);
    if (c->cert && !MHD_is_feature_supported (MHD_FEATURE_TLS))
        return segq_fail (err, errlen, SEGQ_EUNSUPPORTED,
                          "this libmicrohttpd was built without TLS: --http-cert cannot be used");
    self->tls = c->cert != NULL;
    if (c->cert
        && (!(self->cert =
                  segq__http_read_file (c->cert, "--http-cert", PEM_MAX, false, err, errlen))
            || !(self->key =
                     segq__http_read_file (c->key, "--http-key", PEM_MAX, true, err, errlen))))
        return SEGQ_EINVAL;
    if (c->tokens && !(self->tokens = segq__http_tokens_load (c->tokens, err, errlen)))
        return SEGQ_EINVAL;
    return 0;
}

static void
s_mhd_log (void *arg, const char *format, va_list args)
{
    segq__http_t *self = arg;
    char text [512];
    vsnprintf (text, sizeof text, format, args);
    text [strcspn (text, "\n")] = 0;
    /* peers that probe or drop connections are routine: not at level 0 */
    segq__broker_log (self->broker, 1, NULL, "HTTP: %s", text);
}

static int
s_start_daemon (segq__http_t *self, struct sockaddr_storage *addr, const char *listen, char *err,
                size_t errlen)
{
    struct MHD_OptionItem options [14] = {
        /* first, or libmicrohttpd writes what the options say to stderr itself */
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t) s_mhd_log, self },
        { MHD_OPTION_SOCK_ADDR, 0, addr },
        { MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS, NULL },
        { MHD_OPTION_PER_IP_CONNECTION_LIMIT, MAX_PER_ADDRESS, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S, NULL },
        { MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL },
        /* no SO_REUSEPORT: a second segqd given the port must fail, not
           take half of the page's requests (and the tokens sent with them) */
        { MHD_OPTION_LISTEN_BACKLOG_SIZE, LISTEN_BACKLOG, NULL },
        { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t) s_on_connection, self },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) s_on_completed, self },
    };
    size_t n = 9;
    if (self->tls) {
        options [n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, self->key };
        options [n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, self->cert };
    }
    options [n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (self->tls ? MHD_USE_TLS : 0)
                     | (addr->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    self->daemon = MHD_start_daemon (flags, 0, NULL, NULL, s_on_request, self, MHD_OPTION_ARRAY,
                                     options, MHD_OPTION_END);
    if (!self->daemon)
        return segq_fail (err, errlen, SEGQ_EIO,
                          "cannot serve HTTP on %s (is the port taken, or %s not an address of "
                          "this machine?%s)",
                          listen, listen,
                          self->tls ? " Or are the certificate and key not a pair?" : "");
    return 0;
}

/* The zloop poller, and the address as bound (port 0 was a free one). */
static int
s_attach (segq__http_t *self, char *err, size_t errlen)
{
    const union MHD_DaemonInfo *epoll =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *listen =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage bound;
    socklen_t size = sizeof bound;
    char host [INET6_ADDRSTRLEN], port [16];
    if (!epoll || !listen || getsockname (listen->listen_fd, (struct sockaddr *) &bound, &size) != 0
        || getnameinfo ((struct sockaddr *) &bound, size, host, sizeof host, port, sizeof port,
                        NI_NUMERICHOST | NI_NUMERICSERV)
               != 0)
        return segq_fail (err, errlen, SEGQ_EIO, "HTTP: cannot read libmicrohttpd's descriptors");
    bool v6 = bound.ss_family == AF_INET6;
    snprintf (self->url, sizeof self->url, "%s://%s%s%s:%s", self->tls ? "https" : "http",
              v6 ? "[" : "", host, v6 ? "]" : "", port);
    self->poller = (zmq_pollitem_t){ .socket = NULL, .fd = epoll->epoll_fd, .events = ZMQ_POLLIN };
    if (zloop_poller (self->loop, &self->poller, s_on_ready, self) != 0)
        return segq_fail (err, errlen, SEGQ_EIO, "HTTP: cannot poll libmicrohttpd's descriptor");
    self->polling = true;
    zloop_poller_set_tolerant (self->loop, &self->poller);
    return 0;
}

static void
s_local_user (segq__http_t *self)
{
    const char *claimed = getenv ("SEGQ_USER");
    struct passwd *pw = claimed && *claimed ? NULL : getpwuid (geteuid ());
    const char *name = claimed && *claimed ? claimed : pw ? pw->pw_name : NULL;
    if (name && segq_user_valid (name))
        snprintf (self->local_user, sizeof self->local_user, "%s", name);
}

int
segq__http_new (segq_broker_t *broker, zloop_t *loop, const segq__http_config_t *config,
                segq__http_t **out, char *err, size_t errlen)
{
    *out = NULL;
    segq__http_t *self = calloc (1, sizeof *self);
    if (!self)
        return segq_fail (err, errlen, SEGQ_ENOMEM, "HTTP: out of memory");
    *self = (segq__http_t){ .broker = broker, .loop = loop, .timer = -1, .keys = config->keys };
    struct sockaddr_storage addr = { 0 };
    int rc = MHD_is_feature_supported (MHD_FEATURE_EPOLL)
                 ? s_parse_listen (config->listen, &addr, err, errlen)
                 : segq_fail (err, errlen, SEGQ_EUNSUPPORTED,
                              "this libmicrohttpd was built without epoll");
    if (rc == 0) {
        self->loopback = s_is_loopback (&addr);
        rc = s_load (self, config, err, errlen);
    }
    if (rc == 0)
        rc = s_start_daemon (self, &addr, config->listen, err, errlen);
    if (rc == 0)
        rc = s_attach (self, err, errlen);
    if (rc) {
        segq__http_destroy (&self);
        return rc;
    }
    s_local_user (self);
    s_schedule (self, false);
    *out = self;
    return 0;
}

void
segq__http_destroy (segq__http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq__http_t *self = *self_p;
    if (self->polling)
        zloop_poller_end (self->loop, &self->poller);
    if (self->timer >= 0)
        zloop_timer_end (self->loop, self->timer);
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    segq__http_tokens_destroy (&self->tokens);
    if (self->key)
        memset (self->key, 0, strlen (self->key));
    free (self->key);
    free (self->cert);
    free (self);
    *self_p = NULL;
}

const char *
segq__http_url (const segq__http_t *self)
{
    return self->url;
}
