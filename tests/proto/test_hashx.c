/*  test_hashx.c: segq_hashx gives the keys segq makes hashes of their own,
    where zhashx's own hash gives whole families of them one hash. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "segq_hashx.h"

/* zhashx's own string hash (Bernstein's, 33 * h ^ c), to show the keys
   below are ones it cannot tell apart. */
static size_t
s_bernstein (const char *key)
{
    size_t h = 0;
    while (*key)
        h = 33 * h ^ (unsigned char) *key++;
    return h;
}

static int
s_order (const void *a, const void *b)
{
    size_t x = *(const size_t *) a, y = *(const size_t *) b;
    return x < y ? -1 : x > y;
}

/* Job ids as the broker writes them (base 32, padded to 4 digits). */
static void
s_job_key (unsigned n, unsigned attempt, char *out, size_t len)
{
    static const char digits [] = "0123456789abcdefghjkmnpqrstvwxyz";
    char id [16];
    int at = (int) sizeof id - 1;
    id [at] = 0;
    for (; n || at > (int) sizeof id - 5; n >>= 5)
        id [--at] = digits [n & 31];
    snprintf (out, len, "%s#%u", id + at, attempt);
}

Test (hashx, job_keys_get_hashes_of_their_own, .timeout = 30)
{
    cr_assert_eq (s_bernstein ("0001#1"), s_bernstein ("002s#1"));
    cr_assert_eq (s_bernstein ("0001#1"), s_bernstein ("02ps#1"));
    enum { JOBS = 12000, ATTEMPTS = 3 };
    size_t *hashes = calloc (JOBS * ATTEMPTS, sizeof *hashes);
    cr_assert_not_null (hashes);
    size_t n = 0;
    for (unsigned job = 1; job <= JOBS; job++)
        for (unsigned attempt = 1; attempt <= ATTEMPTS; attempt++) {
            char key [32];
            s_job_key (job, attempt, key, sizeof key);
            hashes [n++] = segq_hashx_hash (key);
        }
    qsort (hashes, n, sizeof *hashes, s_order);
    for (size_t i = 1; i < n; i++)
        cr_assert_neq (hashes [i], hashes [i - 1], "two of %zu job keys share a hash", n);
    free (hashes);
}

/* The keys that share zhashx's own hash, held together and looked up
   again and again: every one found, in a table of four. */
Test (hashx, keys_alike_stay_found, .timeout = 30)
{
    const char *keys [] = { "0001#1", "002s#1", "02ps#1", "02r1#1" };
    zhashx_t *table = segq_hashx_new ();
    cr_assert_not_null (table);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq (zhashx_insert (table, keys [i], (void *) keys [i]), 0);
    for (int round = 0; round < 1000; round++)
        for (size_t i = 0; i < 4; i++)
            cr_assert_eq (zhashx_lookup (table, keys [i]), keys [i], "round %d, %s", round,
                          keys [i]);
    cr_assert_eq (zhashx_size (table), 4);
    zhashx_destroy (&table);
}
