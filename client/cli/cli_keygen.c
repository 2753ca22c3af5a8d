/*  cli_keygen.c: segq keygen, the user's CurveZMQ certificate. */
#include "cli.h"
#include "segq_keys.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    if (!name) {
        struct passwd *pw = getpwuid (geteuid ());
        name = pw && pw->pw_name ? pw->pw_name : NULL;
    }
    if (!name || !*name)
        return cli_usage_error (g, "keygen", "cannot tell your login name: give --name NAME");
    char dir [4096], err [1024] = "";
    if (segq_keys_config_dir (dir, sizeof dir) != 0)
        return cli_error (g, "keygen", CLI_FAILED, "config directory path too long");
    if (strchr (name, '/'))
        return cli_usage_error (g, "keygen", "--name '%s': a plain name, without '/'", name);
    if (segq_keys_generate (dir, name, name, "user", err, sizeof err) != 0)
        return cli_error (g, "keygen", CLI_FAILED, "%s", err);
    printf ("%s/%s.cert: send this file to the broker's admin (it holds only your public key)\n",
            dir, name);
    return CLI_OK;
}
