/*  segq_broker.h: segqd, the queue's broker, as a library.

    One ROUTER socket and a single-threaded zloop reactor (a few helper
    threads only wait on the disk for transfers' fsyncs and reads). Each
    loop turn drains up to a bound of messages, handles them, dispatches
    queued jobs to free capacity, commits everything in one SQLite
    transaction, and only then sends the replies (group commit: an
    acknowledged submit or result is on disk).

    Data directory layout (private: 0700 folders, 0600 files):
        segq.db (+ -wal, -shm)      jobs, inputs, dependencies, outputs,
                                    transitions, workers seen
        artifacts/aa/<sha256>       content-addressed artifacts
        artifacts/tmp/              uploads in progress (emptied at start)
        logs/<job>.log              each job's log
        audit.log                   who submitted, fetched, purged, cancelled what
                                    (JSON lines, append-only)
*/
#ifndef SEGQ_BROKER_H
#define SEGQ_BROKER_H

#include <stddef.h>
#include <stdint.h>
#include "segq_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *bind; /* "tcp://127.0.0.1:5555"; port "*" = ephemeral */
    const char *data_dir;
    const char *ready_file;           /* or NULL: the bound endpoint + "\n" once serving */
    uint32_t heartbeat_ms;            /* 0 = 1000 */
    uint32_t expiry_ms;               /* 0 = 5000 */
    uint32_t max_msg;                 /* 0 = SEGQ_DEFAULT_MAX_MSG */
    uint32_t chunk_size;              /* 0 = SEGQ_DEFAULT_CHUNK */
    uint32_t default_time_limit_s;    /* 0 = none */
    uint32_t max_attempts;            /* 0 = 3 */
    uint32_t max_transfers;           /* artifact transfers open at once, all clients
                                         together; 0 = 256 */
    uint32_t max_transfers_per_peer;  /* ... from one connection; 0 = 16. Registered
                                         workers are bounded by their jobs instead */
    uint64_t max_artifact_size;       /* largest upload, bytes; 0 = 64 GiB */
    int verbose;                      /* 0 quiet, 1 requests, 2 every message */
    double retention_s;               /* artifacts and logs of jobs that ended this long
                                         ago are purged; 0 = kept until `segq purge` */
    const char *keys_dir;             /* CurveZMQ keys (broker.cert, certs/); NULL: none, and
                                         then only loopback may be bound */
    const struct segq_config *limits; /* per-user limits (segq_config.h); NULL: none.
                                         Must outlive the broker. */
    const char *http;                 /* metrics and status page on "ADDR:PORT"; NULL: none */
    const char *http_cert, *http_key; /* TLS for it: PEM files (the key 0600); NULL: none */
    const char *http_tokens;          /* its access tokens, "TOKEN USER" lines; NULL: none */
    double fairshare_half_life_s;     /* past usage's half-life in fair share; 0 = 7 days,
                                         < 0 = none (only running work counts) */
    const char *config_file;          /* where `limits` came from: re-read on reload */
    int reload_fd;                    /* > 0: readable when a reload is asked (segqd: a
                                         signalfd of SIGHUP); the broker drains it and
                                         re-reads config_file's per-user limits and
                                         kinds' default resources. 0: none */
} segq_broker_config_t;

typedef struct segq_broker segq_broker_t;

/* Opens the data directory and database, rebuilds the in-memory state,
   binds. NULL with err filled on failure, and errno EINVAL when the
   settings are what is wrong (a restart with them cannot help: a public
   address without keys, HTTP off loopback without TLS and tokens, a secret
   file others can read), else ENOMEM or EIO. */
segq_broker_t *segq_broker_new (const segq_broker_config_t *config, char *err, size_t errlen);
void segq_broker_destroy (segq_broker_t **self_p);

/* The endpoint actually bound (ephemeral port resolved). */
const char *segq_broker_endpoint (segq_broker_t *self);

/* Serves until SIGINT/SIGTERM (CZMQ's interrupt flag); commits and returns 0. */
int segq_broker_run (segq_broker_t *self);

#ifdef __cplusplus
}
#endif
#endif
