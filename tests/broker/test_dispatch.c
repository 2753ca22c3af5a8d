/*  The broker's dispatch table against the protocol's route table: the
    broker handles every type a peer may send and no other, and every
    message only an admin may send says, in words, what it does (its
    refusal reads "only an admin may ..."). */
#include <criterion/criterion.h>
#include "broker_internal.h"

#define MAX_TYPE 256
#define PEERS    (SEGQ_FROM_USER | SEGQ_FROM_ADMIN | SEGQ_FROM_WORKER)

Test (dispatch, a_type_has_a_handler_if_and_only_if_a_peer_may_send_it)
{
    size_t handled = 0;
    for (int type = 1; type < MAX_TYPE; type++) {
        segq_msg_route_t route;
        bool sent =
            segq_msg_route ((segq_msg_type_t) type, &route) == 0 && (route.senders & PEERS) != 0;
        const segq__dispatch_t *entry = segq__broker_dispatch ((segq_msg_type_t) type);
        cr_expect_eq (entry != NULL, sent, "%s (%d): %s",
                      segq_msg_type_name ((segq_msg_type_t) type), type,
                      sent ? "a peer may send it and the broker has no handler"
                           : "the broker handles what no peer sends");
        handled += entry != NULL;
    }
    cr_assert_geq (handled, 20, "the broker handles %zu types", handled);
}

Test (dispatch, what_only_an_admin_may_send_is_worded)
{
    for (int type = 1; type < MAX_TYPE; type++) {
        segq_msg_route_t route;
        const segq__dispatch_t *entry = segq__broker_dispatch ((segq_msg_type_t) type);
        if (!entry || segq_msg_route ((segq_msg_type_t) type, &route) != 0
            || (route.senders & PEERS) != SEGQ_FROM_ADMIN)
            continue;
        cr_expect (entry->act && *entry->act,
                   "%s: only an admin may send it, but its "
                   "dispatch row says not what it does",
                   segq_msg_type_name ((segq_msg_type_t) type));
    }
    cr_assert_str_eq (segq__broker_dispatch (SEGQ_MSG_DRAIN)->act, "drain a worker");
}
