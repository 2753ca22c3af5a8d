/*  segq_msg_route.c: what each message means to the peers, one row a type.

    The codec's field tables (segq_msg.c) say how a body is laid out; this
    table says who may send it, which of its fields names the user it acts
    for, and what answers it. Where its request id and user sit is looked
    up in the field table by key, so the two tables cannot disagree about
    layout. The broker's authorisation step, its failed-turn answers and
    the client's request builder all read this one table instead of
    switching on the type. */
#include "segq_msg_fields.h"
#include "segq_proto.h"
#include <string.h>

#define USERS  (SEGQ_FROM_USER | SEGQ_FROM_ADMIN)
#define ANYONE (SEGQ_FROM_USER | SEGQ_FROM_ADMIN | SEGQ_FROM_WORKER)
#define BROKER SEGQ_FROM_BROKER
#define WORKER SEGQ_FROM_WORKER
/* a worker's message that only a registered worker may send */
#define SESSION (SEGQ_FROM_WORKER | SEGQ_FROM_SESSION)

typedef struct {
    unsigned senders;
    const char *user_key;  /* the field naming who it acts for, or NULL */
    segq_msg_type_t reply; /* what answers it when it succeeds, or 0 */
} route_row_t;

static const route_row_t s_routes [] = {
    [SEGQ_MSG_ERROR] = { BROKER, NULL, 0 },
    [SEGQ_MSG_HEARTBEAT] = { BROKER | SESSION, NULL, 0 },
    [SEGQ_MSG_BYE] = { SESSION, NULL, 0 },
    [SEGQ_MSG_SUBMIT] = { USERS, "user", SEGQ_MSG_SUBMITTED },
    [SEGQ_MSG_SUBMITTED] = { BROKER, NULL, 0 },
    [SEGQ_MSG_STATUS] = { USERS, "caller", SEGQ_MSG_STATUS_REPLY },
    [SEGQ_MSG_STATUS_REPLY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_CANCEL] = { USERS, "user", SEGQ_MSG_CANCEL_REPLY },
    [SEGQ_MSG_CANCEL_REPLY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_LOGS] = { USERS, "user", SEGQ_MSG_LOGS_REPLY },
    [SEGQ_MSG_LOGS_REPLY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_WORKERS] = { USERS, NULL, SEGQ_MSG_WORKERS_REPLY },
    [SEGQ_MSG_WORKERS_REPLY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_DRAIN] = { SEGQ_FROM_ADMIN, "user", SEGQ_MSG_DRAIN_REPLY },
    [SEGQ_MSG_DRAIN_REPLY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_PURGE] = { USERS, "user", SEGQ_MSG_PURGE_REPLY },
    [SEGQ_MSG_PURGE_REPLY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_BACKUP] = { SEGQ_FROM_ADMIN, "user", SEGQ_MSG_BACKUP_REPLY },
    [SEGQ_MSG_BACKUP_REPLY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_PRIORITY] = { USERS, "user", SEGQ_MSG_PRIORITY_REPLY },
    [SEGQ_MSG_PRIORITY_REPLY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_ARRAY] = { USERS, "user", SEGQ_MSG_ARRAY_REPLY },
    [SEGQ_MSG_ARRAY_REPLY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_REGISTER] = { WORKER, NULL, SEGQ_MSG_WELCOME },
    [SEGQ_MSG_WELCOME] = { BROKER, NULL, 0 },
    [SEGQ_MSG_ASSIGN] = { BROKER, NULL, 0 },
    [SEGQ_MSG_PROGRESS] = { SESSION, NULL, 0 },
    [SEGQ_MSG_LOG] = { SESSION, NULL, 0 },
    [SEGQ_MSG_RESULT] = { SESSION, NULL, SEGQ_MSG_RESULT_ACK },
    [SEGQ_MSG_RESULT_ACK] = { BROKER, NULL, 0 },
    [SEGQ_MSG_ABORT] = { BROKER, NULL, 0 },
    [SEGQ_MSG_DRAIN_WORKER] = { BROKER, NULL, 0 },
    [SEGQ_MSG_CHECKPOINT] = { SESSION, NULL, SEGQ_MSG_CHECKPOINT_ACK },
    [SEGQ_MSG_CHECKPOINT_ACK] = { BROKER, NULL, 0 },
    /* transfers: a worker's act for no user (the broker clears the field) */
    [SEGQ_MSG_PUT] = { ANYONE, "user", SEGQ_MSG_PUT_READY },
    [SEGQ_MSG_PUT_READY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_PUT_DONE] = { BROKER, NULL, 0 },
    [SEGQ_MSG_GET] = { ANYONE, "user", SEGQ_MSG_GET_READY },
    [SEGQ_MSG_GET_READY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_CHUNK] = { BROKER | ANYONE, NULL, 0 },
    [SEGQ_MSG_CREDIT] = { BROKER | ANYONE, NULL, 0 },
    [SEGQ_MSG_KINDS] = { USERS, NULL, SEGQ_MSG_KINDS_REPLY },
    [SEGQ_MSG_KINDS_REPLY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_MODEL] = { USERS, "user", SEGQ_MSG_MODEL_REPLY },
    [SEGQ_MSG_MODEL_REPLY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_HOLD] = { USERS, "user", SEGQ_MSG_HOLD_REPLY },
    [SEGQ_MSG_HOLD_REPLY] = { BROKER, NULL, 0 },
    [SEGQ_MSG_USAGE] = { USERS, "user", SEGQ_MSG_USAGE_REPLY },
    [SEGQ_MSG_USAGE_REPLY] = { BROKER, NULL, 0 },
};

/* Offset of the body field with this key, or -1. */
static ptrdiff_t
s_offset (const segq__struct_desc_t *desc, const char *key, uint8_t type)
{
    for (size_t i = 0; key && desc && i < desc->n_fields; i++)
        if (strcmp (desc->fields [i].key, key) == 0 && desc->fields [i].type == type)
            return desc->fields [i].offset;
    return -1;
}

int
segq_msg_route (segq_msg_type_t type, segq_msg_route_t *route)
{
    const segq__struct_desc_t *desc = segq__msg_desc (type);
    if (!desc || (unsigned) type >= sizeof s_routes / sizeof s_routes [0]
        || !s_routes [type].senders)
        return SEGQ_EPROTO;
    const route_row_t *row = &s_routes [type];
    route->senders = row->senders;
    route->reply = row->reply;
    route->req_offset = s_offset (desc, "req", SEGQ__F_U64);
    route->user_offset = s_offset (desc, row->user_key, SEGQ__F_STR);
    return SEGQ_OK;
}

uint64_t
segq_msg_req_id (const segq_msg_t *msg)
{
    segq_msg_route_t route;
    if (segq_msg_route (msg->type, &route) || route.req_offset < 0)
        return 0;
    uint64_t req;
    memcpy (&req, (const char *) &msg->u + route.req_offset, sizeof req);
    return req;
}

int
segq_msg_set_req_id (segq_msg_t *msg, uint64_t req)
{
    segq_msg_route_t route;
    if (segq_msg_route (msg->type, &route) || route.req_offset < 0)
        return SEGQ_EINVAL;
    memcpy ((char *) &msg->u + route.req_offset, &req, sizeof req);
    return SEGQ_OK;
}

bool
segq_msg_is_for (uint64_t req_id, uint64_t transfer, uint64_t mine_req, uint64_t mine_transfer)
{
    return (mine_req && req_id == mine_req) || (mine_transfer && transfer == mine_transfer);
}

char **
segq_msg_user (segq_msg_t *msg)
{
    segq_msg_route_t route;
    if (segq_msg_route (msg->type, &route) || route.user_offset < 0)
        return NULL;
    return (char **) ((char *) &msg->u + route.user_offset);
}
