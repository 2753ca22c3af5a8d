/*  test_codec.c: every message type survives encode -> decode with every
    field, optional ones absent and present. */
#include <criterion/criterion.h>
#include <string.h>

#include "fixture_compare.h"
#include "fixtures.h"

/* Encoding moves a CHUNK's data frame out of msg: a copy of it, put back
   after encoding so that msg can be compared with what was decoded. */
static zframe_t *
s_keep_data (segq_msg_t *msg)
{
    if (msg->type != SEGQ_MSG_CHUNK || !msg->u.chunk.data)
        return NULL;
    zframe_t *copy = zframe_dup (msg->u.chunk.data);
    cr_assert_not_null (copy);
    return copy;
}

static void
s_put_data_back (segq_msg_t *msg, zframe_t *data)
{
    if (!data)
        return;
    zframe_destroy (&msg->u.chunk.data);
    msg->u.chunk.data = data;
}

/* Encodes msg, decodes the frames and compares the result with msg member
   by member; then re-encodes it and checks the bytes are the same. The
   bytes alone cannot show a member the codec's field table lacks (both
   encodings drop it); the members can. Returns the decoded message. */
static segq_msg_t *
s_round_trip (segq_msg_t *msg)
{
    fixture_frames_t first, second;
    zframe_t *data = s_keep_data (msg);
    cr_assert_eq (fixture_encode (msg, &first), SEGQ_OK, "encode %s",
                  segq_msg_type_name (msg->type));
    s_put_data_back (msg, data);
    segq_msg_t *decoded = NULL;
    char err [256] = "";
    int rc = segq_msg_decode_bytes (first.header, first.header_size, first.body, first.body_size,
                                    first.data, first.data_size, first.has_data, &decoded, NULL,
                                    err, sizeof err);
    cr_assert_eq (rc, SEGQ_OK, "decode %s: %s", segq_msg_type_name (msg->type), err);
    cr_assert_eq (decoded->type, msg->type);
    cr_assert_eq (decoded->version, SEGQ_PROTO_VERSION);
    fixture_assert_msg_equal (msg, decoded);
    segq_msg_t *again = NULL;
    /* Re-encoding moves a CHUNK's data frame out: decode a second copy. */
    cr_assert_eq (segq_msg_decode_bytes (first.header, first.header_size, first.body,
                                         first.body_size, first.data, first.data_size,
                                         first.has_data, &again, NULL, err, sizeof err),
                  SEGQ_OK);
    cr_assert_eq (fixture_encode (again, &second), SEGQ_OK);
    cr_assert_eq (second.body_size, first.body_size, "%s body size",
                  segq_msg_type_name (msg->type));
    cr_assert_eq (memcmp (second.body, first.body, first.body_size), 0, "%s body bytes",
                  segq_msg_type_name (msg->type));
    cr_assert_eq (memcmp (second.header, first.header, SEGQ_HEADER_SIZE), 0);
    cr_assert_eq (second.data_size, first.data_size);
    if (first.data_size)
        cr_assert_eq (memcmp (second.data, first.data, first.data_size), 0);
    segq_msg_destroy (&again);
    fixture_frames_free (&first);
    fixture_frames_free (&second);
    return decoded;
}

Test (codec, every_type_full_and_minimal, .timeout = 30)
{
    for (size_t i = 0; i < fixture_type_count; i++)
        for (int full = 0; full < 2; full++) {
            segq_msg_t *msg = fixture_msg (fixture_types [i], full);
            segq_msg_t *decoded = s_round_trip (msg);
            segq_msg_destroy (&decoded);
            segq_msg_destroy (&msg);
        }
    fixture_assert_no_leaks ();
}

Test (codec, type_names_and_unknown_types, .timeout = 10)
{
    cr_assert_str_eq (segq_msg_type_name (SEGQ_MSG_SUBMIT), "SUBMIT");
    cr_assert_str_eq (segq_msg_type_name (SEGQ_MSG_DRAIN_WORKER), "DRAIN_WORKER");
    cr_assert_str_eq (segq_msg_type_name ((segq_msg_type_t) 4), "?");
    cr_assert_str_eq (segq_msg_type_name ((segq_msg_type_t) 200), "?");
    cr_assert_null (segq_msg_new ((segq_msg_type_t) 99));
    fixture_assert_no_leaks ();
}

