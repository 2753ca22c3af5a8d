/*  raw_peer.c: see raw_peer.h. */
#include "raw_peer.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

segq_msg_t *
raw_expect (zsock_t *sock, segq_msg_type_t type)
{
    char seen [512] = "";
    for (int64_t until = zclock_mono () + 10000; zclock_mono () < until;) {
        segq_msg_t *msg = NULL;
        char err [256];
        if (segq_msg_recv (sock, NULL, &msg, NULL, err, sizeof err) != 0)
            continue;
        if (msg->type == type)
            return msg;
        if (msg->type == SEGQ_MSG_ERROR)
            snprintf (seen, sizeof seen, " (an ERROR came: %d %s)", msg->u.error.code,
                      msg->u.error.message ? msg->u.error.message : "");
        segq_msg_destroy (&msg);
    }
    cr_assert_fail ("no %s in 10 s%s", segq_msg_type_name (type), seen);
    return NULL;
}

zsock_t *
raw_worker (harness_t *self, const char *node, const char *kind)
{
    zsock_t *sock = zsock_new_dealer (self->endpoint);
    cr_assert_not_null (sock);
    zsock_set_rcvtimeo (sock, 1000);
    segq_msg_t *reg = segq_msg_new (SEGQ_MSG_REGISTER);
    cr_assert_not_null (reg);
    reg->u.reg.node = strdup (node);
    reg->u.reg.cpu_slots = 1;
    reg->u.reg.n_kinds = 1;
    reg->u.reg.kinds = calloc (1, sizeof (char *));
    cr_assert_not_null (reg->u.reg.kinds);
    reg->u.reg.kinds [0] = strdup (kind);
    cr_assert_eq (segq_msg_send (&reg, sock, NULL), 0);
    segq_msg_t *welcome = raw_expect (sock, SEGQ_MSG_WELCOME);
    segq_msg_destroy (&welcome);
    return sock;
}
