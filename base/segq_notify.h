/*  segq_notify.h: what segqd and segq-worker tell a service manager about
    themselves (systemd's sd_notify protocol: a datagram to $NOTIFY_SOCKET),
    so that a unit of Type=notify is "active" only once the daemon serves,
    and "deactivating" as soon as it starts to stop.

    Library segq_notify, on libsystemd; kept out of segq_base, which stays
    libc only. A call is a no-op returning 0 where no manager listens
    (NOTIFY_SOCKET unset: started by hand, by a test, by Slurm). Under
    systemd only the main process's notices count (NotifyAccess=main), so a
    job's child that inherits NOTIFY_SOCKET cannot speak for the daemon.
*/
#ifndef SEGQ_NOTIFY_H
#define SEGQ_NOTIFY_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    /* READY=1: serving (segqd: bound and its store open; segq-worker:
       registered with its broker). Sent again, it only updates STATUS. */
    SEGQ_NOTIFY_READY,
    /* RELOADING=1 (with MONOTONIC_USEC, as systemd 253's Type=notify-reload
       wants): re-reading the configuration; READY again when done. */
    SEGQ_NOTIFY_RELOADING,
    /* STOPPING=1: shutting down (segqd: its loop ended; segq-worker:
       draining). */
    SEGQ_NOTIFY_STOPPING,
    /* STATUS= alone. */
    SEGQ_NOTIFY_STATUS
} segq_notify_state_t;

/* Tells the manager STATE, with STATUS (the line `systemctl status` shows)
   from a printf format. 0 when sent or when nobody listens; SEGQ_EIO when
   sending failed. */
int segq_notify (segq_notify_state_t state, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif
