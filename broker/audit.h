/*  audit.h: the broker's audit log, DATA/audit.log (private, append-only).

    One JSON object per line, for people and tools (jq) to answer "who
    read or removed what, when, from where": submits, fetches, purges,
    cancels, backups, and the refusals of each. Keys: time (UTC, ISO 8601),
    action, user, role, peer (the connection's address), key (its CURVE
    public key, with keys), job, outcome ("ok" or "refused"), and what the
    action needs (kind, inputs, name, hash, size, files, bytes, path,
    reason). Events that report a change to the database (submit, cancel,
    purge) are written once that change is committed; reads at once. The
    file is opened O_APPEND and never rewritten by segqd.
*/
#ifndef SEGQ_AUDIT_H
#define SEGQ_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct segq__audit segq__audit_t;

segq__audit_t *segq__audit_new (const char *data_dir, char *err, size_t errlen);
void segq__audit_destroy (segq__audit_t **self_p);

/* A new event with time, action, user, role and peer set (NULL ones left
   out); the caller adds its own keys, then writes it. NULL on out of
   memory. */
json_t *segq__audit_event (const char *action, const char *user, const char *role, const char *peer,
                           const char *key);

/* Takes the event. held: written by segq__audit_flush once the turn's
   transaction is committed (dropped by segq__audit_drop if it is not). */
void segq__audit_write (segq__audit_t *self, json_t **event_p, bool held);
void segq__audit_flush (segq__audit_t *self);
void segq__audit_drop (segq__audit_t *self);

#endif
