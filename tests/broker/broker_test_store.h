/*  Helpers of the broker's unit tests that hold artifacts. */
#ifndef BROKER_TEST_STORE_H
#define BROKER_TEST_STORE_H

#include "artifact_store.h"
#include "segq_sha256.h"
#include <criterion/criterion.h>
#include <string.h>

/* Stores content in the artifact store; hash gets its sha256. */
static inline void
test_store (segq__artifact_store_t *artifacts, const char *content,
            char hash [SEGQ_HASH_HEX_LEN + 1])
{
    char err [512] = "";
    size_t size = strlen (content);
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    segq_sha256_update (&sha, content, size);
    segq_sha256_final (&sha, hash);
    segq__upload_t *upload = segq__artifact_store_upload (artifacts, hash, size, err, sizeof err);
    cr_assert_not_null (upload, "%s", err);
    cr_assert_eq (segq__upload_write (upload, 0, content, size, err, sizeof err), 0, "%s", err);
    cr_assert_eq (segq__upload_finish (upload, NULL, NULL, err, sizeof err), 0, "%s", err);
    segq__upload_destroy (&upload);
}

#endif