Test (codec, submit_fields, .timeout = 10)
{
    segq_msg_t *msg = fixture_msg (SEGQ_MSG_SUBMIT, true);
    segq_msg_t *d = s_round_trip (msg);
    segq_submit_t *s = &d->u.submit;
    cr_assert_eq (s->req_id, 42);
    cr_assert_str_eq (s->user, "alice");
    cr_assert_str_eq (s->kind, "sleep");
    cr_assert_eq (s->params.count, 4);
    cr_assert_eq (segq_params_get (&s->params, "niter")->type, SEGQ_PARAM_INT);
    cr_assert_eq (segq_params_get (&s->params, "niter")->i, -1234567890123LL);
    cr_assert_eq (segq_params_get (&s->params, "lr")->f, 0.0005);
    cr_assert_eq (segq_params_get (&s->params, "flip")->b, true);
    cr_assert_str_eq (segq_params_get (&s->params, "dtype")->s, "bf16");
    cr_assert_eq (s->n_inputs, 4);
    cr_assert_str_eq (s->inputs [0].name, "image.png");
    cr_assert_str_eq (s->inputs [0].hash, fixture_hash (1));
    cr_assert_eq (s->inputs [0].size, 4096);
    cr_assert_null (s->inputs [0].job);
    cr_assert_str_eq (s->inputs [1].job, "j7k2");
    cr_assert_str_eq (s->inputs [1].output, "model.safetensors");
    cr_assert_str_eq (s->inputs [1].hash, "");
    cr_assert_null (s->inputs [2].output);
    cr_assert_null (s->inputs [2].model);
    /* a model input as a stored job shows it: the model's id and its checkpoint */
    cr_assert_str_eq (s->inputs [3].model, "m-j7k2");
    cr_assert_str_eq (s->inputs [3].hash, fixture_hash (2));
    cr_assert_eq (s->inputs [3].size, 123456789);
    cr_assert_null (s->inputs [3].job);
    cr_assert_eq (s->n_after, 3);
    cr_assert_str_eq (s->after [2], "a2");
    cr_assert_eq (s->priority, -5);
    cr_assert_eq (s->gpu_mem, 3ULL << 30);
    cr_assert_eq (s->cpu_slots, 2);
    cr_assert_eq (s->time_limit_s, 600);
    cr_assert_eq (s->max_attempts, 5);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}

Test (codec, absent_optionals_read_as_defaults, .timeout = 10)
{
    segq_msg_t *msg = fixture_msg (SEGQ_MSG_ASSIGN, false);
    segq_msg_t *d = s_round_trip (msg);
    cr_assert_eq (d->u.assign.gpu, -1, "absent gpu means none (-1), not GPU 0");
    cr_assert_eq (d->u.assign.n_inputs, 0);
    cr_assert_null (d->u.assign.inputs);
    cr_assert_eq (d->u.assign.params.count, 0);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_STATUS_REPLY, true);
    d = s_round_trip (msg);
    segq_job_info_t *minimal = &d->u.status_reply.jobs [1];
    cr_assert_eq (minimal->gpu, -1);
    cr_assert_eq (minimal->exit_code, -1);
    cr_assert_null (minimal->worker);
    cr_assert_eq (minimal->n_history, 0);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_SUBMIT, false);
    d = s_round_trip (msg);
    cr_assert_eq (d->u.submit.n_inputs, 0);
    cr_assert_eq (d->u.submit.priority, 0);
    cr_assert_eq (d->u.submit.gpu_mem, 0);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}

