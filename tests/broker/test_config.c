/*  test_config.c: segqd's configuration file parser (segq_config). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segq_config.h"
#include "segq_error.h"
#include "segq_records.h"

static segq_config_t *
s_parse (const char *text, int expect, char *err, size_t errlen)
{
    segq_config_t *config = segq_config_new ();
    cr_assert_not_null (config);
    int rc = segq_config_parse (config, "segqd.conf", text, strlen (text), err, errlen);
    cr_assert_eq (rc, expect, "parse returned %d: %s", rc, err);
    return config;
}

Test (config, settings_and_limits_with_inheritance, .timeout = 10)
{
    char err [1024];
    segq_config_t *c = s_parse ("# broker\n"
                                "bind = tcp://0.0.0.0:5555\n"
                                "data_dir =   /var/lib/segq  \n"
                                "max-msg = 8M\n"
                                "\n"
                                "[defaults]\n"
                                "max_running = 8\n"
                                "max_gpu_mem = 40G\n"
                                "[user alice]\n"
                                "max_running = 2\n"
                                "max_queued = 100\n"
                                "[ user bob ]\n"
                                "max_gpu_mem = unlimited\n",
                                0, err, sizeof err);
    cr_assert_str_eq (segq_config_setting (c, "bind"), "tcp://0.0.0.0:5555");
    cr_assert_str_eq (segq_config_setting (c, "data-dir"), "/var/lib/segq");
    cr_assert_str_eq (segq_config_setting (c, "max-msg"), "8M");
    cr_assert_null (segq_config_setting (c, "keys"));
    cr_assert_null (segq_config_setting (c, "no-such"));

    segq_user_limits_t a = segq_config_limits (c, "alice");
    cr_assert_eq (a.max_running, 2);
    cr_assert_eq (a.max_queued, 100);
    cr_assert_eq (a.max_gpu_mem, 40ull << 30, "alice inherits [defaults] max_gpu_mem");
    segq_user_limits_t b = segq_config_limits (c, "bob");
    cr_assert_eq (b.max_running, 8);
    cr_assert_eq (b.max_queued, SEGQ_UNLIMITED);
    cr_assert_eq (b.max_gpu_mem, SEGQ_UNLIMITED);
    segq_user_limits_t other = segq_config_limits (c, "carol");
    cr_assert_eq (other.max_running, 8);
    cr_assert_eq (other.max_gpu_mem, 40ull << 30);
    segq_config_destroy (&c);
    cr_assert_null (c);
}

Test (config, empty_file_means_every_default, .timeout = 10)
{
    char err [256];
    segq_config_t *c = s_parse ("", 0, err, sizeof err);
    segq_user_limits_t l = segq_config_limits (c, "anyone");
    cr_assert_eq (l.max_running, SEGQ_UNLIMITED);
    cr_assert_eq (l.max_queued, SEGQ_UNLIMITED);
    cr_assert_eq (l.max_gpu_mem, SEGQ_UNLIMITED);
    cr_assert_null (segq_config_setting (c, "bind"));
    segq_config_destroy (&c);
}

Test (config, crlf_and_blanks, .timeout = 10)
{
    char err [256];
    segq_config_t *c =
        s_parse ("\t[defaults]  \r\n  max_queued=5\r\n# x = y\r\n", 0, err, sizeof err);
    cr_assert_eq (segq_config_limits (c, "x").max_queued, 5);
    segq_config_destroy (&c);
}

/* [user NAME] holds NAME to the rule every user name meets (a
   certificate's, a token's): segq_user_valid, 1 to SEGQ_USER_MAX bytes. */
Test (config, user_sections_take_the_one_rule_for_names, .timeout = 10)
{
    char err [512], text [256];
    snprintf (text, sizeof text, "[user M\xc3\xbcller+lab]\nmax_queued = 3\n[user %0*d]\n",
              SEGQ_USER_MAX, 7);
    segq_config_t *c = s_parse (text, 0, err, sizeof err);
    cr_assert_eq (segq_config_limits (c, "M\xc3\xbcller+lab").max_queued, 3);
    segq_config_destroy (&c);
    snprintf (text, sizeof text, "[user %0*d]\n[user a/b]\n[user x,y]\n", SEGQ_USER_MAX + 1, 7);
    c = s_parse (text, SEGQ_EINVAL, err, sizeof err);
    cr_assert (strstr (err, "segqd.conf:1: user name")
                   && strstr (err, "segqd.conf:2: user name 'a/b'")
                   && strstr (err, "segqd.conf:3: user name 'x,y'"),
               "%s", err);
    segq_config_destroy (&c);
}

