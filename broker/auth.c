/*  auth.c: CurveZMQ + ZAP (zauth) for the broker, and the live key table. */
#include "auth.h"
#include "segq_error.h"
#include "segq_hashx.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every way the folder's certificates can change: a file created, removed,
   renamed in or out, written in place (IN_MODIFY at each write, so a reader
   that caught it half-written reads it again after the next write), or its
   mode changed; and the folder itself removed or renamed. */
#define S_WATCHED                                                                                  \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB  \
     | IN_DELETE_SELF | IN_MOVE_SELF)

struct segq__auth {
    zactor_t *zauth;
    char *certs_dir;
    zhashx_t *keys; /* z85 key -> segq__identity_t (owned) */
    int inotify;    /* events on certs_dir since the last read */
    int watch;      /* certs_dir's watch; -1 while the folder is gone */
    int verbose;
};

const char *
segq__role_name (segq__role_t role)
{
    return role == SEGQ__ROLE_ADMIN ? "admin" : role == SEGQ__ROLE_WORKER ? "worker" : "user";
}

static void
s_identity_destroy (void **item)
{
    segq__identity_t *id = *item;
    if (id) {
        free (id->key);
        free (id->name);
        free (id);
        *item = NULL;
    }
}

/* Builds a fresh table from certs_dir; a certificate without a name or
   with an unknown role is left out (and said so), never half-trusted. */
static zhashx_t *
s_load (segq__auth_t *self)
{
    zhashx_t *keys = segq_hashx_new ();
    if (!keys)
        return NULL;
    zhashx_set_destructor (keys, s_identity_destroy);
    DIR *dir = opendir (self->certs_dir);
    if (!dir) {
        fprintf (stderr, "segqd: cannot read the certificates in %s: %s\n", self->certs_dir,
                 strerror (errno));
        return keys;
    }
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        size_t len = strlen (entry->d_name);
        if (len < 6 || strcmp (entry->d_name + len - 5, ".cert") != 0)
            continue; /* secret files and others */
        char path [4096];
        snprintf (path, sizeof path, "%s/%s", self->certs_dir, entry->d_name);
        /* the public file itself: zcert_load would take the metadata of a
           NAME.cert_secret lying beside it, and an edit of NAME.cert would
           then change nothing */
        zconfig_t *cert = zconfig_load (path);
        if (!cert)
            continue;
        const char *key = zconfig_get (cert, "curve/public-key", "");
        const char *name = zconfig_get (cert, "metadata/name", NULL);
        const char *role = zconfig_get (cert, "metadata/role", NULL);
        uint8_t binary [32];
        segq__role_t r = SEGQ__ROLE_USER;
        bool ok =
            segq_user_valid (name) && role && strlen (key) == 40 && zmq_z85_decode (binary, key);
        if (ok && strcmp (role, "admin") == 0)
            r = SEGQ__ROLE_ADMIN;
        else if (ok && strcmp (role, "worker") == 0)
            r = SEGQ__ROLE_WORKER;
        else if (ok && strcmp (role, "user") != 0)
            ok = false;
        segq__identity_t *id = ok ? calloc (1, sizeof *id) : NULL;
        if (id) {
            id->key = strdup (key);
            id->name = strdup (name);
            id->role = r;
        }
        if (!ok)
            fprintf (stderr,
                     "segqd: %s ignored: it needs a curve public-key, a metadata name "
                     "(" SEGQ_USER_RULE ") and a role (user, admin or "
                     "worker); make certificates with `segqd keygen`\n",
                     path);
        else if (!id || !id->key || !id->name || zhashx_insert (keys, id->key, id) != 0) {
            if (id && id->key && zhashx_lookup (keys, id->key))
                fprintf (stderr, "segqd: %s repeats a key already allowed: ignored\n", path);
            void *item = id;
            s_identity_destroy (&item);
        }
        zconfig_destroy (&cert);
    }
    closedir (dir);
    return keys;
}