Test (codec, nested_job_info, .timeout = 10)
{
    segq_msg_t *msg = fixture_msg (SEGQ_MSG_STATUS_REPLY, true);
    segq_msg_t *d = s_round_trip (msg);
    segq_job_info_t *j = &d->u.status_reply.jobs [0];
    cr_assert_str_eq (j->id, "j0");
    cr_assert_eq (j->state, SEGQ_JOB_RUNNING);
    cr_assert_eq (j->priority, -7);
    cr_assert_eq (j->gpu, 3);
    cr_assert_eq (j->exit_code, 2);
    cr_assert_eq (j->signal, 9);
    cr_assert_eq (j->fraction, 0.75);
    cr_assert_eq (j->created, 1764000000.25);
    cr_assert_eq (j->finished, 1764000002.75);
    cr_assert_eq (j->metrics.count, 2);
    cr_assert_eq (segq_params_get (&j->metrics, "psnr")->f, 31.5);
    cr_assert_eq (j->n_outputs, 2);
    cr_assert_str_eq (j->outputs [1].name, "out/images/1.png");
    cr_assert_eq (j->outputs [1].size, 1000000000001ULL);
    cr_assert_eq (j->n_history, 2);
    cr_assert_eq (j->history [1].state, SEGQ_JOB_RUNNING);
    cr_assert_str_eq (j->history [1].reason, "assigned");
    cr_assert_null (j->history [0].reason);
    cr_assert_str_eq (d->u.status_reply.cursor, "j1");
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}

Test (codec, workers_register_and_error_versions, .timeout = 10)
{
    segq_msg_t *msg = fixture_msg (SEGQ_MSG_WORKERS_REPLY, true);
    segq_msg_t *d = s_round_trip (msg);
    segq_worker_info_t *w = &d->u.workers_reply.workers [0];
    cr_assert_eq (w->state, SEGQ_WORKER_DRAINING);
    cr_assert_eq (w->n_gpus, 2);
    cr_assert_eq (w->gpus [1].index, 1);
    cr_assert_eq (w->gpus [1].mem_total, 85899345920ULL);
    cr_assert_eq (w->gpus [1].mem_used, 1ULL << 33);
    cr_assert_str_eq (w->running [1], "j1");
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_REGISTER, true);
    d = s_round_trip (msg);
    cr_assert_eq (d->u.reg.n_held, 2);
    cr_assert_eq (d->u.reg.held [1].attempt, 4000000000u);
    cr_assert (d->u.reg.draining);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_ERROR, true);
    d = s_round_trip (msg);
    cr_assert_eq (d->u.error.req_id, 18446744073709551615ULL);
    cr_assert_eq (d->u.error.code, SEGQ_EVERSION);
    cr_assert_eq (d->u.error.n_versions, 2);
    cr_assert_eq (d->u.error.versions [1], 2);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}

