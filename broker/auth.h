/*  auth.h: the broker's CurveZMQ authentication and who may do what.

    KEYS_DIR/broker.cert (+ _secret) is the broker's key pair;
    KEYS_DIR/certs/ holds the allowed public certificates, each with
    metadata "name" and "role" (user, admin, worker). zauth (ZAP) checks a
    key when a connection is made; since that happens only once, the
    broker also looks up the sender's key (ZAP User-Id, on every frame) in
    its own copy of certs/, re-read whenever anything in the folder changes
    (inotify: a file added, removed, renamed or rewritten in place).
*/
#ifndef SEGQ_BROKER_AUTH_H
#define SEGQ_BROKER_AUTH_H

#include <czmq.h>
#include "segq_proto.h"
#include <stdbool.h>
#include <stddef.h>

typedef enum { SEGQ__ROLE_USER, SEGQ__ROLE_ADMIN, SEGQ__ROLE_WORKER } segq__role_t;

typedef struct {
    char *key; /* z85 public key */
    char *name;
    segq__role_t role;
} segq__identity_t;

typedef struct segq__auth segq__auth_t;

/* Loads the keys, starts zauth and makes sock a CURVE server. */
segq__auth_t *segq__auth_new (const char *keys_dir, zsock_t *sock, int verbose, char *err,
                              size_t errlen);
void segq__auth_destroy (segq__auth_t **self_p);

/* Re-reads certs/ if anything in it changed since the last look (cheap:
   one read of the pending inotify events). */
void segq__auth_refresh (segq__auth_t *self);

/* The identity of a z85 public key; NULL if it is not (or no longer) allowed. */
const segq__identity_t *segq__auth_identify (segq__auth_t *self, const char *key);

/* segq_msg_recv that also gives the sender's key (ZAP User-Id) and address,
   which libzmq attaches to the message's frames (not to the routing id):
   key and address are "" when absent (no keys: the broker receives with
   it all the same). On a decode failure *req_id gets the request id the
   body still shows, 0 if none (segq_msg_decode_request). */
int segq__auth_recv (zsock_t *sock, zframe_t **peer, segq_msg_t **out, uint8_t *version,
                     uint64_t *req_id, char key [64], char address [64], char *err, size_t errlen);

/* Whether a certificate allowed now names user (or admin) `name`. */
bool segq__auth_knows_user (segq__auth_t *self, const char *name);

/* true for endpoints only this machine can reach (tcp loopback, ipc, inproc). */
bool segq__auth_endpoint_local (const char *endpoint);

const char *segq__role_name (segq__role_t role);

#endif
