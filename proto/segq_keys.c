/*  segq_keys.c: certificate files for CurveZMQ (see segq_keys.h). */
#include "segq_keys.h"
#include "segq_error.h"
#include "segq_fs.h"
#include "segq_proto.h"
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
segq_keys_config_dir (char *out, size_t outlen)
{
    const char *xdg = getenv ("XDG_CONFIG_HOME");
    const char *home = getenv ("HOME");
    int n = xdg && *xdg ? snprintf (out, outlen, "%s/segq", xdg)
                        : snprintf (out, outlen, "%s/.config/segq", home && *home ? home : ".");
    return n < 0 || (size_t) n >= outlen ? SEGQ_EINVAL : 0;
}

/* "alice.cert_secret" names a certificate other than the broker's. */
static int
s_own_secret (const struct dirent *entry)
{
    const char *suffix = ".cert_secret";
    size_t len = strlen (entry->d_name), n = strlen (suffix);
    return len > n && strcmp (entry->d_name + len - n, suffix) == 0
           && strcmp (entry->d_name, "broker.cert_secret") != 0;
}

int
segq_keys_default_cert (char *out, size_t outlen, char *err, size_t errlen)
{
    const char *env = getenv ("SEGQ_CERT");
    char dir [4096] = "", names [512] = "";
    int n = -1, found = 0;
    if (env && *env)
        n = snprintf (out, outlen, "%s", env);
    else if (segq_keys_config_dir (dir, sizeof dir) == 0) {
        /* the certificates there, by name ("alice.cert, bob.cert") */
        struct dirent **entries = NULL;
        found = scandir (dir, &entries, s_own_secret, alphasort);
        for (int i = 0; i < found; i++) {
            int len = (int) (strlen (entries [i]->d_name) - strlen ("_secret"));
            size_t used = strlen (names);
            snprintf (names + used, sizeof names - used, "%s%.*s", i ? ", " : "", len,
                      entries [i]->d_name);
            free (entries [i]);
        }
        free (entries);
        struct passwd *pw = getpwuid (geteuid ());
        if (found == 1)
            n = snprintf (out, outlen, "%s/%s", dir, names);
        else if (found <= 0)
            n = snprintf (out, outlen, "%s/%s.cert", dir, pw && pw->pw_name ? pw->pw_name : "user");
    }
    if (found > 1)
        snprintf (err, errlen,
                  "%s holds %d certificates (%s): say which is yours with --cert "
                  "FILE or SEGQ_CERT",
                  dir, found, names);
    else if (n < 0 || (size_t) n >= outlen)
        snprintf (err, errlen, "certificate path too long: set SEGQ_CERT or --cert");
    return n < 0 || (size_t) n >= outlen ? SEGQ_EINVAL : 0;
}

int
segq_keys_generate (const char *dir, const char *base, const char *name, const char *role,
                    char *err, size_t errlen)
{
    if (!segq_user_valid (name)) {
        snprintf (err, errlen,
                  "'%s' cannot name a certificate: a user or node name is " SEGQ_USER_RULE, name);
        return SEGQ_EINVAL;
    }
    char path [4096], secret [4200];
    snprintf (path, sizeof path, "%s/%s.cert", dir, base);
    snprintf (secret, sizeof secret, "%s_secret", path);
    if (access (path, F_OK) == 0 || access (secret, F_OK) == 0) {
        snprintf (err, errlen,
                  "%s already exists: remove it first to make a new certificate "
                  "(the old key stops working)",
                  path);
        return SEGQ_EEXIST;
    }
    int made = segq_mkdirs (dir, err, errlen);
    if (made)
        return made;
    zcert_t *cert = zcert_new ();
    if (!cert) {
        snprintf (err, errlen, "cannot make a key pair (out of memory or no CURVE in libzmq)");
        return SEGQ_ENOMEM;
    }
    zcert_set_meta (cert, "name", "%s", name);
    zcert_set_meta (cert, "role", "%s", role);
    /* files are created private: the secret key must never be readable by others */
    mode_t old = umask (077);
    int rc = zcert_save (cert, path);
    umask (old);
    zcert_destroy (&cert);
    if (rc != 0 || chmod (path, 0600) != 0 || chmod (secret, 0600) != 0) {
        snprintf (err, errlen, "cannot write %s: %s", path, strerror (errno));
        return SEGQ_EIO;
    }
    return 0;
}

int
segq_keys_apply_client (zsock_t *sock, const char *cert_path, const char *broker_key_path,
                        char *err, size_t errlen)
{
    char secret [4200];
    snprintf (secret, sizeof secret, "%s_secret", cert_path);
    if (access (secret, R_OK) != 0) {
        snprintf (err, errlen,
                  "no certificate: cannot read %s (%s); run `segq keygen` (nodes: "
                  "`segqd keygen --worker NAME`) and have the admin add the .cert to the broker's "
                  "keys directory, or give --cert / SEGQ_CERT",
                  secret, strerror (errno));
        return SEGQ_EAUTH;
    }
    zcert_t *own = zcert_load (cert_path);
    if (!own) {
        snprintf (err, errlen, "%s is not a certificate: make a new one with `segq keygen`",
                  cert_path);
        return SEGQ_EAUTH;
    }
    zcert_t *broker = zcert_load (broker_key_path);
    if (!broker) {
        snprintf (err, errlen,
                  "cannot read the broker's public certificate %s: ask the admin "
                  "for broker.cert and give it with --broker-key",
                  broker_key_path);
        zcert_destroy (&own);
        return SEGQ_EAUTH;
    }
    zcert_apply (own, sock);
    zsock_set_curve_serverkey (sock, zcert_public_txt (broker));
    zcert_destroy (&own);
    zcert_destroy (&broker);
    return 0;
}