Test (codec, kinds_fields, .timeout = 10)
{
    segq_msg_t *msg = fixture_msg (SEGQ_MSG_KINDS, false);
    segq_msg_t *d = s_round_trip (msg);
    cr_assert_eq (d->u.kinds.req_id, 14);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_KINDS_REPLY, true);
    d = s_round_trip (msg);
    segq_kinds_reply_t *r = &d->u.kinds_reply;
    cr_assert_eq (r->req_id, 14);
    cr_assert_eq (r->n_kinds, 2);
    segq_kind_info_t *k = &r->kinds [0];
    cr_assert_str_eq (k->name, "train");
    cr_assert_str_eq (k->help, "trains a SinGAN");
    cr_assert_str_eq (k->principal, "model.safetensors");
    cr_assert (k->test);
    cr_assert_eq (k->n_params, 4);
    cr_assert_str_eq (k->params [0].name, "niter");
    cr_assert_eq (k->params [0].type, SEGQ_PARAM_INT);
    cr_assert_eq (k->params [0].min, 1);
    cr_assert_eq (k->params [0].max, 1e9);
    cr_assert_str_eq (k->params [0].help, "iterations per scale");
    cr_assert_eq (k->params [1].type, SEGQ_PARAM_FLOAT);
    cr_assert_eq (k->params [1].min, -0.5);
    cr_assert_null (k->params [1].help);
    cr_assert_eq (k->params [2].type, SEGQ_PARAM_CHOICE);
    cr_assert_eq (k->params [2].n_choices, 2);
    cr_assert_str_eq (k->params [2].choices [1], "fp1");
    cr_assert_eq (k->params [3].type, SEGQ_PARAM_BOOL);
    cr_assert_eq (k->params [3].min, 0);
    /* defaults travel typed; a parameter without one is required */
    cr_assert_eq (k->defaults.count, 3);
    cr_assert_eq (segq_params_get (&k->defaults, "niter")->type, SEGQ_PARAM_INT);
    cr_assert_eq (segq_params_get (&k->defaults, "niter")->i, 2000);
    cr_assert_eq (segq_params_get (&k->defaults, "lr")->f, 0.0005);
    cr_assert_str_eq (segq_params_get (&k->defaults, "precision")->s, "fp0");
    cr_assert_null (segq_params_get (&k->defaults, "flip"));
    cr_assert_eq (k->n_inputs, 3);
    cr_assert_str_eq (k->inputs [0].name, "image");
    cr_assert (k->inputs [0].required);
    cr_assert_not (k->inputs [0].many);
    cr_assert_str_eq (k->inputs [0].help, "one image");
    cr_assert_not (k->inputs [1].required);
    cr_assert_null (k->inputs [0].unless);
    cr_assert_str_eq (k->inputs [1].unless, "from_alpha");
    cr_assert (k->inputs [1].many && k->inputs [1].sets);
    cr_assert_null (k->inputs [1].help);
    cr_assert_not (k->inputs [0].catalogue || k->inputs [1].catalogue);
    cr_assert_str_eq (k->inputs [2].name, "model");
    cr_assert (k->inputs [2].catalogue && k->inputs [2].required);
    /* a kind with only its required fields */
    k = &r->kinds [1];
    cr_assert_str_eq (k->name, "noop");
    cr_assert_str_eq (k->principal, "*");
    cr_assert_null (k->help);
    cr_assert_eq (k->n_params + k->n_inputs + k->defaults.count, 0);
    cr_assert_not (k->test);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}

Test (codec, model_fields, .timeout = 10)
{
    segq_msg_t *msg = fixture_msg (SEGQ_MSG_MODEL, false);
    segq_msg_t *d = s_round_trip (msg);
    cr_assert_eq (d->u.model.req_id, 15);
    cr_assert_eq (d->u.model.op, SEGQ_MODEL_LIST);
    cr_assert_null (d->u.model.model);
    cr_assert_null (d->u.model.user);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_MODEL, true);
    d = s_round_trip (msg);
    segq_model_t *q = &d->u.model;
    cr_assert_eq (q->op, SEGQ_MODEL_SHARE);
    cr_assert_str_eq (q->user, "alice");
    cr_assert_str_eq (q->model, "alice/polyp-2");
    cr_assert_null (q->value);
    cr_assert_eq (q->n_users, 2);
    cr_assert_str_eq (q->users [1], "user1");
    cr_assert_not (q->lab);
    cr_assert_str_eq (q->owner, "alice");
    cr_assert_str_eq (q->tag, "colon");
    cr_assert_str_eq (q->cursor, "m-j7k2");
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_MODEL_REPLY, false);
    d = s_round_trip (msg);
    cr_assert_eq (d->u.model_reply.req_id, 15);
    cr_assert_eq (d->u.model_reply.n_models, 0);
    cr_assert_null (d->u.model_reply.models);
    cr_assert_null (d->u.model_reply.next);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_MODEL_REPLY, true);
    d = s_round_trip (msg);
    segq_model_reply_t *r = &d->u.model_reply;
    cr_assert_eq (r->n_models, 2);
    cr_assert_str_eq (r->next, "m-j1");
    segq_model_info_t *m = &r->models [0];
    cr_assert_str_eq (m->id, "m-j0");
    cr_assert_str_eq (m->name, "polyp-0");
    cr_assert_str_eq (m->owner, "alice");
    cr_assert_str_eq (m->job, "j0");
    cr_assert_eq (m->created, 1764000002.75);
    cr_assert_str_eq (m->image, "polyp 1.png");
    cr_assert_str_eq (m->image_hash, fixture_hash (0));
    cr_assert_str_eq (m->mask, "polyp 1 mask.png");
    cr_assert_str_eq (m->mask_hash, fixture_hash (1));
    cr_assert_str_eq (m->checkpoint, fixture_hash (2));
    cr_assert_eq (m->size, 123456789);
    cr_assert_eq (m->scales, 9);
    cr_assert_eq (m->height, 187);
    cr_assert_eq (m->width, 250);
    cr_assert_eq (m->params.count, 4);
    cr_assert_str_eq (segq_params_get (&m->params, "dtype")->s, "bf16");
    cr_assert_eq (m->n_tags, 2);
    cr_assert_str_eq (m->tags [1], "tag1");
    cr_assert_str_eq (m->note, "trained on the 2025 set");
    cr_assert_eq (m->n_shared, 2);
    cr_assert_str_eq (m->shared [0], "user0");
    cr_assert (m->lab && m->pinned && m->purged);
    cr_assert_str_eq (m->samples, "j00099");
    /* a model with only its required fields */
    m = &r->models [1];
    cr_assert_str_eq (m->id, "m-j1");
    cr_assert_str_eq (m->job, "j1");
    cr_assert_null (m->image);
    cr_assert_null (m->mask);
    cr_assert_str_eq (m->checkpoint, "");
    cr_assert_eq (m->n_tags + m->n_shared + m->params.count, 0);
    cr_assert_not (m->lab || m->pinned || m->purged);
    cr_assert_null (m->samples);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}

