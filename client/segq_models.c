/*  segq_models.c: the catalogue of trained models, from a client (MODEL). */
#include "client_internal.h"
#include <stdlib.h>
#include <string.h>

/* The MODEL message for one page of request (cursor: LIST's, or NULL). */
static segq_msg_t *
s_message (segq_client_t *self, const segq_model_request_t *request, const char *cursor)
{
    segq_msg_t *msg = segq__client_new_request (self, SEGQ_MSG_MODEL, NULL);
    if (!msg)
        return NULL;
    segq_model_t *m = &msg->u.model;
    m->op = request->op;
    m->lab = request->lab;
    const char *texts [] = { request->model, request->value, request->owner, request->tag, cursor };
    char **fields [] = { &m->model, &m->value, &m->owner, &m->tag, &m->cursor };
    bool ok = true;
    for (size_t i = 0; i < 5 && ok; i++)
        ok = !texts [i] || (*fields [i] = strdup (texts [i]));
    if (ok && request->n_users && !(m->users = calloc (request->n_users, sizeof *m->users)))
        ok = false;
    for (size_t i = 0; ok && i < request->n_users; i++)
        ok = (m->users [m->n_users++] = strdup (request->users [i])) != NULL;
    if (!ok)
        segq_msg_destroy (&msg);
    return msg;
}

/* Moves a reply's models to the end of *out. */
static int
s_take (segq_model_reply_t *reply, segq_model_info_t **out, size_t *n_out)
{
    if (!reply->n_models)
        return SEGQ_OK;
    segq_model_info_t *grown = realloc (*out, (*n_out + reply->n_models) * sizeof *grown);
    if (!grown)
        return SEGQ_ENOMEM;
    memcpy (grown + *n_out, reply->models, reply->n_models * sizeof *grown);
    *out = grown;
    *n_out += reply->n_models;
    free (reply->models);
    reply->models = NULL;
    reply->n_models = 0;
    return SEGQ_OK;
}

int
segq_client_model (segq_client_t *self, const segq_model_request_t *request,
                   segq_model_info_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    char *cursor = NULL;
    int rc = SEGQ_OK;
    do {
        segq_msg_t *msg = s_message (self, request, cursor);
        free (cursor);
        cursor = NULL;
        if (!msg) {
            rc = segq__client_oom (self);
            break;
        }
        segq_msg_t *reply;
        rc = segq__client_request (self, &msg, &reply);
        if (rc < 0)
            break;
        segq_model_reply_t *r = &reply->u.model_reply;
        rc = s_take (r, out, n_out);
        cursor = r->next;
        r->next = NULL;
        segq_msg_destroy (&reply);
        if (rc < 0)
            rc = segq__client_oom (self);
    } while (rc == SEGQ_OK && cursor);
    free (cursor);
    if (rc < 0)
        segq_models_free (out, *n_out);
    if (rc < 0)
        *n_out = 0;
    return rc;
}
