/*  The progress channel: parsing JSON lines from an untrusted child. */
#include <criterion/criterion.h>
#include <string.h>
#include "worker_internal.h"

typedef struct {
    int count;
    segq__progress_t last;
} seen_t;

static void
s_record (void *arg, const segq__progress_t *record)
{
    seen_t *seen = arg;
    seen->count++;
    segq__progress_clear (&seen->last);
    cr_assert_eq (segq__progress_merge (&seen->last, record), 0);
}

Test (progress, whole_record, .timeout = 10)
{
    segq__progress_t p;
    char err [200];
    const char *line = "{\"phase\":\"train\",\"fraction\":0.25,\"metrics\":{\"loss\":1.5,"
                       "\"psnr\":20},\"message\":\"scale 2 of 8\"}";
    cr_assert_eq (segq__progress_parse_line (line, strlen (line), &p, err, sizeof err), 0, "%s",
                  err);
    cr_assert (p.has_fraction);
    cr_assert_float_eq (p.fraction, 0.25, 1e-12);
    cr_assert_str_eq (p.phase, "train");
    cr_assert_str_eq (p.message, "scale 2 of 8");
    cr_assert_eq (p.metrics.count, 2);
    cr_assert_float_eq (segq_params_get (&p.metrics, "loss")->f, 1.5, 1e-12);
    cr_assert_float_eq (segq_params_get (&p.metrics, "psnr")->f, 20.0, 1e-12);
    segq__progress_clear (&p);
}

Test (progress, checkpoint_is_an_event_not_merged, .timeout = 10)
{
    segq__progress_t p, state = { 0 };
    char err [200];
    const char *line = "{\"checkpoint\":\"model.safetensors\",\"step\":3}";
    cr_assert_eq (segq__progress_parse_line (line, strlen (line), &p, err, sizeof err), 0, "%s",
                  err);
    cr_assert_str_eq (p.checkpoint, "model.safetensors");
    cr_assert_eq (p.step, 3);
    cr_assert_eq (segq__progress_merge (&state, &p), 0);
    cr_assert_null (state.checkpoint, "a checkpoint is announced once, not kept as state");
    segq__progress_clear (&p);
    segq__progress_clear (&state);
    const char *bad [] = { "{\"checkpoint\":1}", "{\"step\":-1}", "{\"step\":1.5}",
                           "{\"step\":4294967296}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        segq__progress_t q = { 0 };
        cr_assert_neq (segq__progress_parse_line (bad [i], strlen (bad [i]), &q, err, sizeof err),
                       0, "accepted %s", bad [i]);
    }
}

Test (progress, bad_records_refused_with_reason, .timeout = 10)
{
    const char *bad [] = { "not json",
                           "[1,2]",
                           "{\"fraction\":\"half\"}",
                           "{\"phase\":3}",
                           "{\"metrics\":{\"loss\":\"low\"}}",
                           "{\"metrics\":[1]}",
                           "{\"fraction\":0.1",
                           "42" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        segq__progress_t p = { 0 };
        char err [200] = "";
        cr_assert_eq (segq__progress_parse_line (bad [i], strlen (bad [i]), &p, err, sizeof err),
                      SEGQ_EINVAL, "accepted %s", bad [i]);
        cr_assert (strlen (err) > 0, "no reason for %s", bad [i]);
        cr_assert_null (p.phase);
    }
}

Test (progress, fraction_is_clamped, .timeout = 10)
{
    segq__progress_t p;
    char err [200];
    cr_assert_eq (segq__progress_parse_line ("{\"fraction\":7}", 14, &p, err, sizeof err), 0);
    cr_assert_float_eq (p.fraction, 1.0, 1e-12);
    segq__progress_clear (&p);
    cr_assert_eq (segq__progress_parse_line ("{\"fraction\":-1}", 15, &p, err, sizeof err), 0);
    cr_assert_float_eq (p.fraction, 0.0, 1e-12);
    segq__progress_clear (&p);
}

