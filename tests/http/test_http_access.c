/*  test_http_access.c: who may reach segqd's HTTP listener, and what each
    viewer sees, with real processes.

    - A non-loopback address is refused at start unless TLS and tokens are
      both given; a secret file others can read, a bad token line, or a
      token file or certificate without --http, is refused too, naming
      the fix.
    - With TLS and tokens on 0.0.0.0, a token's user sees their own jobs'
      data over HTTPS (checked by Python's ssl against the certificate); a
      request without a token is nobody there, even without keys.
    - With keys, a tokenless viewer (on loopback too) sees the queue and
      none of its data: no input names, no parameters (a model's name), no
      reasons, no models, no thumbnails; bob's token sees no more of
      alice's; alice's token sees her data and her model's thumbnail, and
      that fetch is in the audit log.
    - What a peer can make it hold is bounded: 16 connections per address
      (the 17th is closed at once), 64 in all (the 65th waits in the listen
      queue until one ends), an idle one closed after 10 s, a request's
      headers within 32 KiB and 15 s however slowly they drip; the
      broker's own socket serves all the while. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_test.h"
#include "lab_keys.h"

#define ALICE_TOKEN "alice-0123456789abcdef0123456789"
#define BOB_TOKEN   "bob-fedcba9876543210fedcba987654"

static harness_t *h;
static char url [300];

static void
setup (void)
{
    h = harness_new ("http-access");
    cr_assert_not_null (h);
    unsetenv ("SEGQ_CERT");
    unsetenv ("SEGQ_BROKER_KEY");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

/* dir/name holding text, with mode. */
static void
s_file (const char *name, const char *text, mode_t mode, char *path, size_t len)
{
    snprintf (path, len, "%s/%s", h->dir, name);
    FILE *f = fopen (path, "w");
    cr_assert (f && fputs (text, f) >= 0 && fclose (f) == 0, "%s", path);
    cr_assert_eq (chmod (path, mode), 0);
}

static void
s_tokens (char *path, size_t len)
{
    s_file ("tokens", "# the lab's status page\n" ALICE_TOKEN " alice\n\n" BOB_TOKEN " bob\n", 0600,
            path, len);
}

/* A self-signed certificate for 127.0.0.1 and its key (0600). */
static void
s_certificate (char *cert, size_t cert_len, char *key, size_t key_len)
{
    char log [600];
    snprintf (cert, cert_len, "%s/cert.pem", h->dir);
    snprintf (key, key_len, "%s/key.pem", h->dir);
    snprintf (log, sizeof log, "%s/openssl.log", h->dir);
    const char *argv [] = { "openssl",
                            "req",
                            "-x509",
                            "-newkey",
                            "ec",
                            "-pkeyopt",
                            "ec_paramgen_curve:prime256v1",
                            "-nodes",
                            "-days",
                            "2",
                            "-subj",
                            "/CN=127.0.0.1",
                            "-addext",
                            "subjectAltName=IP:127.0.0.1",
                            "-keyout",
                            key,
                            "-out",
                            cert,
                            NULL };
    cr_assert_eq (http_run (argv, NULL, log, NULL), 0, "openssl could not make a certificate");
    cr_assert_eq (chmod (key, 0600), 0);
}

/* segqd with these extra arguments must refuse to start, saying `why`,
   with exit status 2 for settings a restart cannot mend (systemd's unit
   restarts it on 1), 1 for the others. */
static void
s_refused_with (int status, const char *why, const char *const *extra)
{
    char log [600];
    snprintf (log, sizeof log, "%s/refused.log", h->dir);
    unlink (log);
    const char *argv [32] = { harness_binary ("segqd"), "--bind", "tcp://127.0.0.1:*", "--data-dir",
                              h->data_dir };
    size_t n = 5;
    for (size_t i = 0; extra [i] && n < 31; i++)
        argv [n++] = extra [i];
    int rc = http_run (argv, NULL, log, NULL);
    char *said = http_slurp (log, NULL);
    cr_assert (rc == status && said && strstr (said, why),
               "segqd %s %s: exit %d (not %d), said '%s', not '%s'", extra [0], extra [1], rc,
               status, said ? said : "", why);
    free (said);
}