/* Windows editors begin UTF-8 files with a byte-order mark: it is not
   part of the first key (once read as "'\xef\xbb\xbfbind' is not a key"). */
Test (config, a_byte_order_mark_is_skipped, .timeout = 10)
{
    char err [256];
    segq_config_t *c = s_parse ("\xef\xbb\xbf"
                                "bind = tcp://0.0.0.0:5555\r\n",
                                0, err, sizeof err);
    cr_assert_str_eq (segq_config_setting (c, "bind"), "tcp://0.0.0.0:5555");
    segq_config_destroy (&c);
    /* only at the start: elsewhere it is what it always was, bad text */
    c = s_parse ("bind = tcp://0.0.0.0:5555\n\xef\xbb\xbfkeys = /k\n", SEGQ_EINVAL, err,
                 sizeof err);
    cr_assert (strstr (err, "segqd.conf:2:"), "%s", err);
    segq_config_destroy (&c);
}

/* Every problem is reported with its line, and the file is refused whole. */
Test (config, errors_name_file_line_and_fix, .timeout = 10)
{
    char err [4096];
    segq_config_t *c = s_parse ("bind = tcp://127.0.0.1:7\n" /* 1 */
                                "[defaults]\n"               /* 2 */
                                "max_runing = 3\n"           /* 3 */
                                "bind = x\n"                 /* 4 */
                                "max_gpu_mem = 12Q\n"        /* 5 */
                                "max_queued = -1\n"          /* 6 */
                                "max_queued = 4\n"           /* 7 */
                                "max_queued = 5\n"           /* 8 */
                                "[user al ice]\n"            /* 9 */
                                "[group x]\n"                /* 10 */
                                "no equals sign\n"           /* 11 */
                                "[user bob]\n"               /* 12 */
                                "[user bob]\n"               /* 13 */
                                "Max_running = 1\n"          /* 14 */
                                "max_running = 8   # jobs\n"
                                "data_dir = /srv/segq #state\n",
                                SEGQ_EINVAL, err, sizeof err); /* 16 */
    const char *want [] = {
        "segqd.conf:3: unknown key 'max_runing' (did you mean max_running?)",
        "segqd.conf:4: 'bind' is a broker setting: put it before the first [section]",
        "segqd.conf:5: max_gpu_mem = '12Q': expected a size (e.g. 24G) or 'unlimited'",
        "segqd.conf:6: max_queued = '-1': expected a whole number or 'unlimited'",
        "segqd.conf:8: 'max_queued' again (first on line 7): give each key once",
        "segqd.conf:9: user name 'al ice' is not valid",
        "segqd.conf:10: unknown section '[group x]': expected [defaults], [user NAME] or "
        "[kind NAME]",
        "segqd.conf:11: expected 'key = value', '[section]' or a '#' comment",
        "segqd.conf:13: [user bob] again (first on line 12)",
        "segqd.conf:14: 'Max_running' is not a key",
        "segqd.conf:15: a comment after the value of 'max_running': put '#' comments on a line of "
        "their own",
        "segqd.conf:16: a comment after the value of 'data_dir'",
    };
    for (size_t i = 0; i < sizeof want / sizeof want [0]; i++)
        cr_assert_not_null (strstr (err, want [i]), "missing \"%s\" in:\n%s", want [i], err);
    segq_config_destroy (&c);
}

/* What a lab writes by habit: quoted values, and an age without its unit
   (read as seconds, 30 would have purged everything older than 30 s). */
Test (config, quotes_and_bare_ages_refused, .timeout = 10)
{
    char err [2048];
    segq_config_t *c = s_parse ("data_dir = \"/srv/segq\"\n"
                                "retention = 30\n"
                                "fairshare_half_life = 7d\n"
                                "bind = 'tcp://127.0.0.1:5555'\n",
                                SEGQ_EINVAL, err, sizeof err);
    const char *want [] = {
        "segqd.conf:1: data_dir = \"/srv/segq\": values are not quoted (write data_dir = "
        "/srv/segq)",
        "segqd.conf:2: retention = '30': expected an age with its unit",
        "segqd.conf:4: bind = 'tcp://127.0.0.1:5555': values are not quoted",
    };
    for (size_t i = 0; i < sizeof want / sizeof want [0]; i++)
        cr_assert_not_null (strstr (err, want [i]), "missing \"%s\" in:\n%s", want [i], err);
    cr_assert_null (strstr (err, ":3:"), "%s", err);
    segq_config_destroy (&c);
}

/* [kind NAME]: the resources a job of that kind gets when its submit asks
   for none; without a section, one CPU slot. */
