/*  WAL syncer: requests are answered in order through the notification fd,
    before the WAL exists too; wait blocks until the commit is durable. */
#include <poll.h>
#include "broker_test_util.h"
#include "wal_syncer.h"

Test (wal_syncer, reports_commits_synced_in_order, .timeout = 20)
{
    char dir [256], wal [300], err [256] = "";
    test_tmpdir (dir, sizeof dir);
    snprintf (wal, sizeof wal, "%s/segq.db-wal", dir);
    segq__wal_syncer_t *syncer = segq__wal_syncer_new (wal, dir, err, sizeof err);
    cr_assert_not_null (syncer, "%s", err);
    int error = -1;
    cr_assert_eq (segq__wal_syncer_synced (syncer, &error), 0);
    cr_assert_eq (error, 0);
    /* no WAL yet: nothing to sync, still answered */
    segq__wal_syncer_request (syncer, 1);
    cr_assert_eq (segq__wal_syncer_wait (syncer, 1), 0);
    FILE *file = fopen (wal, "w");
    cr_assert (file);
    fputs ("frames", file);
    fclose (file);
    for (uint64_t commit = 2; commit <= 50; commit++)
        segq__wal_syncer_request (syncer, commit);
    uint64_t synced = 0;
    while (synced < 50) {
        struct pollfd item = { segq__wal_syncer_fd (syncer), POLLIN, 0 };
        cr_assert_eq (poll (&item, 1, 5000), 1, "the fd wakes the reactor");
        uint64_t now = segq__wal_syncer_synced (syncer, &error);
        cr_assert_eq (error, 0);
        cr_assert_geq (now, synced, "never goes back");
        synced = now;
    }
    segq__wal_syncer_request (syncer, 51);
    segq__wal_syncer_destroy (&syncer);     /* finishes the sync in progress */
    cr_assert_null (syncer);
    test_rmdir (dir);
}