static segq_msg_t *
s_model_request (segq_model_op_t op)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_MODEL);
    msg->u.model.req_id = 16;
    msg->u.model.user = strdup ("alice");
    msg->u.model.op = op;
    msg->u.model.model = strdup ("polyp-2");
    return msg;
}

/* MODEL's rules keep `value`, `users` and `lab` out of one message: the
   full fixture has users, these carry the other two. */
Test (codec, model_value_and_lab, .timeout = 10)
{
    segq_msg_t *msg = s_model_request (SEGQ_MODEL_TAG);
    msg->u.model.value = strdup ("colon");
    segq_msg_t *d = s_round_trip (msg);
    cr_assert_str_eq (d->u.model.value, "colon");
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    msg = s_model_request (SEGQ_MODEL_SHARE);
    msg->u.model.lab = true;
    d = s_round_trip (msg);
    cr_assert (d->u.model.lab);
    cr_assert_eq (d->u.model.n_users, 0);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}

Test (codec, eversion_errors_list_the_versions, .timeout = 10)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_ERROR);
    msg->u.error.code = SEGQ_EVERSION;
    msg->u.error.message = strdup ("version 9 is not spoken here");
    segq_msg_t *d = s_round_trip (msg);
    cr_assert_eq (d->u.error.n_versions, SEGQ_PROTO_VERSION - SEGQ_PROTO_MIN_VERSION + 1);
    cr_assert_eq (d->u.error.versions [0], SEGQ_PROTO_MIN_VERSION);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    /* other errors stay as they are */
    msg = fixture_msg (SEGQ_MSG_ERROR, false);
    msg->u.error.code = SEGQ_EPROTO;
    d = s_round_trip (msg);
    cr_assert_eq (d->u.error.n_versions, 0);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}

Test (codec, binary_data_and_chunk_frame, .timeout = 10)
{
    segq_msg_t *msg = fixture_msg (SEGQ_MSG_LOG, true);
    segq_msg_t *d = s_round_trip (msg);
    cr_assert_eq (d->u.log.size, 70000);
    cr_assert_eq (memcmp (d->u.log.data, msg->u.log.data, 70000), 0);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_LOGS_REPLY, true);
    d = s_round_trip (msg);
    cr_assert_eq (d->u.logs_reply.size, 300);
    cr_assert_eq (d->u.logs_reply.data [1], 7);
    cr_assert_eq (d->u.logs_reply.data [0], 0);
    cr_assert (d->u.logs_reply.complete);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    /* CHUNK through the zmsg path: the data frame is moved, not copied. */
    msg = fixture_msg (SEGQ_MSG_CHUNK, true);
    zframe_t *original = msg->u.chunk.data;
    zmsg_t *zmsg;
    cr_assert_eq (segq_msg_encode (msg, &zmsg), SEGQ_OK);
    cr_assert_null (msg->u.chunk.data);
    cr_assert_eq (zmsg_size (zmsg), 3);
    cr_assert_eq (zmsg_last (zmsg), original);
    char err [256];
    cr_assert_eq (segq_msg_decode (&zmsg, &d, NULL, err, sizeof err), SEGQ_OK, "%s", err);
    cr_assert_null (zmsg);
    cr_assert_eq (d->u.chunk.transfer, 100);
    cr_assert_eq (d->u.chunk.offset, 1ULL << 40);
    cr_assert (d->u.chunk.last);
    cr_assert_eq (zframe_size (d->u.chunk.data), 100000);
    cr_assert_eq (zframe_data (d->u.chunk.data) [3], 39);
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}

