/*  stand_in_serve.c: a stand-in for `segq-run serve` (worker/gen_server.h
    speaks its protocol), so the worker's side of the generation server
    runs under the sanitizers without libtorch. `devices` says: 2 cores, no
    CUDA. `serve` answers each job on fd 3 by its --count: 666 aborts (a
    crash), 777 waits to be killed (a cancel), any other writes one pair
    under SEGQ_OUTPUT_DIR, a log line naming its pid, a progress record, and
    answers done=0, a job's usage (STAND_IN_CPU seconds, STAND_IN_RSS
    bytes) and the job's SEGQ_MODEL_SHA256 as the model it holds. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define STAND_IN_CPU "0.25"
#define STAND_IN_RSS "123456789"

/* The value of item "key=" in a message of NUL-ended items, or NULL. */
static const char *
s_item (const char *data, size_t size, const char *key)
{
    size_t len = strlen (key);
    for (size_t at = 0; at < size; at += strlen (data + at) + 1)
        if (strncmp (data + at, key, len) == 0)
            return data + at + len;
    return NULL;
}

/* One pair of files under dir. */
static int
s_write_pair (const char *dir)
{
    char path [4200];
    const char *subs [] = { "images", "masks" };
    for (int i = 0; i < 2; i++) {
        snprintf (path, sizeof path, "%s/%s", dir, subs [i]);
        mkdir (path, 0700);
        snprintf (path, sizeof path, "%s/%s/pair.png", dir, subs [i]);
        FILE *f = fopen (path, "w");
        if (!f || fputs ("not really a png\n", f) < 0 || fclose (f) != 0)
            return -1;
    }
    return 0;
}

static int
s_serve (void)
{
    static char buf [65536];
    for (;;) {
        int fds [2] = { -1, -1 };
        char control [CMSG_SPACE (sizeof fds)];
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
        struct msghdr msg = { .msg_iov = &iov,
                              .msg_iovlen = 1,
                              .msg_control = control,
                              .msg_controllen = sizeof control };
        ssize_t n = recvmsg (3, &msg, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        struct cmsghdr *cmsg = CMSG_FIRSTHDR (&msg);
        if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
            return 1;
        memcpy (fds, CMSG_DATA (cmsg), sizeof fds);
        const char *count = s_item (buf, (size_t) n, "arg=--count=");
        const char *out = s_item (buf, (size_t) n, "env=SEGQ_OUTPUT_DIR=");
        const char *model = s_item (buf, (size_t) n, "env=SEGQ_MODEL_SHA256=");
        dprintf (fds [0], "stand-in server %d: %s pairs\n", (int) getpid (), count ? count : "?");
        if (count && strcmp (count, "666") == 0)
            abort ();
        while (count && strcmp (count, "777") == 0)
            pause ();
        int rc = out ? s_write_pair (out) : -1;
        dprintf (fds [1], "{\"phase\": \"generate\", \"fraction\": 1}\n");
        close (fds [0]);
        close (fds [1]);
        char answer [200];
        int len = snprintf (answer, sizeof answer, "done=%d", rc ? 1 : 0) + 1;
        len += snprintf (answer + len, sizeof answer - (size_t) len, "cpu=%s", STAND_IN_CPU) + 1;
        len += snprintf (answer + len, sizeof answer - (size_t) len, "rss=%s", STAND_IN_RSS) + 1;
        len +=
            snprintf (answer + len, sizeof answer - (size_t) len, "hot=%s", model ? model : "") + 1;
        if (send (3, answer, (size_t) len, MSG_NOSIGNAL) != len)
            return 1;
    }
}

int
main (int argc, char **argv)
{
    if (argc > 1 && strcmp (argv [1], "devices") == 0) {
        puts ("{\"cpu\": {\"cores\": 2}, \"cuda_build\": false}");
        return 0;
    }
    if (argc > 1 && strcmp (argv [1], "serve") == 0)
        return s_serve ();
    fprintf (stderr, "stand-in segq-run: only `devices` and `serve`\n");
    return 2;
}
