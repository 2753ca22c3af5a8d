/*  The route table (who sends what, its request id and user, its reply)
    against the codec's field tables: every type of the protocol has a
    route, every request that is answered carries a request id and so does
    its answer, and the user and request id a message keeps are found
    where the codec puts them. */
#include <criterion/criterion.h>
#include <string.h>
#include "segq_proto.h"

#define MAX_TYPE 256

Test (route, every_message_type_has_one)
{
    size_t n = 0;
    for (int type = 1; type < MAX_TYPE; type++) {
        segq_msg_t *msg = segq_msg_new ((segq_msg_type_t) type);
        segq_msg_route_t route;
        int rc = segq_msg_route ((segq_msg_type_t) type, &route);
        cr_expect_eq (rc == 0, msg != NULL, "type %d (%s): a codec body %s a route", type,
                      segq_msg_type_name ((segq_msg_type_t) type), msg ? "without" : "but");
        n += msg != NULL;
        segq_msg_destroy (&msg);
    }
    cr_assert_geq (n, 40, "the protocol has %zu types", n);
}

Test (route, a_request_and_its_reply_carry_the_request_id)
{
    for (int type = 1; type < MAX_TYPE; type++) {
        segq_msg_route_t route, reply;
        if (segq_msg_route ((segq_msg_type_t) type, &route) || !route.reply)
            continue;
        const char *name = segq_msg_type_name ((segq_msg_type_t) type);
        cr_expect_eq (route.senders & SEGQ_FROM_BROKER, 0, "%s: the broker answers no one", name);
        cr_assert_eq (segq_msg_route (route.reply, &reply), 0, "%s: its reply is no type", name);
        cr_expect_eq (reply.senders, SEGQ_FROM_BROKER, "%s's reply comes from the broker", name);
        bool session = route.senders & SEGQ_FROM_SESSION;
        /* a registered worker's messages name their job and attempt instead */
        if (!session && type != SEGQ_MSG_REGISTER) {
            cr_expect_geq (route.req_offset, 0, "%s has no request id", name);
            cr_expect_geq (reply.req_offset, 0, "%s's reply %s echoes no request id", name,
                           segq_msg_type_name (route.reply));
        }
    }
}

Test (route, request_id_and_user_are_where_the_codec_keeps_them)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_SUBMIT);
    cr_assert_eq (segq_msg_set_req_id (msg, 77), 0);
    cr_assert_eq (msg->u.submit.req_id, 77);
    cr_assert_eq (segq_msg_req_id (msg), 77);
    cr_assert_eq (segq_msg_user (msg), &msg->u.submit.user);
    segq_msg_destroy (&msg);
    msg = segq_msg_new (SEGQ_MSG_STATUS);
    cr_assert_eq (segq_msg_user (msg), &msg->u.status.caller,
                  "STATUS's user is a filter; "
                  "who asks is `caller`");
    segq_msg_destroy (&msg);
    msg = segq_msg_new (SEGQ_MSG_PUT_DONE);
    msg->u.put_done.req_id = 9;
    cr_assert_eq (segq_msg_req_id (msg), 9);
    cr_assert_null (segq_msg_user (msg));
    segq_msg_destroy (&msg);
    msg = segq_msg_new (SEGQ_MSG_CHUNK);
    cr_assert_eq (segq_msg_req_id (msg), 0);
    cr_assert_eq (segq_msg_set_req_id (msg, 1), SEGQ_EINVAL);
    segq_msg_destroy (&msg);
}

Test (route, only_admins_drain_and_back_up_and_only_workers_register)
{
    segq_msg_route_t route;
    cr_assert_eq (segq_msg_route (SEGQ_MSG_DRAIN, &route), 0);
    cr_assert_eq (route.senders, SEGQ_FROM_ADMIN);
    cr_assert_eq (segq_msg_route (SEGQ_MSG_BACKUP, &route), 0);
    cr_assert_eq (route.senders, SEGQ_FROM_ADMIN);
    cr_assert_eq (segq_msg_route (SEGQ_MSG_REGISTER, &route), 0);
    cr_assert_eq (route.senders, SEGQ_FROM_WORKER);
    cr_assert_eq (segq_msg_route (SEGQ_MSG_RESULT, &route), 0);
    cr_assert_eq (route.senders, SEGQ_FROM_WORKER | SEGQ_FROM_SESSION);
    cr_assert_eq (segq_msg_route ((segq_msg_type_t) 200, &route), SEGQ_EPROTO);
}

Test (route, users_and_admins_ask_for_models_as_themselves)
{
    segq_msg_route_t route;
    cr_assert_eq (segq_msg_route (SEGQ_MSG_MODEL, &route), 0);
    cr_assert_eq (route.senders, SEGQ_FROM_USER | SEGQ_FROM_ADMIN);
    cr_assert_eq (route.reply, SEGQ_MSG_MODEL_REPLY);
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_MODEL);
    cr_assert_eq (segq_msg_user (msg), &msg->u.model.user, "MODEL's `user` is who asks");
    cr_assert_eq (segq_msg_set_req_id (msg, 5), 0);
    cr_assert_eq (msg->u.model.req_id, 5);
    segq_msg_destroy (&msg);
}
