/* stylize_manifest.h: a generation's manifest.csv as stylize, evaluate and
 * `segq submit` read it, without libtorch (so under ASan and UBSan): RFC
 * 4180 quoting, every malformed file refused naming the file, its line and
 * what is wrong, and lookups by pair name in a large manifest. */
#include "stylize_manifest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* text parsed as the manifest "m.csv": its rc, with *out and err filled. */
static int parse(const char *text, segq_manifest_t **out, char *err, size_t errlen)
{
    FILE *f = fmemopen((void *)text, strlen(text), "rb");
    cr_assert_not_null(f);
    err[0] = '\0';
    int rc = segq_manifest_parse(f, "m.csv", out, err, errlen);
    fclose(f);
    return rc;
}

Test(manifest, quoting_and_lookups)
{
    segq_manifest_t *m = NULL;
    char err[256];
    const char *text = "name,source_image,note\r\n"
                       "\"a,1.png\",img.png,\"said \"\"hi\"\"\"\r\n"
                       "b.png,img2.png,\"two\nlines\"\n"
                       "c.png,,";
    cr_assert_eq(parse(text, &m, err, sizeof err), 0, "%s", err);
    cr_expect_eq(segq_manifest_rows(m), 3);
    cr_expect_str_eq(segq_manifest_get(m, "a,1.png", "note"), "said \"hi\"");
    cr_expect_str_eq(segq_manifest_get(m, "b.png", "note"), "two\nlines");
    cr_expect_str_eq(segq_manifest_get(m, "c.png", "source_image"), "");
    cr_expect_null(segq_manifest_get(m, "d.png", "note"), "no such pair");
    cr_expect_null(segq_manifest_get(m, "b.png", "seed"), "no such column");
    segq_manifest_destroy(&m);
    cr_expect_null(m);
}

Test(manifest, malformed_files_are_refused_naming_what)
{
    static const struct {
        const char *text, *error;
    } bad[] = {
        {"", "m.csv: no 'name' column in the header"},
        {"pair,seed\na.png,1\n", "m.csv: no 'name' column in the header"},
        {"name,seed\na.png,1\nb.png\n", "m.csv line 3: 1 fields, the header has 2"},
        {"name,seed\na.png,1,2", "m.csv line 2: 3 fields, the header has 2"},
        {"name,seed\n\"a.png,1\n", "m.csv line 3: quoted field not closed"},
        {"name,seed\nb.png,1\na.png,2\nb.png,3\n", "m.csv: pair 'b.png' is listed twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        segq_manifest_t *m = NULL;
        char err[256];
        cr_expect_lt(parse(bad[i].text, &m, err, sizeof err), 0, "accepted: %s", bad[i].text);
        cr_expect_null(m);
        cr_expect_str_eq(err, bad[i].error);
    }
}

/* Every row of a generation of 20,000 pairs, written in the reverse of
 * their names' order, is found by its name through the sorted index, and
 * a duplicate among them is found. */
Test(manifest, large_manifest_found_by_name, .timeout = 60)
{
    enum { ROWS = 20000 };
    size_t cap = (size_t)ROWS * 40 + 64, len = 0;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    len += (size_t)snprintf(text, cap, "seed,name\n");
    for (int i = ROWS - 1; i >= 0; i--)
        len += (size_t)snprintf(text + len, cap - len, "%d,gen_%07d.png\n", i, i);
    segq_manifest_t *m = NULL;
    char err[256], name[32];
    cr_assert_eq(parse(text, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(segq_manifest_rows(m), ROWS);
    for (int i = 0; i < ROWS; i++) {
        snprintf(name, sizeof name, "gen_%07d.png", i);
        const char *seed = segq_manifest_get(m, name, "seed");
        cr_assert(seed && atoi(seed) == i, "%s: seed %s", name, seed ? seed : "(none)");
    }
    segq_manifest_destroy(&m);
    /* the last row again: refused as listed twice */
    len += (size_t)snprintf(text + len, cap - len, "7,gen_0000000.png\n");
    cr_expect_lt(parse(text, &m, err, sizeof err), 0);
    cr_expect(strstr(err, "'gen_0000000.png' is listed twice"), "%s", err);
    free(text);
}
