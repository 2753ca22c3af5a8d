/*  test_conf_lines.c: segq_base's "key = value" line reader
    (segq_conf_lines.h), which segqd.conf and slurm-scale.conf share. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "segq_conf_lines.h"
#include "segq_error.h"

static segq_conf_lines_t s_reader;
static char s_err [4096];

/* Starts reading text (a C string) as the file "f", with sections. */
static segq_conf_lines_t *
s_read (const char *text)
{
    segq_conf_lines_init (&s_reader, "f", text, strlen (text), "[a] or [b NAME]", s_err,
                          sizeof s_err);
    return &s_reader;
}

/* The next line must be key = value, on line `line`. */
static void
s_expect_pair (segq_conf_lines_t *r, int line, const char *key, const char *value)
{
    segq_conf_line_t l;
    cr_assert (segq_conf_lines_next (r, &l), "no line %d: %s", line, s_err);
    cr_assert_eq (l.line, line);
    cr_assert_null (l.section);
    cr_assert_str_eq (l.key, key);
    cr_assert_str_eq (l.value, value);
}

/* The text must have no line that says something, and one problem: want. */
static void
s_expect_refused (const char *text, const char *want)
{
    segq_conf_lines_t *r = s_read (text);
    segq_conf_line_t l;
    cr_assert_not (segq_conf_lines_next (r, &l), "read line %d: %s", l.line, text);
    cr_assert_eq (segq_conf_lines_end (r), 1, "%s", s_err);
    cr_assert_str_eq (s_err, want);
}

static void
s_expect_end (segq_conf_lines_t *r)
{
    segq_conf_line_t l;
    cr_assert_not (segq_conf_lines_next (r, &l), "more: line %d", l.line);
    cr_assert_eq (segq_conf_lines_end (r), 0, "%s", s_err);
    cr_assert_str_eq (s_err, "");
}

Test (conf_lines, byte_order_mark_skipped_at_the_start_only)
{
    segq_conf_lines_t *r = s_read ("\xef\xbb\xbf"
                                   "a = 1\n");
    s_expect_pair (r, 1, "a", "1");
    s_expect_end (r);
    s_expect_refused ("\n\xef\xbb\xbf"
                      "a = 1\n",
                      "f:2: '\xef\xbb\xbf"
                      "a' is not a key: keys are lowercase letters, digits, '-' and '_', at "
                      "most 64 of them");
}

Test (conf_lines, comments_and_blank_lines_skipped_lines_counted)
{
    segq_conf_lines_t *r = s_read ("# a comment\n\n \t \n   # indented\nkey = v\n\nb=2");
    s_expect_pair (r, 5, "key", "v");
    s_expect_pair (r, 7, "b", "2");
    s_expect_end (r);
}

Test (conf_lines, blanks_and_carriage_returns_trimmed)
{
    segq_conf_lines_t *r = s_read ("  data_dir\t=   /srv/my data \t\r\nx-y=z\r\n");
    s_expect_pair (r, 1, "data_dir", "/srv/my data");
    s_expect_pair (r, 2, "x-y", "z");
    s_expect_end (r);
}

Test (conf_lines, quoted_values_refused)
{
    s_expect_refused ("dir = \"/srv/segq\"\n",
                      "f:1: dir = \"/srv/segq\": values are not quoted (write dir = /srv/segq)");
    s_expect_refused ("x = 'a b'\n", "f:1: x = 'a b': values are not quoted (write x = a b)");
    segq_conf_lines_t *r = s_read ("setup = echo \"hi\"\nq = \"\nsbatch = --comment=\"x\"\n");
    s_expect_pair (r, 1, "setup", "echo \"hi\"");
    s_expect_pair (r, 2, "q", "\"");
    s_expect_pair (r, 3, "sbatch", "--comment=\"x\"");
    s_expect_end (r);
}

Test (conf_lines, comment_after_a_value_refused)
{
    s_expect_refused ("n = 8   # jobs\n",
                      "f:1: a comment after the value of 'n': put '#' comments on a line of "
                      "their own");
    s_expect_refused ("n = #8\n", "f:1: a comment after the value of 'n': put '#' comments on a "
                                  "line of their own");
    segq_conf_lines_t *r = s_read ("url = http://h/#top\n");
    s_expect_pair (r, 1, "url", "http://h/#top");
    s_expect_end (r);
}

