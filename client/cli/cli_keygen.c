/*  cli_keygen.c: segq keygen, the user's CurveZMQ certificate. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

enum { OPT_NAME = 2100 };

static const char s_keygen_help [] =
    "usage: segq keygen [--name NAME]\n"
    "\n"
    "Make your certificate in ~/.config/segq/ ($XDG_CONFIG_HOME/segq): NAME.cert\n"
    "(public: send it to the broker's admin, who copies it into the broker's keys\n"
    "certs/ folder) and NAME.cert_secret (private, mode 0600: never share it).\n"
    "Then put the broker's public certificate there as broker.cert (or use\n"
    "--broker-key FILE) and every segq command connects with CurveZMQ, as NAME.\n"
    "A broker that runs without keys is then reached with --no-keys.\n"
    "\n"
    "  --name NAME   the user name in the certificate (default: your login name)\n";

int
cli_keygen (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS,
                                              { "name", required_argument, NULL, OPT_NAME },
                                              { 0 } };
    const char *name = NULL;
    int opt;
    while ((opt = cli_next_option (g, "keygen", argc, argv, "h", options, s_keygen_help)) > 0)
        if (opt == OPT_NAME)
            name = optarg;
    if (opt != CLI_OPT_END)
        return CLI_OPT_RESULT (opt);
    if (optind < argc)
        return cli_usage_error (g, "keygen", "unexpected argument '%s'", argv [optind]);
    char path [4096], err [1024] = "";
    int rc = segq_keygen (name, path, sizeof path, err, sizeof err);
    if (rc == SEGQ_EINVAL)
        return cli_usage_error (g, "keygen", "%s (--name NAME)", err);
    if (rc < 0)
        return cli_error (g, "keygen", CLI_FAILED, "%s", err);
    printf ("%s: send this file to the broker's admin (it holds only your public key)\n", path);
    return CLI_OK;
}
