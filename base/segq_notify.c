/*  segq_notify.c: the daemons' notices to systemd (segq_notify.h). */
#include "segq_notify.h"
#include "segq_error.h"
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

int
segq_notify (segq_notify_state_t state, const char *fmt, ...)
{
    char message [1024];
    int n = 0;
    if (state == SEGQ_NOTIFY_READY)
        n = snprintf (message, sizeof message, "READY=1\n");
    else if (state == SEGQ_NOTIFY_STOPPING)
        n = snprintf (message, sizeof message, "STOPPING=1\n");
    else if (state == SEGQ_NOTIFY_RELOADING) {
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        n = snprintf (message, sizeof message, "RELOADING=1\nMONOTONIC_USEC=%llu\n",
                      (unsigned long long) now.tv_sec * 1000000ULL
                          + (unsigned long long) now.tv_nsec / 1000ULL);
    }
    n += snprintf (message + n, sizeof message - (size_t) n, "STATUS=");
    /* a status too long for the datagram is cut, never the state */
    va_list args;
    va_start (args, fmt);
    vsnprintf (message + n, sizeof message - (size_t) n, fmt, args);
    va_end (args);
    /* 0: nobody listens; >0: sent. NOTIFY_SOCKET stays set (unset_environment
       0): a daemon notifies more than once. */
    return sd_notify (0, message) < 0 ? SEGQ_EIO : 0;
}
