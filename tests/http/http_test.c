/*  http_test.c: see http_test.h. */
#define _GNU_SOURCE
#include "http_test.h"
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define ANSWER_MAX (64 << 20)

char *
http_slurp (const char *path, size_t *size)
{
    FILE *f = fopen (path, "rb");
    char *text = NULL;
    size_t used = 0, cap = 0, n;
    char buf [65536];
    while (f && (n = fread (buf, 1, sizeof buf, f)) > 0) {
        if (used + n + 1 > cap) {
            char *grown = realloc (text, cap = 2 * (used + n + 1));
            if (!grown)
                break;
            text = grown;
        }
        memcpy (text + used, buf, n);
        used += n;
    }
    if (f)
        fclose (f);
    if (!text)
        text = f ? calloc (1, 1) : NULL;
    else
        text [used] = 0;
    if (size)
        *size = used;
    return text;
}

int
http_url (harness_t *h, char *url, size_t len)
{
    if (harness_wait_text (h->broker_log, "HTTP on http", 15000) != 0)
        return -1;
    char *log = http_slurp (h->broker_log, NULL);
    /* the last: a restarted broker listens on a new port */
    char *at = NULL;
    for (char *next = log; next && (next = strstr (next, "HTTP on http")); next++)
        at = next;
    int rc = -1;
    /* "HTTP on http://127.0.0.1:PORT: status page ..." */
    char *end = at ? strstr (at, ": ") : NULL;
    if (end) {
        at += strlen ("HTTP on ");
        snprintf (url, len, "%.*s", (int) (end - at), at);
        rc = 0;
    }
    free (log);
    return rc;
}

