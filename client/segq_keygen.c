/*  segq_keygen.c: a user's CurveZMQ certificate, made where every segq
    client looks for it (segq_keys.h), so a program on libsegq never needs
    the key files' format or CZMQ. */
#include "client_internal.h"
#include "segq_keys.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
segq_keygen (const char *name, char *path_out, size_t path_len, char *err, size_t errlen)
{
    if (!name) {
        struct passwd *pw = getpwuid (geteuid ());
        name = pw && pw->pw_name ? pw->pw_name : NULL;
    }
    if (!name || !*name) {
        snprintf (err, errlen, "cannot tell your login name: give the certificate's name");
        return SEGQ_EINVAL;
    }
    char dir [4096];
    if (segq_keys_config_dir (dir, sizeof dir) != 0) {
        snprintf (err, errlen, "the config folder's path is too long (check $XDG_CONFIG_HOME)");
        return SEGQ_EINVAL;
    }
    int rc = segq_keys_generate (dir, name, name, "user", err, errlen);
    if (rc < 0)
        return rc;
    if (path_out && (size_t) snprintf (path_out, path_len, "%s/%s.cert", dir, name) >= path_len) {
        snprintf (err, errlen, "the certificate was made in %s, but its path does not fit", dir);
        return SEGQ_EINVAL;
    }
    return SEGQ_OK;
}
