/*  harness.h: real segqd / segq-worker processes for integration tests.

    Each harness owns a temporary directory (broker data dir, worker work
    and cache dirs, the exactly-once journal, every process's log) and the
    processes it started. harness_destroy kills them all (SIGKILL, then
    waits) and removes the directory; children also get PDEATHSIG so a test
    killed by its timeout leaves nothing running. Set SEGQ_KEEP_TMP=1 to
    keep the directory for a post-mortem (its path is printed).

    Binaries are found under $SEGQ_BINARY_DIR (else the SEGQ_BINARY_DIR
    compile definition) in the build tree's broker/, worker/ and client/.
*/
#ifndef SEGQ_HARNESS_H
#define SEGQ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "segq_client.h"
#include "segq_proto.h" /* tests also speak the wire directly */

#define H_MAX_WORKERS 8
/* Broker ports: below the kernel's ephemeral range (32768..60999 on Linux). */
#define H_PORT_MIN 20000
#define H_PORT_MAX 32000

typedef struct {
    pid_t pid;
    char node [64];
    char log [512];
    char ready [512];
    char work_dir [512];
    char cache_dir [512];
} h_worker_t;

typedef struct {
    char dir [256];      /* the temporary root */
    char data_dir [512]; /* broker's */
    char journal [512];  /* SEGQ_TEST_JOURNAL of the workers */
    char endpoint [256]; /* tcp://127.0.0.1:PORT, the broker's for the harness's life */
    int port_lock;       /* fd holding the lock on that port */
    char broker_log [512];
    pid_t broker;
    int heartbeat_ms; /* passed to segqd; default 500 */
    int expiry_ms;    /* default 4000 */
    /* segqd's extra environment (harness_preload), NULL-terminated */
    char broker_env_text [5][1200];
    const char *broker_env [6];
    h_worker_t workers [H_MAX_WORKERS];
    int n_workers;
} harness_t;

/* NULL (and a message on stderr) if the temp dir cannot be made. */
harness_t *harness_new (const char *name);
void harness_destroy (harness_t **self_p);

/* Sleeps ms milliseconds, whatever signals come. */
void harness_sleep_ms (int ms);

/* Path of a built binary ("segqd", "segq-worker", "segq"); aborts the test
   if it is not there. */
const char *harness_binary (const char *name);

/* Start segqd on a port of the harness's own (first time) or on the
   endpoint it had (after a kill: workers must find it again), wait for
   its ready file.
   extra: NULL-terminated extra arguments, or NULL. 0 or -1. */
int harness_start_broker (harness_t *self, const char *const *extra);
/* Makes the disk of the segqd started next slow (tests/broker/slow_disk.c,
   loaded ahead of its libraries): each of its fsyncs waits delay_us first;
   with an fsync_gate (a path), an upload's fsync creates GATE.waiting and
   waits until the gate exists; with a read_gate, so does a read of a
   stored artifact, which is never found in memory. */
void harness_slow_disk (harness_t *self, const char *fsync_gate, const char *read_gate,
                        unsigned delay_us);
/* The segqd started next loads `shim` (a test .so, LD_PRELOAD) ahead of
   its libraries, with up to 3 "NAME=VALUE" of its environment (vars ends
   at the first NULL). */
void harness_preload (harness_t *self, const char *shim, const char *const vars [3]);

/* Stop every process gracefully (SIGTERM: workers first, then the broker)
   and wait for them. 0 if all exited with status 0; otherwise -1 and
   `why` says which did not (under ASan a leak makes the exit status
   non-zero: its report is in that process's log). */
int harness_stop (harness_t *self, char *why, size_t len);

/* Send sig to the broker; on SIGKILL/SIGTERM also reap it. */
void harness_signal_broker (harness_t *self, int sig);

/* Start a worker named `node` with `cpu_slots` slots; waits until it has
   registered (its ready file). Returns its index or -1. */
int harness_start_worker (harness_t *self, const char *node, int cpu_slots,
                          const char *const *extra);