Test (config, kind_default_resources, .timeout = 10)
{
    char err [1024];
    segq_config_t *c = s_parse ("[kind train]\ngpu_mem = 8G\n[ kind evaluate ]\ncpu-slots = 4\n"
                                "[kind generate]\ngpu_mem = 2G\ncpu_slots = 2\n",
                                0, err, sizeof err);
    segq_kind_resources_t r = segq_config_kind_resources (c, "train");
    cr_assert_eq (r.gpu_mem, 8ull << 30);
    cr_assert_eq (r.cpu_slots, 0, "a GPU job takes no CPU slot unless told");
    r = segq_config_kind_resources (c, "evaluate");
    cr_assert_eq (r.gpu_mem, 0);
    cr_assert_eq (r.cpu_slots, 4);
    r = segq_config_kind_resources (c, "generate");
    cr_assert (r.gpu_mem == 2ull << 30 && r.cpu_slots == 2);
    r = segq_config_kind_resources (c, "stylize");
    cr_assert (r.gpu_mem == 0 && r.cpu_slots == 1, "no section: one CPU slot");
    r = segq_config_kind_resources (NULL, "train");
    cr_assert (r.gpu_mem == 0 && r.cpu_slots == 1, "no file: one CPU slot");
    segq_config_destroy (&c);
}

Test (config, kind_sections_refuse_what_does_not_belong, .timeout = 10)
{
    char err [4096];
    segq_config_t *c = s_parse ("gpu_mem = 8G\n"    /* 1 */
                                "[kind trian]\n"    /* 2 */
                                "[kind noop]\n"     /* 3 */
                                "[kind train]\n"    /* 4 */
                                "max_running = 2\n" /* 5 */
                                "gpu_mem = lots\n"  /* 6 */
                                "cpu_slots = 0\n"   /* 7 */
                                "[kind train]\n"    /* 8 */
                                "[defaults]\n"      /* 9 */
                                "cpu_slots = 2\n",
                                SEGQ_EINVAL, err, sizeof err); /* 10 */
    const char *want [] = {
        "segqd.conf:1: 'gpu_mem' is a kind's default resource: put it under [kind NAME]",
        "segqd.conf:2: unknown job kind 'trian' (did you mean train?)",
        "segqd.conf:3: kind noop runs inside the worker and takes no resources",
        "segqd.conf:5: 'max_running' is a per-user limit: put it under [defaults] or [user NAME]",
        "segqd.conf:6: gpu_mem = 'lots': expected a size of GPU memory, e.g. 8G",
        "segqd.conf:7: cpu_slots = '0': expected a number of CPU slots (1-4096)",
        "segqd.conf:8: [kind train] again (first on line 4)",
        "segqd.conf:10: 'cpu_slots' is a kind's default resource: put it under [kind NAME]",
    };
    for (size_t i = 0; i < sizeof want / sizeof want [0]; i++)
        cr_assert_not_null (strstr (err, want [i]), "missing \"%s\" in:\n%s", want [i], err);
    segq_config_destroy (&c);
}

Test (config, top_level_limit_and_dashes_in_suggestion, .timeout = 10)
{
    char err [1024];
    segq_config_t *c = s_parse ("max-running = 3\nchunk-sise = 1M\n", SEGQ_EINVAL, err, sizeof err);
    cr_assert_not_null (strstr (err, "segqd.conf:1: 'max-running' is a per-user limit: put it "
                                     "under [defaults] or [user NAME]"),
                        "%s", err);
    cr_assert_not_null (strstr (err, "segqd.conf:2: unknown key 'chunk-sise' (did you mean "
                                     "chunk-size?)"),
                        "%s", err);
    segq_config_destroy (&c);
}

Test (config, refused_file_leaves_previous_state, .timeout = 10)
{
    char err [1024];
    segq_config_t *c = s_parse ("bind = a\n[defaults]\nmax_running = 1\n", 0, err, sizeof err);
    const char bad [] = "bind = b\n[defaults]\nmax_running = 2\nmax_running = 3\n";
    cr_assert_eq (segq_config_parse (c, "x", bad, sizeof bad - 1, err, sizeof err), SEGQ_EINVAL);
    cr_assert_str_eq (segq_config_setting (c, "bind"), "a");
    cr_assert_eq (segq_config_limits (c, "u").max_running, 1);
    segq_config_destroy (&c);
}