Test (codec, big_arrays, .timeout = 30)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_STATUS);
    msg->u.status.req_id = 1;
    msg->u.status.n_jobs = 100000;
    msg->u.status.jobs = calloc (100000, sizeof (char *));
    for (size_t i = 0; i < 100000; i++) {
        char id [16];
        snprintf (id, sizeof id, "j%zx", i);
        msg->u.status.jobs [i] = strdup (id);
    }
    segq_msg_t *d = s_round_trip (msg);
    cr_assert_eq (d->u.status.n_jobs, 100000);
    cr_assert_str_eq (d->u.status.jobs [99999], "j1869f");
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);

    msg = segq_msg_new (SEGQ_MSG_ASSIGN);
    msg->u.assign.job = strdup ("j1");
    msg->u.assign.attempt = 1;
    msg->u.assign.kind = strdup ("echo");
    msg->u.assign.n_inputs = 20000;
    msg->u.assign.inputs = calloc (20000, sizeof (segq_artifact_t));
    for (size_t i = 0; i < 20000; i++) {
        char name [32];
        snprintf (name, sizeof name, "files/%zu.png", i);
        msg->u.assign.inputs [i].name = strdup (name);
        strcpy (msg->u.assign.inputs [i].hash, fixture_hash ((int) i));
        msg->u.assign.inputs [i].size = i;
    }
    d = s_round_trip (msg);
    cr_assert_eq (d->u.assign.n_inputs, 20000);
    cr_assert_str_eq (d->u.assign.inputs [19999].name, "files/19999.png");
    segq_msg_destroy (&d);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}

Test (codec, sockets_send_recv_with_routing_id, .timeout = 20)
{
    zsock_t *router = zsock_new_router ("inproc://codec-test");
    zsock_t *dealer = zsock_new_dealer (">inproc://codec-test");
    cr_assert_not_null (router);
    cr_assert_not_null (dealer);
    zsock_set_rcvtimeo (router, 5000);
    zsock_set_rcvtimeo (dealer, 5000);

    segq_msg_t *msg = fixture_msg (SEGQ_MSG_SUBMIT, true);
    cr_assert_eq (segq_msg_send (&msg, dealer, NULL), SEGQ_OK);
    cr_assert_null (msg);

    zframe_t *peer = NULL;
    segq_msg_t *got = NULL;
    char err [256];
    cr_assert_eq (segq_msg_recv (router, &peer, &got, NULL, err, sizeof err), SEGQ_OK, "%s", err);
    cr_assert_not_null (peer);
    cr_assert_eq (got->type, SEGQ_MSG_SUBMIT);
    cr_assert_str_eq (got->u.submit.kind, "sleep");
    segq_msg_destroy (&got);

    msg = fixture_msg (SEGQ_MSG_CHUNK, true);
    cr_assert_eq (segq_msg_send (&msg, router, peer), SEGQ_OK);
    cr_assert_not_null (peer, "the routing id is not consumed");
    cr_assert_eq (segq_msg_recv (dealer, NULL, &got, NULL, err, sizeof err), SEGQ_OK, "%s", err);
    cr_assert_eq (got->type, SEGQ_MSG_CHUNK);
    cr_assert_eq (zframe_size (got->u.chunk.data), 100000);
    segq_msg_destroy (&got);

    zframe_destroy (&peer);
    /* A malformed message still yields the routing id, so the broker can
       answer ERROR. */
    zstr_send (dealer, "garbage");
    cr_assert_eq (segq_msg_recv (router, &peer, &got, NULL, err, sizeof err), SEGQ_EPROTO);
    cr_assert_null (got);
    cr_assert_not_null (peer);
    cr_assert (strstr (err, "frames"), "%s", err);
    zframe_destroy (&peer);

    /* Nothing to receive: a timeout, not a crash. */
    zsock_set_rcvtimeo (dealer, 10);
    cr_assert_eq (segq_msg_recv (dealer, NULL, &got, NULL, err, sizeof err), SEGQ_ETIMEOUT);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    fixture_assert_no_leaks ();
}