Test (progress, lines_split_anywhere_and_garbage_between, .timeout = 10)
{
    const char *stream = "{\"fraction\":0.1}\ngarbage line\n\n{\"phase\":\"b\",\r\n"
                         "{\"fraction\":0.9,\"phase\":\"c\"}\n{\"fraction\":0.95}";
    segq__progress_parser_t *parser = segq__progress_parser_new ();
    seen_t seen = { 0 };
    for (size_t i = 0; i < strlen (stream); i++) /* one byte at a time */
        segq__progress_parser_feed (parser, stream + i, 1, s_record, &seen);
    cr_assert_eq (seen.count, 2);
    cr_assert_str_eq (seen.last.phase, "c");
    cr_assert_float_eq (seen.last.fraction, 0.9, 1e-12);
    const char *why = NULL;
    cr_assert_eq (segq__progress_parser_rejected (parser, &why), 2);
    cr_assert_not_null (why);
    /* the unfinished last line completes later */
    segq__progress_parser_feed (parser, "\n", 1, s_record, &seen);
    cr_assert_eq (seen.count, 3);
    cr_assert_float_eq (seen.last.fraction, 0.95, 1e-12);
    segq__progress_clear (&seen.last);
    segq__progress_parser_destroy (&parser);
}

Test (progress, overlong_line_dropped_next_line_kept, .timeout = 10)
{
    size_t big = SEGQ__PROGRESS_MAX_LINE * 3;
    char *junk = malloc (big);
    memset (junk, 'x', big);
    junk [0] = '{';
    segq__progress_parser_t *parser = segq__progress_parser_new ();
    seen_t seen = { 0 };
    for (size_t off = 0; off < big; off += 1000)
        segq__progress_parser_feed (parser, junk + off, big - off < 1000 ? big - off : 1000,
                                    s_record, &seen);
    const char *tail = "\"}\n{\"phase\":\"after\"}\n";
    segq__progress_parser_feed (parser, tail, strlen (tail), s_record, &seen);
    cr_assert_eq (seen.count, 1);
    cr_assert_str_eq (seen.last.phase, "after");
    const char *why = NULL;
    cr_assert_eq (segq__progress_parser_rejected (parser, &why), 1);
    cr_assert (strstr (why, "64 KiB"), "%s", why);
    segq__progress_clear (&seen.last);
    segq__progress_parser_destroy (&parser);
    free (junk);
}

Test (progress, merge_keeps_what_an_update_leaves_out, .timeout = 10)
{
    segq__progress_t state = { 0 }, a, b;
    char err [200];
    const char *la = "{\"phase\":\"train\",\"fraction\":0.1,\"metrics\":{\"loss\":3}}";
    const char *lb = "{\"fraction\":0.2,\"metrics\":{\"psnr\":9}}";
    cr_assert_eq (segq__progress_parse_line (la, strlen (la), &a, err, sizeof err), 0);
    cr_assert_eq (segq__progress_parse_line (lb, strlen (lb), &b, err, sizeof err), 0);
    segq__progress_merge (&state, &a);
    segq__progress_merge (&state, &b);
    cr_assert_str_eq (state.phase, "train");
    cr_assert_float_eq (state.fraction, 0.2, 1e-12);
    cr_assert_eq (state.metrics.count, 2);
    cr_assert_float_eq (segq_params_get (&state.metrics, "loss")->f, 3.0, 1e-12);
    segq__progress_clear (&a);
    segq__progress_clear (&b);
    segq__progress_clear (&state);
}

Test (progress, limiter_sends_at_most_once_per_interval_latest_wins, .timeout = 10)
{
    segq__progress_limiter_t limiter;
    segq__progress_limiter_init (&limiter, 100);
    segq__progress_t update = { .has_fraction = true };
    int sent = 0;
    double last_sent_fraction = -1;
    /* 1000 updates over one simulated second */
    for (int t = 0; t < 1000; t++) {
        update.fraction = t / 1000.0;
        if (segq__progress_limiter_update (&limiter, &update, 1000 + t)) {
            sent++;
            last_sent_fraction = limiter.state.fraction;
            segq__progress_limiter_sent (&limiter, 1000 + t);
        }
    }
    cr_assert (sent >= 9 && sent <= 11, "sent %d", sent);
    /* the latest one is held back, and goes out when forced (job end) */
    cr_assert (segq__progress_limiter_due (&limiter, 1999, true));
    cr_assert_float_eq (limiter.state.fraction, 0.999, 1e-12);
    cr_assert (last_sent_fraction < 0.999);
    segq__progress_limiter_sent (&limiter, 1999);
    cr_assert_not (segq__progress_limiter_due (&limiter, 5000, true));
    segq__progress_limiter_clear (&limiter);
}