Test (config, values_are_checked_by_type, .timeout = 10)
{
    char err [2048];
    segq_config_t *c = s_parse ("heartbeat_ms = 1s\nmax_msg = 5G\nexpiry_ms = 99999999999\n"
                                "ready_file =\n",
                                SEGQ_EINVAL, err, sizeof err);
    cr_assert_not_null (strstr (err, ":1: heartbeat_ms = '1s': expected a whole number"), "%s",
                        err);
    cr_assert_not_null (strstr (err, ":2: max_msg = '5G': expected a size under 4G"), "%s", err);
    cr_assert_not_null (strstr (err, ":3: expiry_ms"), "%s", err);
    cr_assert_not_null (strstr (err, ":4: ready_file = ''"), "%s", err);
    segq_config_destroy (&c);
}

Test (config, binary_and_long_lines_refused_plainly, .timeout = 10)
{
    segq_config_t *c = segq_config_new ();
    char err [1024];
    const char nul [] = "[defaults]\nmax_running = 1\0\n";
    cr_assert_eq (segq_config_parse (c, "f", nul, sizeof nul - 1, err, sizeof err), SEGQ_EINVAL);
    cr_assert_not_null (strstr (err, "f:2: NUL byte"), "%s", err);
    size_t n = 10000;
    char *lng = malloc (n);
    cr_assert_not_null (lng);
    memset (lng, 'a', n);
    cr_assert_eq (segq_config_parse (c, "f", lng, n, err, sizeof err), SEGQ_EINVAL);
    cr_assert_not_null (strstr (err, "f:1: line longer than"), "%s", err);
    free (lng);
    segq_config_destroy (&c);
}

/* What the line reader (segq_conf_lines) refuses: control characters, in
   a value or a header alike (a tab is a blank), and a header without its
   ']'. */
Test (config, lines_the_reader_refuses, .timeout = 10)
{
    char err [1024];
    segq_config_t *c =
        s_parse ("bind = tcp://a\x01:5\n[user al\x1bice]\n", SEGQ_EINVAL, err, sizeof err);
    cr_assert_not_null (strstr (err, "segqd.conf:1: a control character: write plain text"), "%s",
                        err);
    cr_assert_not_null (strstr (err, "segqd.conf:2: a control character"), "%s", err);
    segq_config_destroy (&c);
    /* the keys under a refused header are not said again */
    c = s_parse ("[user bob\nmax_running = 1\n", SEGQ_EINVAL, err, sizeof err);
    cr_assert_str_eq (err, "segqd.conf:1: a section header ends with ']': expected [defaults], "
                           "[user NAME] or [kind NAME]");
    segq_config_destroy (&c);
    c = s_parse ("bind\t=\ttcp://0.0.0.0:5555\t\n", 0, err, sizeof err);
    cr_assert_str_eq (segq_config_setting (c, "bind"), "tcp://0.0.0.0:5555");
    segq_config_destroy (&c);
}

Test (config, many_errors_are_capped_and_err_always_terminated, .timeout = 10)
{
    char text [4000] = "";
    for (int i = 0; i < 100; i++)
        strcat (text, "x=1\n");
    char err [300];
    segq_config_t *c = s_parse (text, SEGQ_EINVAL, err, sizeof err);
    cr_assert_lt (strlen (err), sizeof err);
    char big [8192];
    segq_config_t *d = s_parse (text, SEGQ_EINVAL, big, sizeof big);
    cr_assert_not_null (strstr (big, "... and 80 more"), "%s", big);
    segq_config_destroy (&c);
    segq_config_destroy (&d);
}

Test (config, load_reports_missing_file, .timeout = 10)
{
    segq_config_t *c = segq_config_new ();
    char err [512];
    cr_assert_eq (segq_config_load (c, "/nonexistent/segqd.conf", err, sizeof err), SEGQ_ENOENT);
    cr_assert_not_null (strstr (err, "/nonexistent/segqd.conf"), "%s", err);
    segq_config_destroy (&c);
}

/* The fuzz seeds replay here under ASan/UBSan on every run: each parses
   or is refused with a message naming a line. */
Test (config, fuzz_corpus_replays, .timeout = 30)
{
    const char *dir = SEGQ_SOURCE_DIR "/tests/fuzz/corpus/config";
    DIR *d = opendir (dir);
    cr_assert_not_null (d, "%s is missing", dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir (d))) {
        if (e->d_name [0] == '.')
            continue;
        char path [1024];
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        segq_config_t *c = segq_config_new ();
        char err [4096];
        int rc = segq_config_load (c, path, err, sizeof err);
        cr_assert (rc == 0 || (rc == SEGQ_EINVAL && strstr (err, path)), "%s: %d %s", path, rc,
                   err);
        segq_config_destroy (&c);
        files++;
    }
    closedir (d);
    cr_assert_geq (files, 5);
}