Test (conf_lines, line_without_equals_sign)
{
    s_expect_refused ("\nno equals sign\n",
                      "f:2: expected 'key = value', '[section]' or a '#' comment");
    segq_conf_lines_init (&s_reader, "g", "[a]\n", 4, NULL, s_err, sizeof s_err);
    segq_conf_line_t l;
    cr_assert_not (segq_conf_lines_next (&s_reader, &l), "a file without sections has none");
    cr_assert_str_eq (s_err, "g:1: expected 'key = value' or a '#' comment");
}

Test (conf_lines, key_missing_or_not_a_key)
{
    s_expect_refused ("  = 3\n", "f:1: a key is missing before '='");
    s_expect_refused ("Max_running = 3\n", "f:1: 'Max_running' is not a key: keys are lowercase "
                                           "letters, digits, '-' and '_', at most 64 of them");
    s_expect_refused ("a b = 3\n", "f:1: 'a b' is not a key: keys are lowercase letters, digits, "
                                   "'-' and '_', at most 64 of them");
}

Test (conf_lines, empty_value_refused)
{
    s_expect_refused ("ready_file =  \n",
                      "f:1: ready_file = '': no value (leave the line out for its default)");
}

Test (conf_lines, control_characters_refused_tabs_taken)
{
    s_expect_refused ("a = b\x01"
                      "c\n",
                      "f:1: a control character: write plain text");
    s_expect_refused ("a = b\x7f\n", "f:1: a control character: write plain text");
    s_expect_refused ("a = b\rc\n", "f:1: a control character: write plain text");
    const char nul [] = "# x\0y\n";
    segq_conf_lines_init (&s_reader, "f", nul, sizeof nul - 1, NULL, s_err, sizeof s_err);
    segq_conf_line_t l;
    cr_assert_not (segq_conf_lines_next (&s_reader, &l));
    cr_assert_str_eq (s_err, "f:1: NUL byte: this is not a text file",
                      "a NUL says binary, even in a comment");
    segq_conf_lines_t *r = s_read ("setup = a\tb\n");
    s_expect_pair (r, 1, "setup", "a\tb");
    s_expect_end (r);
}

Test (conf_lines, long_keys_and_lines_refused)
{
    char text [SEGQ_CONF_LINE_MAX + 16];
    memset (text, 'k', SEGQ_CONF_KEY_MAX);
    strcpy (text + SEGQ_CONF_KEY_MAX, " = v\n");
    segq_conf_lines_t *r = s_read (text);
    segq_conf_line_t l;
    cr_assert (segq_conf_lines_next (r, &l), "a key of 64 bytes is one: %s", s_err);
    cr_assert_eq (strlen (l.key), SEGQ_CONF_KEY_MAX);
    memset (text, 'k', SEGQ_CONF_KEY_MAX + 1);
    strcpy (text + SEGQ_CONF_KEY_MAX + 1, " = v\n");
    r = s_read (text);
    cr_assert_not (segq_conf_lines_next (r, &l));
    cr_assert (strstr (s_err, "f:1: 'kkkk") && strstr (s_err, "' is not a key"), "%s", s_err);
    cr_assert_lt (strlen (s_err), 200, "the key is shown cut: %s", s_err);
    memset (text, 'v', sizeof text);
    memcpy (text, "k = ", 4);
    text [SEGQ_CONF_LINE_MAX] = 0;
    r = s_read (text);
    s_expect_pair (r, 1, "k", text + 4);
    text [SEGQ_CONF_LINE_MAX] = 'v';
    text [SEGQ_CONF_LINE_MAX + 1] = 0;
    s_expect_refused (text, "f:1: line longer than 4095 bytes");
}