/* Drains the events queued since the last look: true if there were any
   (then the folder is read again) or if they overflowed. A watch that
   ended (the folder removed or renamed away) is dropped, to be set again
   on the path. */
static bool
s_changed (segq__auth_t *self)
{
    bool changed = false;
    char events [4096] __attribute__ ((aligned (__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read (self->inotify, events, sizeof events)) > 0) {
        changed = true;
        for (char *at = events; at < events + n;) {
            const struct inotify_event *event = (const struct inotify_event *) at;
            if (event->wd == self->watch
                && (event->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))) {
                inotify_rm_watch (self->inotify, self->watch);
                self->watch = -1;
            }
            at += sizeof *event + event->len;
        }
    }
    return changed || (n < 0 && errno != EAGAIN && errno != EINTR);
}

void
segq__auth_refresh (segq__auth_t *self)
{
    bool changed = s_changed (self);
    if (self->watch < 0) {
        /* the folder was gone: it may be back (a new one at the same path) */
        self->watch = inotify_add_watch (self->inotify, self->certs_dir, S_WATCHED | IN_ONLYDIR);
        if (self->watch < 0) {
            if (self->keys && zhashx_size (self->keys) > 0) {
                fprintf (stderr,
                         "segqd: %s is gone: no certificate is allowed until it is "
                         "back\n",
                         self->certs_dir);
                zhashx_purge (self->keys);
            }
            return;
        }
        changed = true;
    }
    if (self->keys && !changed)
        return;
    /* read after draining: a change made while reading leaves an event
       for the next look */
    zhashx_t *keys = s_load (self);
    if (!keys)
        return; /* out of memory: keep the last table */
    size_t before = self->keys ? zhashx_size (self->keys) : 0;
    zhashx_destroy (&self->keys);
    self->keys = keys;
    if (self->verbose && zhashx_size (keys) != before)
        fprintf (stderr, "segqd: %zu certificate(s) allowed from %s\n", zhashx_size (keys),
                 self->certs_dir);
}

const segq__identity_t *
segq__auth_identify (segq__auth_t *self, const char *key)
{
    return *key && self->keys ? zhashx_lookup (self->keys, key) : NULL;
}

bool
segq__auth_knows_user (segq__auth_t *self, const char *name)
{
    for (segq__identity_t *id = self->keys ? zhashx_first (self->keys) : NULL; id;
         id = zhashx_next (self->keys))
        if (id->role != SEGQ__ROLE_WORKER && strcmp (id->name, name) == 0)
            return true;
    return false;
}

int
segq__auth_recv (zsock_t *sock, zframe_t **peer, segq_msg_t **out, uint8_t *version,
                 uint64_t *req_id, char key [64], char address [64], char *err, size_t errlen)
{
    *out = NULL;
    *peer = NULL;
    *req_id = 0;
    key [0] = address [0] = 0;
    zmsg_t *msg = zmsg_recv (sock);
    if (!msg) {
        int error = zmq_errno ();
        snprintf (err, errlen, "receive failed: %s", zmq_strerror (error));
        return error == EAGAIN ? SEGQ_ETIMEOUT : SEGQ_EUNAVAIL;
    }
    *peer = zmsg_pop (msg);
    zframe_t *first = zmsg_first (msg);
    const char *user_id = first ? zframe_meta (first, "User-Id") : NULL;
    const char *from = first ? zframe_meta (first, "Peer-Address") : NULL;
    snprintf (key, 64, "%s", user_id ? user_id : "");
    snprintf (address, 64, "%s", from ? from : "");
    return segq_msg_decode_request (&msg, out, version, req_id, err, errlen);
}

/* The broker's key pair, which must hold its secret key; path is its
   public file. */
static zcert_t *
s_broker_cert (const char *path, const char *keys_dir, char *err, size_t errlen)
{
    zcert_t *cert = zcert_load (path);
    if (!cert) {
        snprintf (err, errlen,
                  "cannot load the broker's key pair %s (+ _secret): make it with "
                  "`segqd keygen --broker --out %s`",
                  path, keys_dir);
        return NULL;
    }
    if (zcert_secret_txt (cert) [0] == 0
        || strcmp (zcert_secret_txt (cert), "0000000000000000000000000000000000000000") == 0) {
        snprintf (err, errlen, "%s_secret is missing: the broker needs its secret key", path);
        zcert_destroy (&cert);
        return NULL;
    }
    return cert;
}