Test (codec, copies_of_shared_pieces, .timeout = 10)
{
    segq_msg_t *msg = fixture_msg (SEGQ_MSG_SUBMIT, true);
    segq_input_t copy;
    cr_assert_eq (segq_input_copy (&copy, &msg->u.submit.inputs [1]), SEGQ_OK);
    segq_msg_destroy (&msg);
    cr_assert_str_eq (copy.name, "checkpoint");
    cr_assert_str_eq (copy.job, "j7k2");
    cr_assert_str_eq (copy.output, "model.safetensors");
    segq_input_clear (&copy);
    cr_assert_null (copy.name);

    segq_artifact_t a = { .name = "x/y.bin", .size = 5 };
    strcpy (a.hash, fixture_hash (0));
    segq_artifact_t b;
    cr_assert_eq (segq_artifact_copy (&b, &a), SEGQ_OK);
    cr_assert_neq (b.name, a.name);
    cr_assert_str_eq (b.name, "x/y.bin");
    cr_assert_str_eq (b.hash, fixture_hash (0));
    segq_artifact_clear (&b);
    fixture_assert_no_leaks ();
}

Test (codec, job_and_worker_state_names, .timeout = 10)
{
    segq_job_state_t state;
    for (int s = SEGQ_JOB_WAITING; s <= SEGQ_JOB_CANCELLED; s++) {
        cr_assert_eq (segq_job_state_parse (segq_job_state_name (s), &state), SEGQ_OK);
        cr_assert_eq ((int) state, s);
    }
    cr_assert_str_eq (segq_job_state_name (SEGQ_JOB_SUCCEEDED), "succeeded");
    cr_assert_eq (segq_job_state_parse ("done", &state), SEGQ_EINVAL);
    cr_assert (segq_job_state_final (SEGQ_JOB_CANCELLED));
    cr_assert_not (segq_job_state_final (SEGQ_JOB_RUNNING));
    cr_assert_str_eq (segq_worker_state_name (SEGQ_WORKER_LOST), "lost");
    cr_assert_str_eq (segq_strerror (SEGQ_ESTALE), "stale attempt (fenced)");
    cr_assert_str_eq (segq_error_name (SEGQ_EINTERNAL), "EINTERNAL");
    cr_assert_str_eq (segq_error_name (-77), "EUNKNOWN");
    cr_assert_str_eq (segq_error_name (3), "EUNKNOWN");
    fixture_assert_no_leaks ();
}

/* A user's name: what a certificate, a status column and `--with U,U`
   can all hold. */
Test (codec, user_names, .timeout = 10)
{
    static const struct {
        const char *name;
        int valid;
    } cases [] = {
        { "alice", 1 },  { "j.doe", 1 },    { "gpu-01", 1 },    { "alice@lab", 1 },
        { "", 0 },       { "bad name", 0 }, { "x,y", 0 },       { "../x", 0 },
        { "tab\tx", 0 }, { "del\x7f", 0 },  { "new\nline", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++)
        cr_expect_eq (segq_user_valid (cases [i].name), cases [i].valid, "'%s'", cases [i].name);
    cr_expect_eq (segq_user_valid (NULL), 0);
    char longest [SEGQ_USER_MAX + 2];
    memset (longest, 'a', SEGQ_USER_MAX + 1);
    longest [SEGQ_USER_MAX + 1] = 0;
    cr_expect_eq (segq_user_valid (longest), 0);
    longest [SEGQ_USER_MAX] = 0;
    cr_expect_eq (segq_user_valid (longest), 1);
}
