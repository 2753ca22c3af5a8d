/*  broker_access.c: who sent the message being handled, and whether they
    may send it.

    access.c holds the rule for data (who may read which job, array or
    artifact); this file holds the rule for messages, the other half of
    access control, and the handlers ask both. Which roles send each type
    is the protocol's route table (segq_msg_route.c); one step admits every
    message before its handler runs:

    - a type that no peer sends is refused;
    - with keys, the sender is the certificate its connection proved, looked
      up again for every message, so a certificate removed from the keys
      directory stops working at once; its role (user, admin, worker) must
      be among the type's senders, and a node registers only under its
      certificate's name (a pool certificate NAME-*: as NAME-N). The user a request names is
   replaced by the certificate's (a worker's transfers act for no user);
    - without keys (loopback only) there are no roles: a peer may send what
      any role may, and the names it sends are taken as they are;
    - a worker's session messages need a worker registered on that
      connection. */
#include "broker_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEERS   (SEGQ_FROM_USER | SEGQ_FROM_ADMIN | SEGQ_FROM_WORKER)
#define CLIENTS (SEGQ_FROM_USER | SEGQ_FROM_ADMIN)

const segq__identity_t *
segq__broker_sender (segq_broker_t *self)
{
    return self->auth ? segq__auth_identify (self->auth, self->sender_key) : NULL;
}

/* Whether the sender acts as a worker: registered, or holding a worker
   certificate. */
bool
segq__broker_sender_is_worker (segq_broker_t *self, worker_t *w)
{
    const segq__identity_t *id = segq__broker_sender (self);
    return w || (id && id->role == SEGQ__ROLE_WORKER);
}

/* Whether the sender is an admin (with keys); without keys there are no
   roles, and the admin priority band is open to every (loopback) client. */
bool
segq__broker_sender_is_admin (segq_broker_t *self)
{
    const segq__identity_t *id = segq__broker_sender (self);
    return id && id->role == SEGQ__ROLE_ADMIN;
}

/* Who the message being handled acts for, for the access rule: with keys
   the certificate says (segq__broker_admit has already put its name in the
   message's user field), without keys the name the client sent. */
segq__caller_t
segq__broker_caller (segq_broker_t *self, const char *claimed)
{
    segq__caller_t caller = { .user = claimed, .admin = segq__broker_sender_is_admin (self) };
    const segq__identity_t *id = segq__broker_sender (self);
    if (id)
        caller.user = id->name;
    return caller;
}

static const char *
s_address (segq_broker_t *self)
{
    return self->sender_address [0] ? self->sender_address : "?";
}

static unsigned
s_role_sender (segq__role_t role)
{
    return role == SEGQ__ROLE_ADMIN    ? SEGQ_FROM_ADMIN
           : role == SEGQ__ROLE_WORKER ? SEGQ_FROM_WORKER
                                       : SEGQ_FROM_USER;
}

/* Whether a worker certificate named `cert` may register as `node`: its
   own name; or, a pool certificate "STEM-*" (the worker jobs a batch
   system starts, `segq slurm-scale`: docs/slurm.md), STEM-N for a number
   N, one name per job. */
static bool
s_node_allowed (const char *cert, const char *node)
{
    size_t len = strlen (cert), stem = len - 1; /* "STEM-" */
    if (len < 3 || strcmp (cert + len - 2, "-*") != 0)
        return strcmp (node, cert) == 0;
    size_t digits = strncmp (node, cert, stem) == 0 ? strspn (node + stem, "0123456789") : 0;
    return digits && digits <= 19 && !node [stem + digits];
}

/* Why certificate id may not send msg, whose route is route (act: what an
   admin-only message does, in words): true with why filled in, or false. */
