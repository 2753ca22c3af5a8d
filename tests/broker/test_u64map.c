/*  u64map: random inserts and removals checked against a plain array. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include "u64map.h"

Test (u64map, matches_a_reference_under_churn, .timeout = 20)
{
    enum { KEYS = 20000 };
    static void *reference [KEYS];
    segq__u64map_t *map = segq__u64map_new ();
    cr_assert (map);
    srand (7);
    size_t live = 0;
    for (int step = 0; step < 200000; step++) {
        uint64_t key = (uint64_t) (rand () % (KEYS - 1)) + 1;
        if (rand () % 3) {
            void *value = (void *) (uintptr_t) (step + 1);
            if (!reference [key])
                live++;
            reference [key] = value;
            cr_assert_eq (segq__u64map_put (map, key, value), 0);
        } else {
            void *was = segq__u64map_remove (map, key);
            cr_assert_eq (was, reference [key], "remove %llu", (unsigned long long) key);
            if (reference [key])
                live--;
            reference [key] = NULL;
        }
        cr_assert_eq (segq__u64map_size (map), live);
    }
    for (uint64_t key = 1; key < KEYS; key++)
        cr_assert_eq (segq__u64map_get (map, key), reference [key]);
    size_t cursor = 0, seen = 0;
    uint64_t key;
    void *value;
    while ((value = segq__u64map_next (map, &cursor, &key))) {
        cr_assert_eq (value, reference [key]);
        seen++;
    }
    cr_assert_eq (seen, live);
    cr_assert_eq (segq__u64map_put (map, 0, &seen), -5, "key 0 is refused");
    segq__u64map_destroy (&map);
    cr_assert_null (map);
}