static void
s_refused (const char *why, const char *const *extra)
{
    s_refused_with (2, why, extra);
}

Test (http_access, a_public_address_needs_tls_and_tokens, .init = setup, .fini = teardown,
      .timeout = 120)
{
    char tokens [600], cert [600], key [600], open_key [600], bad [600];
    s_tokens (tokens, sizeof tokens);
    s_certificate (cert, sizeof cert, key, sizeof key);
    const char *fix = "Give --http-cert FILE, --http-key FILE and --http-tokens FILE";
    s_refused (fix, (const char *[]){ "--http", "0.0.0.0:0", NULL });
    s_refused (fix, (const char *[]){ "--http", "0.0.0.0:0", "--http-tokens", tokens, NULL });
    s_refused (fix, (const char *[]){ "--http", "0.0.0.0:0", "--http-cert", cert, "--http-key", key,
                                      NULL });
    s_refused ("--http-cert and --http-key go together",
               (const char *[]){ "--http", "127.0.0.1:0", "--http-cert", cert, NULL });
    /* secrets others can read, a token too short to be one */
    s_file ("open-key.pem", "not read", 0644, open_key, sizeof open_key);
    s_refused ("chmod 600",
               (const char *[]){ "--http", "0.0.0.0:0", "--http-cert", cert, "--http-key", open_key,
                                 "--http-tokens", tokens, NULL });
    s_file ("bad-tokens", "# ok\nshort alice\n", 0600, bad, sizeof bad);
    s_refused ("bad-tokens:2: the token must be at least 16 characters",
               (const char *[]){ "--http", "127.0.0.1:0", "--http-tokens", bad, NULL });
    s_file ("twice-tokens", "0123456789abcdef alice\n0123456789abcdef bob\n", 0600, bad,
            sizeof bad);
    s_refused ("twice-tokens:2: this token is on an earlier line too",
               (const char *[]){ "--http", "127.0.0.1:0", "--http-tokens", bad, NULL });
    /* HTTP settings with no listener to take them */
    s_refused ("--http-tokens is set (flag or config) but --http is not",
               (const char *[]){ "--http-tokens", tokens, NULL });
    s_refused ("--http-cert is set (flag or config) but --http is not",
               (const char *[]){ "--http-cert", cert, "--http-key", key, NULL });
    s_refused ("--http nonsense: expected ADDRESS:PORT",
               (const char *[]){ "--http", "nonsense", NULL });
    /* a port another server holds, even one that lets others share it
       (SO_REUSEPORT): refused, not shared */
    int held = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t size = sizeof address;
    cr_assert (held >= 0 && setsockopt (held, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0
               && bind (held, (struct sockaddr *) &address, sizeof address) == 0
               && listen (held, 4) == 0
               && getsockname (held, (struct sockaddr *) &address, &size) == 0);
    char taken [64];
    snprintf (taken, sizeof taken, "127.0.0.1:%u", ntohs (address.sin_port));
    s_refused_with (1, "is the port taken", (const char *[]){ "--http", taken, NULL });
    /* a public address without keys */
    s_refused ("without keys", (const char *[]){ "--bind", "tcp://0.0.0.0:0", NULL });
    close (held);
}

/* GET over HTTPS from python3's ssl, trusting cert only: the status, and
   the body in *body (malloc'ed). */
static int
s_https (const char *port, const char *path, const char *cert, const char *token, char **body)
{
    char script [600], address [600], out [600], log [600];
    snprintf (script, sizeof script, "%s/tests/http/https_get.py", SEGQ_SOURCE_DIR);
    snprintf (address, sizeof address, "https://127.0.0.1:%s%s", port, path);
    snprintf (out, sizeof out, "%s/https.out", h->dir);
    snprintf (log, sizeof log, "%s/https.log", h->dir);
    const char *argv [] = { "/usr/bin/python3", script, address, cert, token, NULL };
    int rc = http_run (argv, out, log, NULL);
    char *said = http_slurp (log, NULL);
    H_ASSERT (h, rc == 0, "https GET %s: exit %d: %s", address, rc, said ? said : "");
    free (said);
    char *text = http_slurp (out, NULL);
    int status = text ? atoi (text) : 0;
    char *newline = text ? strchr (text, '\n') : NULL;
    *body = strdup (newline ? newline + 1 : "");
    free (text);
    return status;
}

/* alice (a client of hers: c) echoes a file named patient-0042.png; its id. */
static void
s_patients_job (segq_client_t *c, char job [SEGQ_JOB_ID_MAX])
{
    char file [600], err [256];
    snprintf (file, sizeof file, "%s/patient-0042.png", h->dir);
    cr_assert_eq (harness_write_random_file (file, 700, 42), 0);
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    cr_assert_eq (segq_job_spec_input_file (spec, "files", file, err, sizeof err), 0, "%s", err);
    H_ASSERT (h, segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "submit: %s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
    segq_job_info_t info = { 0 };
    H_ASSERT (h, harness_wait_final (c, job, 30000, &info) == 0, "echo never ended");
    segq_job_info_clear (&info);
}

Test (http_access, tls_and_tokens_on_a_public_address, .init = setup, .fini = teardown,
      .timeout = 120)
{
    char tokens [600], cert [600], key [600];
    s_tokens (tokens, sizeof tokens);
    s_certificate (cert, sizeof cert, key, sizeof key);
    const char *http [] = { "--http", "0.0.0.0:0",     "--http-cert", cert, "--http-key",
                            key,      "--http-tokens", tokens,        NULL };
    /* segqd runs as alice: still, a tokenless request from afar is nobody */
    setenv ("SEGQ_USER", "alice", 1);
    cr_assert_eq (harness_start_broker (h, http), 0, "segqd did not start");
    H_ASSERT (h, http_url (h, url, sizeof url) == 0, "segqd logged no HTTP address");
    cr_assert (strncmp (url, "https://0.0.0.0:", 16) == 0, "%s", url);
    H_ASSERT (h, harness_start_worker (h, "w1", 2, NULL) >= 0, "no worker");
    segq_client_t *alice = lab_client (h->endpoint, NULL, NULL, "alice");
    char job [SEGQ_JOB_ID_MAX];
    s_patients_job (alice, job);
    const char *port = url + 16;
    char *body = NULL;
    cr_assert_eq (s_https (port, "/api/jobs", cert, ALICE_TOKEN, &body), 200, "%s", body);
    cr_assert (strstr (body, "patient-0042.png"), "alice does not see her input: %s", body);
    free (body);
    /* from afar a request without a token is nobody, keys or not */
    cr_assert_eq (s_https (port, "/api/jobs", cert, NULL, &body), 200, "%s", body);
    cr_assert (strstr (body, job) && !strstr (body, "patient-0042"), "nobody sees: %s", body);
    free (body);
    cr_assert_eq (s_https (port, "/metrics", cert, "no-such-token-0123456789", &body), 401);
    free (body);
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}

/* GET path on the loopback listener as token's user: the status, and the
   body in *body (malloc'ed). */
static int
s_get (const char *path, const char *token, char **body, size_t *size)
{
    http_answer_t answer;
    H_ASSERT (h, http_get (url, path, token, NULL, &answer) == 0, "no connection to %s", url);
    *body = answer.body;
    if (size)
        *size = answer.size;
    answer.body = NULL;
    int status = answer.status;
    http_answer_clear (&answer);
    return status;
}

/* The viewer (token, or NULL) sees alice's job in /api/jobs, and its
   input's name only if `data`; a failure's reason likewise. */
static void
s_jobs_as (const char *token, const char *job, const char *failed, bool data)
{
    char *body;
    cr_assert_eq (s_get ("/api/jobs?limit=500", token, &body, NULL), 200, "%s", body);
    json_t *jobs = json_loads (body, 0, NULL);
    cr_assert (json_is_array (jobs), "%s", body);
    size_t i, seen = 0;
    json_t *j;
    json_array_foreach (jobs, i, j)
    {
        const char *id = json_string_value (json_object_get (j, "id"));
        cr_assert_str_eq (json_string_value (json_object_get (j, "owner")), "alice");
        if (strcmp (id, job) == 0) {
            seen++;
            cr_assert_eq (json_array_size (json_object_get (j, "inputs")), data, "%s", body);
        }
        if (strcmp (id, failed) == 0) {
            seen++;
            cr_assert_eq (json_is_string (json_object_get (j, "reason")), data, "%s", body);
        }
    }
    cr_assert_eq (seen, 2, "%s", body);
    cr_assert_eq (strstr (body, "patient-0042") != NULL, data, "%s sees: %s",
                  token ? token : "nobody", body);
    json_decref (jobs);
    free (body);
}

/* The model's thumbnail: what the viewer gets (status), and for alice the
   bytes of her generation's contact sheet. */
static void
s_thumbnail_as (segq_client_t *alice, const char *token, const char *model, const char *generated,
                int expected)
{
    char path [200], *body;
    size_t size;
    snprintf (path, sizeof path, "/api/models/%s/thumbnail.png", model);
    cr_assert_eq (s_get (path, token, &body, &size), expected, "%s: %s", path, body);
    if (expected == 200) {
        char fetched [600];
        snprintf (fetched, sizeof fetched, "%s/contact_sheet.png", h->dir);
        cr_assert_eq (segq_client_fetch (alice, generated, "contact_sheet.png", fetched, NULL), 0,
                      "%s", segq_client_error (alice));
        size_t want = 0;
        char *bytes = http_slurp (fetched, &want);
        cr_assert (bytes && want == size && memcmp (bytes, body, size) == 0, "not the sheet");
        free (bytes);
    }
    free (body);
}

/* Whether DATA/audit.log holds a fetch over HTTP by user of output
   `name` with this outcome (NULL: any). */
static bool
s_audited_fetch (const char *user, const char *name, const char *outcome)
{
    char path [700];
    snprintf (path, sizeof path, "%s/audit.log", h->data_dir);
    char *log = http_slurp (path, NULL);
    bool found = false;
    for (char *line = log, *next; line && *line && !found; line = next) {
        next = strchr (line, '\n');
        if (next)
            *next++ = 0;
        json_t *e = json_loads (line, 0, NULL);
        const char *peer = json_string_value (json_object_get (e, "peer"));
        const char *got = json_string_value (json_object_get (e, "outcome"));
        found = peer && strncmp (peer, "http:127.0.0.1:", 15) == 0
                && strcmp (json_string_value (json_object_get (e, "action")), "fetch") == 0
                && json_string_value (json_object_get (e, "user"))
                && strcmp (json_string_value (json_object_get (e, "user")), user) == 0
                && strcmp (json_string_value (json_object_get (e, "name")), name) == 0
                && (!outcome || (got && strcmp (got, outcome) == 0));
        json_decref (e);
    }
    free (log);
    return found;
}

Test (http_access, with_keys_a_viewer_sees_only_what_the_rule_gives, .init = setup,
      .fini = teardown, .timeout = 180)
{
    char keys [600], certs [700], broker_key [700], tokens [600], segq_run [600], cert [900];
    lab_keys_make (h->dir, keys, sizeof keys, certs, sizeof certs, broker_key, sizeof broker_key);
    s_tokens (tokens, sizeof tokens);
    const char *http [] = {
        "--keys", keys, "--http", "127.0.0.1:0", "--http-tokens", tokens, NULL
    };
    /* segqd runs as alice: with keys, a name is proved, never taken from
       where segqd runs, so a tokenless viewer is nobody all the same */
    setenv ("SEGQ_USER", "alice", 1);
    cr_assert_eq (harness_start_broker (h, http), 0, "segqd did not start");
    H_ASSERT (h, http_url (h, url, sizeof url) == 0, "segqd logged no HTTP address");
    http_stand_in_segq_run (h, segq_run, sizeof segq_run);
    snprintf (cert, sizeof cert, "%s/w1.cert", certs);
    const char *worker [] = { "--segq-run", segq_run, "--broker-key",
                              broker_key,   "--cert", cert,
                              "--gpus",     "",       NULL };
    H_ASSERT (h, harness_start_worker (h, "w1", 2, worker) >= 0, "no worker");
    segq_client_t *alice = lab_client (h->endpoint, certs, broker_key, "alice");
    char job [SEGQ_JOB_ID_MAX], failed [SEGQ_JOB_ID_MAX], model [64], generated [SEGQ_JOB_ID_MAX];
    s_patients_job (alice, job);
    segq_job_spec_t *fail = segq_job_spec_new ("fail");
    H_ASSERT (h, segq_client_submit (alice, fail, failed, sizeof failed) == 0, "submit fail");
    segq_job_spec_destroy (&fail);
    http_model (h, alice, "polyp-9", model, sizeof model, generated);
    segq_job_info_t info = { 0 };
    H_ASSERT (h, harness_wait_final (alice, failed, 30000, &info) == 0, "fail never ended");
    segq_job_info_clear (&info);

    s_jobs_as (NULL, job, failed, false); /* nobody, on loopback */
    s_jobs_as (BOB_TOKEN, job, failed, false);
    s_jobs_as (ALICE_TOKEN, job, failed, true);
    char *body;
    /* a model's name is a parameter of its training: alice's data too */
    cr_assert_eq (s_get ("/api/jobs", BOB_TOKEN, &body, NULL), 200);
    cr_assert (!strstr (body, "polyp-9"), "bob sees alice's model's name: %s", body);
    free (body);
    cr_assert_eq (s_get ("/api/jobs", ALICE_TOKEN, &body, NULL), 200);
    cr_assert (strstr (body, "polyp-9"), "alice does not see her model's name: %s", body);
    free (body);
    cr_assert_eq (s_get ("/api/models", NULL, &body, NULL), 200);
    cr_assert_str_eq (body, "[]", "nobody sees models: %s", body);
    free (body);
    cr_assert_eq (s_get ("/api/models", BOB_TOKEN, &body, NULL), 200);
    cr_assert_str_eq (body, "[]", "bob sees alice's private model: %s", body);
    free (body);
    cr_assert_eq (s_get ("/api/models", ALICE_TOKEN, &body, NULL), 200);
    cr_assert (strstr (body, model) && strstr (body, "polyp-9"), "%s", body);
    free (body);
    s_thumbnail_as (alice, NULL, model, generated, 404);
    s_thumbnail_as (alice, BOB_TOKEN, model, generated, 404);
    s_thumbnail_as (alice, ALICE_TOKEN, model, generated, 200);
    cr_assert_eq (s_get ("/api/jobs", "not-a-token-of-this-broker", &body, NULL), 401);
    free (body);

    /* the thumbnail was a fetch of alice's data: in the audit log as one */
    cr_assert (s_audited_fetch ("alice", "contact_sheet.png", "ok"), "no fetch by alice audited");
    cr_assert (s_audited_fetch ("bob", "contact_sheet.png", NULL) == false,
               "bob reached the sheet's fetch at all");
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}

/* Connected, then closed by the broker within timeout_ms? */
static bool
s_closed_by_peer (int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char byte;
    return poll (&p, 1, timeout_ms) == 1 && read (fd, &byte, 1) <= 0;
}

/* A GET from address `from`: answered (200) or turned away (0). */
static int
s_status_from (const char *from)
{
    http_answer_t answer;
    int rc = http_get (url, "/metrics", NULL, from, &answer);
    int status = rc == 0 ? answer.status : 0;
    http_answer_clear (&answer);
    return status;
}

/* n idle connections from `from` (each must connect). */
static void
s_hold (int *fds, int n, const char *from)
{
    for (int i = 0; i < n; i++)
        H_ASSERT (h, (fds [i] = http_connect (url, from)) >= 0, "connection %d from %s", i, from);
}

Test (http_access, what_a_peer_can_hold_is_bounded, .init = setup, .fini = teardown, .timeout = 120)
{
    cr_assert_eq (harness_start_broker (h, (const char *[]){ "--http", "127.0.0.1:0", NULL }), 0);
    H_ASSERT (h, http_url (h, url, sizeof url) == 0, "segqd logged no HTTP address");
    int fds [64];
    s_hold (fds, 16, "127.0.0.1");
    cr_assert_eq (s_status_from ("127.0.0.1"), 0, "a 17th connection from one address was served");
    cr_assert_eq (s_status_from ("127.0.0.2"), 200, "another address was turned away");
    s_hold (fds + 16, 16, "127.0.0.2");
    s_hold (fds + 32, 16, "127.0.0.3");
    s_hold (fds + 48, 16, "127.0.0.4");
    /* a 65th waits in the listen queue, unaccepted, until one ends */
    int waiting = http_connect (url, "127.0.0.5");
    cr_assert (waiting >= 0 && dprintf (waiting, "GET /metrics HTTP/1.0\r\n\r\n") > 0);
    struct pollfd p = { .fd = waiting, .events = POLLIN };
    cr_assert_eq (poll (&p, 1, 2000), 0, "a 65th connection was served at once");
    /* the broker's own socket is not held up by any of it */
    segq_client_t *c = harness_client (h, 0);
    segq_worker_info_t *workers = NULL;
    size_t n = 0;
    H_ASSERT (h, c && segq_client_workers (c, &workers, &n) == 0, "the broker stopped serving");
    segq_workers_free (&workers, n);
    segq_client_destroy (&c);
    /* idle ones are closed after 10 s; the one waiting is served, and
       everyone after it */
    for (int i = 0; i < 64; i++) {
        H_ASSERT (h, s_closed_by_peer (fds [i], 20000), "idle connection %d still open", i);
        close (fds [i]);
    }
    char answer [64] = "";
    cr_assert (poll (&p, 1, 20000) == 1 && read (waiting, answer, sizeof answer - 1) > 0
                   && strstr (answer, " 200 "),
               "the waiting request: '%s'", answer);
    close (waiting);
    cr_assert_eq (s_status_from ("127.0.0.1"), 200);
    /* a request's headers are bounded: 431, and the next one is served */
    int fd = http_connect (url, NULL);
    static char big [70000];
    memset (big, 'a', sizeof big - 1);
    cr_assert (fd >= 0 && dprintf (fd, "GET /metrics HTTP/1.0\r\nX-Big: %s\r\n\r\n", big) > 0);
    memset (answer, 0, sizeof answer);
    cr_assert (read (fd, answer, sizeof answer - 1) > 0 && strstr (answer, " 431 "), "%s", answer);
    close (fd);
    cr_assert_eq (s_status_from ("127.0.0.1"), 200);
    H_ASSERT_CLEAN_STOP (h);
}

static int64_t
s_now_ms (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return (int64_t) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Headers sent a byte every 2 s restart the 10 s idle timeout each time:
   only the header deadline (15 s) ends such a connection. */
Test (http_access, headers_that_drip_meet_a_deadline, .init = setup, .fini = teardown,
      .timeout = 90)
{
    cr_assert_eq (harness_start_broker (h, (const char *[]){ "--http", "127.0.0.1:0", NULL }), 0);
    H_ASSERT (h, http_url (h, url, sizeof url) == 0, "segqd logged no HTTP address");
    int fd = http_connect (url, NULL);
    cr_assert (fd >= 0 && dprintf (fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n") > 0);
    int64_t start = s_now_ms ();
    bool closed = false;
    while (!closed && s_now_ms () - start < 40000)
        closed = send (fd, "X", 1, MSG_NOSIGNAL) != 1 || s_closed_by_peer (fd, 2000);
    int64_t lasted = s_now_ms () - start;
    close (fd);
    cr_assert (closed, "a connection dripping its headers was still open after %lld ms",
               (long long) lasted);
    cr_assert (lasted >= 13000, "closed after %lld ms: before the deadline", (long long) lasted);
    cr_assert_eq (s_status_from ("127.0.0.1"), 200, "the next request was not served");
    H_ASSERT_CLEAN_STOP (h);
}