/* "http://A.B.C.D:PORT" into addr. */
static int
s_address (const char *url, struct sockaddr_in *addr)
{
    char host [64];
    int port = 0;
    if (sscanf (url, "http://%63[0-9.]:%d", host, &port) != 2)
        return -1;
    memset (addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons ((uint16_t) port);
    return inet_pton (AF_INET, host, &addr->sin_addr) == 1 ? 0 : -1;
}

int
http_connect (const char *url, const char *from)
{
    struct sockaddr_in to, local = { .sin_family = AF_INET };
    int fd = s_address (url, &to) == 0 ? socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    if (fd >= 0 && from
        && (inet_pton (AF_INET, from, &local.sin_addr) != 1
            || bind (fd, (struct sockaddr *) &local, sizeof local) != 0)) {
        close (fd);
        return -1;
    }
    if (fd >= 0 && connect (fd, (struct sockaddr *) &to, sizeof to) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

static void
s_parse (char *raw, size_t size, http_answer_t *answer)
{
    char *end = strstr (raw, "\r\n\r\n");
    if (sscanf (raw, "HTTP/1.%*d %d", &answer->status) != 1 || !end)
        answer->status = 0;
    size_t head = end ? (size_t) (end - raw) : size;
    answer->head = strndup (raw, head);
    size_t body = end ? size - head - 4 : 0;
    answer->body = malloc (body + 1);
    if (answer->body) {
        memcpy (answer->body, end ? end + 4 : raw, body);
        answer->body [body] = 0;
        answer->size = body;
    }
}

int
http_get (const char *url, const char *path, const char *token, const char *from,
          http_answer_t *answer)
{
    memset (answer, 0, sizeof *answer);
    int fd = http_connect (url, from);
    if (fd < 0)
        return -1;
    char request [4096];
    int n =
        snprintf (request, sizeof request, "GET %s HTTP/1.0\r\nHost: segq\r\n%s%s%s\r\n", path,
                  token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    (void) !write (fd, request, (size_t) n);
    char *raw = malloc (ANSWER_MAX + 1);
    size_t used = 0;
    ssize_t got;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (raw && used < ANSWER_MAX && poll (&p, 1, 30000) > 0
           && (got = read (fd, raw + used, ANSWER_MAX - used)) > 0)
        used += (size_t) got;
    close (fd);
    if (!raw)
        return -1;
    raw [used] = 0;
    s_parse (raw, used, answer);
    free (raw);
    return 0;
}

void
http_answer_clear (http_answer_t *answer)
{
    free (answer->head);
    free (answer->body);
    memset (answer, 0, sizeof *answer);
}

int
http_run (const char *const *argv, const char *out_path, const char *log_path,
          const char *const *env)
{
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        int log = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int out = out_path ? open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : log;
        int null = open ("/dev/null", O_RDONLY);
        if (log < 0 || out < 0 || null < 0)
            _exit (127);
        dup2 (null, STDIN_FILENO);
        dup2 (out, STDOUT_FILENO);
        dup2 (log, STDERR_FILENO);
        for (size_t i = 0; env && env [i]; i++)
            putenv ((char *) env [i]);
        execvp (argv [0], (char *const *) argv);
        fprintf (stderr, "cannot run %s: %s\n", argv [0], strerror (errno));
        _exit (127);
    }
    int status;
    while (waitpid (pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* train: the image as checkpoint, a model's shape as progress; generate:
   a pair and a contact sheet. Nothing else is asked of it. */
static const char s_stand_in [] =
    "#!/bin/sh\n"
    "[ \"$1\" = devices ] && exec echo '{\"cpu\": {\"cores\": 2}, \"cuda_build\": true}'\n"
    "out=$SEGQ_OUTPUT_DIR\n"
    "case $1 in\n"
    "train)\n"
    "  for a in \"$@\"; do case $a in --image=*) image=${a#--image=};; esac; done\n"
    "  cat \"$image\" > \"$out/model.safetensors\" || exit 3\n"
    "  echo '{\"phase\":\"train\",\"fraction\":1,\"metrics\":{\"scales\":9,\"scales_total\":9,"
    "\"height\":188,\"width\":250},\"message\":\"scale saved\"}' >&\"$SEGQ_PROGRESS_FD\"\n"
    "  ;;\n"
    "generate)\n"
    "  mkdir -p \"$out/images\" \"$out/masks\"\n"
    "  echo \"sample of $SEGQ_JOB_ID\" > \"$out/images/0.png\"\n"
    "  echo \"mask of $SEGQ_JOB_ID\" > \"$out/masks/0.png\"\n"
    "  exec /usr/bin/python3 '%s/tests/http/contact_sheet.py' \"$out/contact_sheet.png\" "
    "\"$SEGQ_JOB_ID\"\n"
    "  ;;\n"
    "*) echo \"stand-in segq-run: unexpected '$1'\" >&2; exit 2;;\n"
    "esac\n";

void
http_stand_in_segq_run (harness_t *h, char *path, size_t len)
{
    char text [sizeof s_stand_in + 1024];
    snprintf (text, sizeof text, s_stand_in, SEGQ_SOURCE_DIR);
    snprintf (path, len, "%s/segq-run", h->dir);
    cr_assert_eq (harness_write_script (path, text), 0, "cannot write %s", path);
}

/* Submits spec (taken) through c and waits for it to succeed: its id. */
static void
s_run_job (harness_t *h, segq_client_t *c, segq_job_spec_t *spec, char job [SEGQ_JOB_ID_MAX])
{
    int rc = segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX);
    segq_job_spec_destroy (&spec);
    H_ASSERT (h, rc == 0, "submit: %s", segq_client_error (c));
    segq_job_info_t info = { 0 };
    rc = harness_wait_final (c, job, 60000, &info);
    H_ASSERT (h, rc == 0 && info.state == SEGQ_JOB_SUCCEEDED, "job %s: %s %s", job,
              rc ? segq_strerror (rc) : segq_job_state_name (info.state),
              info.reason ? info.reason : "");
    segq_job_info_clear (&info);
}

void
http_model (harness_t *h, segq_client_t *c, const char *name, char *model, size_t model_len,
            char generate [SEGQ_JOB_ID_MAX])
{
    char image [600], mask [600], err [512], train [SEGQ_JOB_ID_MAX];
    snprintf (image, sizeof image, "%s/%s.png", h->dir, name);
    snprintf (mask, sizeof mask, "%s/%s-mask.png", h->dir, name);
    cr_assert_eq (harness_write_random_file (image, 2000, (unsigned) strlen (name)), 0);
    cr_assert_eq (harness_write_random_file (mask, 500, 2), 0);
    segq_job_spec_t *spec = segq_job_spec_new ("train");
    cr_assert (segq_job_spec_input_file (spec, "image", image, err, sizeof err) == 0
                   && segq_job_spec_input_file (spec, "mask", mask, err, sizeof err) == 0
                   && segq_job_spec_param (spec, "name", name, err, sizeof err) == 0,
               "%s", err);
    segq_job_spec_set_cpu_slots (spec, 1);
    s_run_job (h, c, spec, train);
    snprintf (model, model_len, "m-%s", train);
    spec = segq_job_spec_new ("generate");
    cr_assert (segq_job_spec_input_model (spec, "model", name, err, sizeof err) == 0
                   && segq_job_spec_param (spec, "count", "4", err, sizeof err) == 0,
               "%s", err);
    segq_job_spec_set_cpu_slots (spec, 1);
    s_run_job (h, c, spec, generate);
}