void harness_signal_worker (harness_t *self, int index, int sig);
/* Is the process still running (not reaped)? */
bool harness_worker_alive (harness_t *self, int index);

/* The user the harness's clients and CLI runs act as without keys. */
#define H_USER "tester"

/* A libsegq client connected to the broker (timeout_ms 0: 5 s), as H_USER. */
segq_client_t *harness_client (harness_t *self, int timeout_ms);

/* Run the segq CLI with --broker set; argv NULL-terminated (without
   "segq"). stdout and stderr captured (truncated to their sizes).
   Returns the exit status, or -1 if it could not run / was killed. */
int harness_cli (harness_t *self, char *out, size_t outlen, char *err, size_t errlen,
                 const char *const *argv);

/* Poll until job is final or timeout_ms passes; fills info (cleared by
   the caller). Returns 0, or a negative segq error / SEGQ_ETIMEOUT. */
int harness_wait_final (segq_client_t *client, const char *job, int timeout_ms,
                        segq_job_info_t *info);

/* Poll until the job is in `state` (0 or SEGQ_ETIMEOUT). */
int harness_wait_state (segq_client_t *client, const char *job, segq_job_state_t state,
                        int timeout_ms);

typedef struct {
    char job [SEGQ_JOB_ID_MAX];
    unsigned attempt;
} h_journal_entry_t;

/* The journal's entries sorted by (job, attempt) (malloc'ed, *n set;
   NULL and 0 if empty). */
h_journal_entry_t *harness_journal (harness_t *self, size_t *n);
/* The attempts of `job` in a journal from harness_journal as a bit set
   (attempts 1..63); *dups counts (job, attempt) pairs that ran more than
   once. */
uint64_t harness_journal_attempts (const h_journal_entry_t *j, size_t n, const char *job,
                                   int *dups);

/* Poll until the journal shows `job`'s attempt (0: any attempt) started:
   0, or SEGQ_ETIMEOUT. */
int harness_wait_journal (harness_t *self, const char *job, unsigned attempt, int timeout_ms);
/* Poll until the file at path (a process's log) contains text: 0, or
   SEGQ_ETIMEOUT. */
int harness_wait_text (const char *path, const char *text, int timeout_ms);

/* The number right after `key` on the last line of worker `index`'s log
   that holds key (and `also`, unless NULL), waiting up to timeout_ms for
   key to appear: a pid the worker logged, say. 0 if none. */
long harness_worker_log_number (harness_t *self, int index, const char *key, const char *also,
                                int timeout_ms);

/* The pid of the generation server that ran attempt 1 of `job` on worker
   `index` (from its log, waiting up to timeout_ms); 0 if the job ran as a
   process of its own (or never started). */
pid_t harness_gen_server_of (harness_t *self, int index, const char *job, int timeout_ms);

/* Print the tail of every process log to stderr (for failing tests). */
void harness_dump_logs (harness_t *self);

/* `segq submit ...` through the CLI (argv as for harness_cli); the job id
   it printed goes to id. 0, or -1 with the CLI's stderr (or why) in err. */
int harness_submit (harness_t *self, const char *const *argv, char *id, size_t idlen, char *err,
                    size_t errlen);

/* An executable (0755) file holding text: stand-in programs. 0 or -1. */
int harness_write_script (const char *path, const char *text);

/* A file of `size` pseudo-random bytes (seeded), for artifact tests. */
int harness_write_random_file (const char *path, size_t size, unsigned seed);

/* cr_assert that first shows the processes' logs: a failure here is
   usually explained by what segqd or a worker said. */
#define H_ASSERT(h, cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            harness_dump_logs (h);                                                                 \
            cr_assert_fail (__VA_ARGS__);                                                          \
        }                                                                                          \
    } while (0)

/* End of a test that passed: every process must stop cleanly. */
#define H_ASSERT_CLEAN_STOP(h)                                                                     \
    do {                                                                                           \
        char why_ [2048];                                                                          \
        H_ASSERT (h, harness_stop (h, why_, sizeof why_) == 0, "%s", why_);                        \
    } while (0)

#endif