static bool
s_refused (const segq__identity_t *id, const segq_msg_route_t *route, const segq_msg_t *msg,
           const char *act, char *why, size_t len)
{
    if (id->role == SEGQ__ROLE_WORKER && !(route->senders & SEGQ_FROM_WORKER))
        snprintf (why, len,
                  "a worker certificate cannot send client requests: use a user "
                  "certificate (`segq keygen`)");
    else if (id->role != SEGQ__ROLE_WORKER && !(route->senders & CLIENTS))
        snprintf (why, len,
                  "only worker certificates may act as workers (make one with "
                  "`segqd keygen --worker NODE`)");
    else if (msg->type == SEGQ_MSG_REGISTER && msg->u.reg.node
             && !s_node_allowed (id->name, msg->u.reg.node))
        snprintf (why, len,
                  "a node registers under the name in its certificate (--node must "
                  "match; a pool certificate NAME-* takes NAME-N)");
    else if (!(route->senders & s_role_sender (id->role)))
        snprintf (why, len, "only an admin may %s", act ? act : segq_msg_type_name (msg->type));
    else
        return false;
    return true;
}

/* With keys: whether the certificate id may send the request, whose user
   field then names the certificate. */
static bool
s_admit_certificate (segq_broker_t *self, segq__request_t *req, const segq__identity_t *id,
                     const segq_msg_route_t *route, const char *act)
{
    segq_msg_t *msg = req->msg;
    char why [256];
    if (s_refused (id, route, msg, act, why, sizeof why)) {
        segq__broker_log (self, 0, req->peer_hex, "refused %s from %s (%s %s): %s",
                          segq_msg_type_name (msg->type), s_address (self),
                          segq__role_name (id->role), id->name, why);
        segq__broker_error (self, req->peer, segq_msg_req_id (msg), SEGQ_EPERM,
                            "permission denied for %s: %s", id->name, why);
        return false;
    }
    char **user = segq_msg_user (msg);
    if (user) {
        free (*user);
        *user = NULL; /* a worker's transfers act for no user */
        if (id->role != SEGQ__ROLE_WORKER && !(*user = strdup (id->name)))
            return false;
    }
    return true;
}

bool
segq__broker_admit (segq_broker_t *self, segq__request_t *req, const segq__dispatch_t *entry)
{
    segq_msg_t *msg = req->msg;
    const segq__identity_t *id = segq__broker_sender (self);
    if (self->auth && !id) {
        const char *key = self->sender_key [0] ? self->sender_key : "?";
        segq__broker_log (self, 0, req->peer_hex,
                          "refused %s from %s: key %s is not (or no "
                          "longer) allowed",
                          segq_msg_type_name (msg->type), s_address (self), key);
        segq__broker_error (self, req->peer, segq_msg_req_id (msg), SEGQ_EAUTH,
                            "your "
                            "certificate (key %s) is not allowed on this broker (unknown or "
                            "revoked): ask the admin to add your .cert to the broker's keys "
                            "directory (certs/)",
                            key);
        return false;
    }
    segq_msg_route_t route;
    if (!entry || segq_msg_route (msg->type, &route) || !(route.senders & PEERS)) {
        segq__broker_log (self, 0, req->peer_hex, "unexpected %s: dropped",
                          segq_msg_type_name (msg->type));
        segq__broker_error (self, req->peer, 0, SEGQ_EPROTO, "the broker does not accept %s",
                            segq_msg_type_name (msg->type));
        return false;
    }
    if (id && !s_admit_certificate (self, req, id, &route, entry->act))
        return false;
    /* without keys the name is the client's word: one that could not be a
       certificate's would break status's columns and `--with` lists */
    char **user = id ? NULL : segq_msg_user (msg);
    if (user && *user && !segq_user_valid (*user)) {
        segq__broker_error (self, req->peer, segq_msg_req_id (msg), SEGQ_EINVAL,
                            "user name '%s': a user name is " SEGQ_USER_RULE
                            " (segq takes it from SEGQ_USER, else your login name)",
                            *user);
        return false;
    }
    if ((route.senders & SEGQ_FROM_SESSION) && !req->worker) {
        /* a worker that never registered has nothing to leave */
        if (msg->type != SEGQ_MSG_BYE)
            segq__broker_error (self, req->peer, 0, SEGQ_ENOENT, "unknown worker: register");
        return false;
    }
    return true;
}
