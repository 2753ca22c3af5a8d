/*  resend.c: requests the broker turned away for a moment, sent again
    (resend.h). A few entries at most: a plain array, searched through. */
#include "resend.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t req_id; /* 0: a free entry */
    zmsg_t *request;
    int64_t refused_since; /* 0 until refused */
    int64_t due;           /* 0 unless to be sent again */
    int64_t pause_ms;      /* the next pause */
    uint64_t order;        /* when kept: the lowest is the oldest */
} entry_t;

struct segq__resend_t {
    entry_t entries [SEGQ__RESEND_KEPT];
    uint64_t kept;
};

segq__resend_t *
segq__resend_new (void)
{
    return calloc (1, sizeof (segq__resend_t));
}

static void
s_entry_clear (entry_t *entry)
{
    zmsg_destroy (&entry->request);
    memset (entry, 0, sizeof *entry);
}

void
segq__resend_destroy (segq__resend_t **self_p)
{
    segq__resend_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < SEGQ__RESEND_KEPT; i++)
        s_entry_clear (&self->entries [i]);
    free (self);
    *self_p = NULL;
}

static entry_t *
s_find (segq__resend_t *self, uint64_t req_id)
{
    for (size_t i = 0; req_id && i < SEGQ__RESEND_KEPT; i++)
        if (self->entries [i].req_id == req_id)
            return &self->entries [i];
    return NULL;
}

/* A free entry, or the oldest's made free. */
static entry_t *
s_slot (segq__resend_t *self)
{
    entry_t *oldest = &self->entries [0];
    for (size_t i = 0; i < SEGQ__RESEND_KEPT; i++) {
        entry_t *entry = &self->entries [i];
        if (!entry->req_id)
            return entry;
        if (entry->order < oldest->order)
            oldest = entry;
    }
    s_entry_clear (oldest);
    return oldest;
}

int
segq__resend_keep (segq__resend_t *self, uint64_t req_id, zmsg_t *request)
{
    zmsg_t *copy = zmsg_dup (request);
    if (!copy)
        return -1;
    entry_t *entry = s_slot (self);
    *entry = (entry_t){ .req_id = req_id, .request = copy, .order = ++self->kept };
    return 0;
}

void
segq__resend_forget (segq__resend_t *self, uint64_t req_id)
{
    entry_t *entry = s_find (self, req_id);
    if (entry)
        s_entry_clear (entry);
}

bool
segq__resend_refused (segq__resend_t *self, uint64_t req_id, int64_t now)
{
    entry_t *entry = s_find (self, req_id);
    if (!entry)
        return false;
    if (!entry->refused_since) {
        entry->refused_since = now;
        entry->pause_ms = SEGQ__RESEND_FIRST_MS;
    }
    if (now - entry->refused_since >= SEGQ__RESEND_FOR_MS) {
        s_entry_clear (entry);
        return false;
    }
    entry->due = now + entry->pause_ms;
    entry->pause_ms =
        entry->pause_ms * 2 < SEGQ__RESEND_MOST_MS ? entry->pause_ms * 2 : SEGQ__RESEND_MOST_MS;
    return true;
}

int64_t
segq__resend_due (const segq__resend_t *self)
{
    int64_t first = INT64_MAX;
    for (size_t i = 0; i < SEGQ__RESEND_KEPT; i++) {
        const entry_t *entry = &self->entries [i];
        if (entry->due && entry->due < first)
            first = entry->due;
    }
    return first;
}

zmsg_t *
segq__resend_next (segq__resend_t *self, int64_t now)
{
    for (size_t i = 0; i < SEGQ__RESEND_KEPT; i++) {
        entry_t *entry = &self->entries [i];
        if (entry->due && entry->due <= now) {
            entry->due = 0;
            return zmsg_dup (entry->request);
        }
    }
    return NULL;
}
