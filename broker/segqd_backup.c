/*  segqd_backup.c: `segqd backup FILE`: ask the running broker, as an
    admin (with keys) or a local user (loopback without keys), to copy its
    database to FILE on its machine. The broker holds the database
    exclusively, so it makes the copy itself; this only asks and waits. */
#include "segqd_backup.h"
#include "segq_client.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char s_usage [] =
    "usage: segqd backup FILE [--broker URL] [--broker-key FILE] [--cert FILE]\n"
    "                         [--timeout SECONDS]\n"
    "  Copies the running broker's database to FILE (on the broker's machine; a\n"
    "  relative FILE is taken from this folder) while it keeps serving. FILE must\n"
    "  not exist. With keys, --cert must be an admin's certificate. The copy is\n"
    "  private (0600); start a broker on it with `segqd --data-dir DIR` after\n"
    "  copying it to DIR/segq.db (artifacts and logs are separate files: back up\n"
    "  DIR/artifacts and DIR/logs with your usual tools).\n"
    "  --broker URL        default $SEGQ_BROKER, else " SEGQ_DEFAULT_BROKER "\n"
    "  --broker-key FILE   the broker's public certificate (default $SEGQ_BROKER_KEY)\n"
    "  --cert FILE         your certificate (default $SEGQ_CERT, else the one in\n"
    "                      ~/.config/segq/ that `segq keygen` wrote, NAME.cert)\n"
    "  --timeout SECONDS   how long to wait for the copy (default 3600)\n";

int
segqd_backup (int argc, char *argv [])
{
    segq_client_options_t options = { 0 };
    const char *file = NULL;
    long timeout_s = 3600;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        if (strcmp (arg, "-h") == 0 || strcmp (arg, "--help") == 0) {
            fputs (s_usage, stdout);
            return 0;
        }
        const char **slot = strcmp (arg, "--broker") == 0       ? &options.broker
                            : strcmp (arg, "--broker-key") == 0 ? &options.broker_key
                            : strcmp (arg, "--cert") == 0       ? &options.cert
                                                                : NULL;
        bool timeout = strcmp (arg, "--timeout") == 0;
        if ((slot || timeout) && i + 1 >= argc) {
            fprintf (stderr, "segqd backup: %s needs a value\n", arg);
            return 2;
        }
        if (slot)
            *slot = argv [++i];
        else if (timeout) {
            char *end;
            timeout_s = strtol (argv [++i], &end, 10);
            if (*end || timeout_s <= 0 || timeout_s > 86400 * 7) {
                fprintf (stderr, "segqd backup: --timeout '%s': expected seconds\n", argv [i]);
                return 2;
            }
        } else if (arg [0] == '-' || file) {
            fprintf (stderr, "segqd backup: unexpected argument '%s'\n%s", arg, s_usage);
            return 2;
        } else
            file = arg;
    }
    if (!file) {
        fprintf (stderr, "segqd backup: where to? (segqd backup FILE)\n%s", s_usage);
        return 2;
    }
    char path [4096];
    if (file [0] == '/')
        snprintf (path, sizeof path, "%s", file);
    else {
        char cwd [3000];
        if (!getcwd (cwd, sizeof cwd)) {
            fprintf (stderr, "segqd backup: cannot tell the current folder: give an absolute "
                             "FILE\n");
            return 2;
        }
        snprintf (path, sizeof path, "%s/%s", cwd, file);
    }
    segq_client_t *client = NULL;
    char err [1024];
    if (segq_client_connect (&options, &client, err, sizeof err) < 0) {
        fprintf (stderr, "segqd backup: %s\n", err);
        return 1;
    }
    uint64_t size = 0, jobs = 0;
    int rc = segq_client_backup (client, path, (int) (timeout_s * 1000), &size, &jobs);
    if (rc < 0)
        fprintf (stderr, "segqd backup: %s\n", segq_client_error (client));
    else
        printf ("backup of the broker's database written to %s: %llu bytes, %llu jobs\n", path,
                (unsigned long long) size, (unsigned long long) jobs);
    segq_client_destroy (&client);
    return rc < 0 ? 1 : 0;
}