Test (conf_lines, section_headers)
{
    segq_conf_lines_t *r = s_read ("[ b  alice ]\nk = v\n[a]\n");
    segq_conf_line_t l;
    cr_assert (segq_conf_lines_next (r, &l));
    cr_assert (l.line == 1 && l.key == NULL && l.value == NULL);
    cr_assert_str_eq (l.section, "b  alice");
    s_expect_pair (r, 2, "k", "v");
    cr_assert (segq_conf_lines_next (r, &l));
    cr_assert_str_eq (l.section, "a");
    s_expect_end (r);
    /* a header refused still ends the section before it */
    r = s_read ("[b x\n");
    cr_assert (segq_conf_lines_next (r, &l));
    cr_assert (l.line == 1 && !l.section && !l.key && !l.value);
    cr_assert_eq (segq_conf_lines_end (r), 1);
    cr_assert_str_eq (s_err, "f:1: a section header ends with ']': expected [a] or [b NAME]");
}

Test (conf_lines, callers_problems_join_the_readers_and_are_capped)
{
    char text [1024] = "";
    for (int i = 0; i < 24; i++)
        strcat (text, "nonsense\n");
    strcat (text, "k = v\n");
    segq_conf_lines_t *r = s_read (text);
    s_expect_pair (r, 25, "k", "v");
    segq_conf_lines_error (r, 25, "k = v: %s", "not what k takes");
    cr_assert_eq (segq_conf_lines_errors (r), 25);
    cr_assert_eq (segq_conf_lines_end (r), 25);
    cr_assert (strstr (s_err, "f:1: expected 'key = value'"), "%s", s_err);
    cr_assert (strstr (s_err, "f:20: expected"), "%s", s_err);
    cr_assert_null (strstr (s_err, "f:21:"), "past the 20 shown: %s", s_err);
    cr_assert (strstr (s_err, "\nf: ... and 5 more"), "%s", s_err);
}

Test (conf_lines, small_or_no_message_buffer)
{
    char small [40];
    segq_conf_lines_init (&s_reader, "file", "x\ny\n", 4, NULL, small, sizeof small);
    segq_conf_line_t l;
    cr_assert_not (segq_conf_lines_next (&s_reader, &l));
    cr_assert_eq (segq_conf_lines_end (&s_reader), 2);
    cr_assert_eq (strlen (small), sizeof small - 1, "cut, and NUL-terminated: %s", small);
    segq_conf_lines_init (&s_reader, NULL, "x\n", 2, NULL, NULL, 0);
    cr_assert_not (segq_conf_lines_next (&s_reader, &l));
    cr_assert_eq (segq_conf_lines_end (&s_reader), 1);
}

Test (conf_lines, read_file)
{
    char path [] = "/tmp/segq_conf_lines_XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    cr_assert_eq (write (fd, "a = 1\n", 6), 6);
    cr_assert_eq (close (fd), 0);
    char *text;
    size_t len;
    char err [512];
    cr_assert_eq (segq_conf_read_file (path, 6, &text, &len, err, sizeof err), 0, "%s", err);
    cr_assert (len == 6 && memcmp (text, "a = 1\n", 6) == 0);
    free (text);
    cr_assert_eq (segq_conf_read_file (path, 5, &text, &len, err, sizeof err), SEGQ_ETOOBIG);
    cr_assert_null (text);
    cr_assert (strstr (err, path) && strstr (err, "is over 5 bytes"), "%s", err);
    cr_assert_eq (unlink (path), 0);
    cr_assert_eq (segq_conf_read_file (path, 6, &text, &len, err, sizeof err), SEGQ_ENOENT);
    cr_assert (strstr (err, "cannot read config file /tmp/segq_conf_lines_"), "%s", err);
}

Test (conf_lines, yes_or_no)
{
    static const char *const yes [] = { "yes", "true", "on", "1" };
    static const char *const no [] = { "no", "false", "off", "0" };
    bool b = false;
    for (size_t i = 0; i < 4; i++) {
        cr_assert (segq_parse_bool (yes [i], &b) == 0 && b, "%s", yes [i]);
        cr_assert (segq_parse_bool (no [i], &b) == 0 && !b, "%s", no [i]);
    }
    b = true;
    cr_assert_eq (segq_parse_bool ("Yes", &b), SEGQ_EINVAL, "lowercase, as job parameters");
    cr_assert_eq (segq_parse_bool ("y", &b), SEGQ_EINVAL);
    cr_assert_eq (segq_parse_bool ("", &b), SEGQ_EINVAL);
    cr_assert (b, "left as it was");
}
