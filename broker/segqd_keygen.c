/*  segqd_keygen.c: certificates for the broker, worker nodes and users.

    segqd keygen --broker --out DIR          DIR/broker.cert (+_secret)
    segqd keygen --worker NODE --out DIR     DIR/NODE.cert (+_secret), role worker
    segqd keygen --user NAME [--admin] --out DIR
*/
#include "segqd_keygen.h"
#include "segq_keys.h"
#include <stdio.h>
#include <string.h>

static const char s_usage [] =
    "usage: segqd keygen --broker | --worker NODE | --user NAME [--admin]  --out DIR\n"
    "  Writes NAME.cert (public: copy it to the broker's keys DIR/certs/) and\n"
    "  NAME.cert_secret (private, 0600: give it only to that user or node).\n";

int
segqd_keygen (int argc, char *argv [])
{
    const char *name = NULL, *role = NULL, *out = NULL;
    bool admin = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        bool has_value = i + 1 < argc;
        if (strcmp (arg, "--broker") == 0)
            name = "broker", role = "broker";
        else if (strcmp (arg, "--worker") == 0 && has_value)
            name = argv [++i], role = "worker";
        else if (strcmp (arg, "--user") == 0 && has_value)
            name = argv [++i], role = "user";
        else if (strcmp (arg, "--admin") == 0)
            admin = true;
        else if (strcmp (arg, "--out") == 0 && has_value)
            out = argv [++i];
        else if (strcmp (arg, "-h") == 0 || strcmp (arg, "--help") == 0) {
            fputs (s_usage, stdout);
            return 0;
        } else {
            fprintf (stderr, "segqd keygen: unexpected '%s'\n%s", arg, s_usage);
            return 2;
        }
    }
    if (!name || !out || !*name || strchr (name, '/')) {
        fprintf (stderr,
                 "segqd keygen: give one of --broker, --worker NODE, --user NAME "
                 "(a plain name) and --out DIR\n%s",
                 s_usage);
        return 2;
    }
    if (admin && strcmp (role, "user") != 0) {
        fprintf (stderr, "segqd keygen: --admin goes with --user NAME\n");
        return 2;
    }
    if (admin)
        role = "admin";
    char err [1024] = "";
    if (segq_keys_generate (out, name, name, role, err, sizeof err) != 0) {
        fprintf (stderr, "segqd keygen: %s\n", err);
        return 1;
    }
    printf ("%s/%s.cert (%s %s)\n", out, name, role, name);
    return 0;
}