/* A table with no watch and no authenticator yet; NULL when out of memory. */
static segq__auth_t *
s_auth_alloc (const char *keys_dir, int verbose)
{
    char certs [4096];
    snprintf (certs, sizeof certs, "%s/certs", keys_dir);
    segq__auth_t *self = calloc (1, sizeof *self);
    if (!self || !(self->certs_dir = strdup (certs))) {
        free (self);
        return NULL;
    }
    self->verbose = verbose;
    self->inotify = self->watch = -1;
    return self;
}

/* Watches the folder of allowed certificates; no keys mode without it, or
   a revoked or demoted certificate would keep its rights. */
static int
s_watch_certs (segq__auth_t *self, char *err, size_t errlen)
{
    struct stat st;
    if (stat (self->certs_dir, &st) != 0 || !S_ISDIR (st.st_mode)) {
        snprintf (err, errlen,
                  "no folder of allowed certificates %s: create it and copy the "
                  "users' and nodes' .cert files there",
                  self->certs_dir);
        return -1;
    }
    self->inotify = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
    if (self->inotify < 0
        || (self->watch =
                inotify_add_watch (self->inotify, self->certs_dir, S_WATCHED | IN_ONLYDIR))
               < 0) {
        snprintf (err, errlen,
                  "cannot watch %s for changed certificates: %s (raise the "
                  "sysctls fs.inotify.max_user_instances and max_user_watches)",
                  self->certs_dir, strerror (errno));
        return -1;
    }
    return 0;
}

/* Starts zauth, which checks each client's key against the folder. */
static int
s_start_zauth (segq__auth_t *self, char *err, size_t errlen)
{
    self->zauth = zactor_new (zauth, NULL);
    if (!self->zauth) {
        snprintf (err, errlen, "cannot start the ZAP authenticator");
        return -1;
    }
    if (self->verbose > 1) {
        zstr_sendx (self->zauth, "VERBOSE", NULL);
        zsock_wait (self->zauth);
    }
    zstr_sendx (self->zauth, "CURVE", self->certs_dir, NULL);
    zsock_wait (self->zauth);
    return 0;
}

segq__auth_t *
segq__auth_new (const char *keys_dir, zsock_t *sock, int verbose, char *err, size_t errlen)
{
    char path [4096];
    snprintf (path, sizeof path, "%s/broker.cert", keys_dir);
    zcert_t *cert = s_broker_cert (path, keys_dir, err, errlen);
    if (!cert)
        return NULL;
    segq__auth_t *self = s_auth_alloc (keys_dir, verbose);
    if (!self) {
        zcert_destroy (&cert);
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    if (s_watch_certs (self, err, errlen) || s_start_zauth (self, err, errlen)) {
        zcert_destroy (&cert);
        segq__auth_destroy (&self);
        return NULL;
    }
    zcert_apply (cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, "segq");
    zcert_destroy (&cert);
    segq__auth_refresh (self);
    return self;
}

void
segq__auth_destroy (segq__auth_t **self_p)
{
    segq__auth_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->zauth);
    zhashx_destroy (&self->keys);
    if (self->inotify >= 0)
        close (self->inotify);
    free (self->certs_dir);
    free (self);
    *self_p = NULL;
}

bool
segq__auth_endpoint_local (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://", 6) == 0 || strncmp (endpoint, "inproc://", 9) == 0)
        return true;
    static const char *const local [] = { "tcp://127.",
                                          "tcp://localhost:", "tcp://[::1]:", "tcp://lo:", NULL };
    for (int i = 0; local [i]; i++)
        if (strncmp (endpoint, local [i], strlen (local [i])) == 0)
            return true;
    return false;
}
