/*  segq_generate_names: generate's pair names, and what the list of a
    generation's outputs costs in its RESULT message, against the names
    themselves. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "segq_error.h"
#include "segq_generate_names.h"

Test (generate_names, stems_and_pair_names)
{
    static const char *const stems [][2] = {
        { "cju0qkwl35piu0993l0dewei2.jpg", "cju0qkwl35piu0993l0dewei2" },
        { "polyp one (2).png", "polyp_one__2_" },
        { "archive.tar.gz", "archive.tar" },
        { ".png", ".png" },
        { "", "source" },
    };
    char stem [256], name [512];
    for (size_t i = 0; i < sizeof stems / sizeof stems [0]; i++) {
        segq_generate_stem (stems [i][0], stem, sizeof stem);
        cr_expect_str_eq (stem, stems [i][1]);
    }
    /* a long name is cut, so that every pair's name stays a file name */
    char long_name [300];
    memset (long_name, 'a', 240);
    snprintf (long_name + 240, sizeof long_name - 240, ".png");
    segq_generate_stem (long_name, stem, sizeof stem);
    cr_expect_eq (strlen (stem), SEGQ_GENERATE_STEM_MAX);
    segq_generate_pair_name (stem, "0123456789abcdef", INT64_MAX, 999999999, name, sizeof name);
    cr_expect_lt (strlen ("images/") + strlen (name) + strlen (".png"), 256);
    segq_generate_pair_name ("img", "0123456789abcdef", 42, 7, name, sizeof name);
    cr_expect_str_eq (name, "img_01234567_s42_00007");
    segq_generate_pair_name ("img", "0123456789abcdef", 42, 1234567, name, sizeof name);
    cr_expect_str_eq (name, "img_01234567_s42_1234567");
}

/* What the two files beside the pairs take in the list. */
#define S_FIXED                                                                                    \
    (SEGQ_RESULT_ENTRY_BYTES (strlen ("manifest.csv"))                                             \
     + SEGQ_RESULT_ENTRY_BYTES (strlen ("contact_sheet.png")))

/* The list the worker would send for these pairs, name by name. */
static uint64_t
s_listed (const char *stem, int64_t seed, int64_t count)
{
    char name [512], path [600];
    uint64_t listed = S_FIXED;
    for (int64_t i = 0; i < count; i++) {
        segq_generate_pair_name (stem, "fedcba9876543210", seed, i, name, sizeof name);
        listed += SEGQ_RESULT_ENTRY_BYTES (snprintf (path, sizeof path, "images/%s.png", name));
        listed += SEGQ_RESULT_ENTRY_BYTES (snprintf (path, sizeof path, "masks/%s.png", name));
    }
    return listed;
}

/* The pairs reckoned exactly, the files beside them as 8 of 32 bytes:
   room for a stylize of the generation, which lists the same pairs and
   files of its own. */
Test (generate_names, list_bytes_cover_the_names_written)
{
    /* counts on both sides of where the index gets a sixth digit */
    const int64_t counts [] = { 1, 99999, 100000, 100001, 123456 };
    const int64_t seeds [] = { 0, 7, 9007199254740991 };
    const uint64_t stylize = SEGQ_RESULT_ENTRY_BYTES (strlen ("losses.csv"))
                             + SEGQ_RESULT_ENTRY_BYTES (strlen ("final_losses.csv"))
                             + SEGQ_RESULT_ENTRY_BYTES (strlen ("stylize.json"));
    for (size_t c = 0; c < sizeof counts / sizeof counts [0]; c++)
        for (size_t s = 0; s < sizeof seeds / sizeof seeds [0]; s++) {
            uint64_t listed = s_listed ("polyp", seeds [s], counts [c]);
            uint64_t bytes = segq_generate_list_bytes (strlen ("polyp"), seeds [s], counts [c]);
            cr_expect_eq (bytes, listed - S_FIXED + 8 * SEGQ_RESULT_ENTRY_BYTES (32),
                          "count %lld seed %lld: %llu bytes reckoned, %llu listed",
                          (long long) counts [c], (long long) seeds [s], (unsigned long long) bytes,
                          (unsigned long long) listed);
            cr_expect_leq (listed + stylize, bytes);
        }
    cr_expect_eq (segq_generate_list_bytes (5, 0, 0), 0);
}

Test (generate_names, a_count_over_the_message_is_refused_with_the_most_that_fit)
{
    char err [512];
    const uint64_t max_msg = 4u << 20;
    const size_t stem = strlen ("cju0qkwl35piu0993l0dewei2");
    const int64_t seed = 123456789;
    int64_t fits = 1;
    while (segq_generate_list_bytes (stem, seed, fits + 1) + SEGQ_RESULT_SLACK <= max_msg)
        fits++;
    cr_expect_eq (segq_generate_check_count (stem, seed, fits, max_msg, err, sizeof err), 0);
    cr_assert_eq (segq_generate_check_count (stem, seed, fits + 1, max_msg, err, sizeof err),
                  SEGQ_ETOOBIG);
    char want [96];
    snprintf (want, sizeof want, "at most %lld pairs per generate job", (long long) fits);
    cr_expect (strstr (err, want), "%s", err);
    cr_expect (strstr (err, "raise max_msg"), "%s", err);
    /* a message smaller than the slack holds no pair */
    cr_expect_eq (segq_generate_check_count (stem, seed, 1, 4096, err, sizeof err), SEGQ_ETOOBIG);
    cr_expect (strstr (err, "at most 0 pairs"), "%s", err);
}
