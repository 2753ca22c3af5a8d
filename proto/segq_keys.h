/*  segq_keys.h: CurveZMQ certificates for segq (CZMQ zcert files).

    A certificate is a CZMQ cert file pair: NAME.cert (public key and
    metadata) and NAME.cert_secret (also the secret key). segq's metadata:
    "name" (the user or node) and "role" (user, admin, worker or broker).
    The broker allows the public certificates in its keys directory's
    certs/ folder; clients and workers need their own pair and the broker's
    public certificate.
*/
#ifndef SEGQ_KEYS_H
#define SEGQ_KEYS_H

#include <czmq.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes DIR/BASE.cert and DIR/BASE.cert_secret (0600), creating DIR
   (0700) if missing. Refuses to overwrite an existing certificate. 0 or a
   negative segq error with err filled. */
int segq_keys_generate (const char *dir, const char *base, const char *name, const char *role,
                        char *err, size_t errlen);

/* Default path of the user's own certificate: $SEGQ_CERT, else the one
   certificate with its secret in the config dir ($XDG_CONFIG_HOME/segq or
   ~/.config/segq: NAME.cert as `segq keygen` writes it; broker.cert aside),
   else where `segq keygen` would write it (NAME: the login name). Writes
   into out; 0, or SEGQ_EINVAL with err filled when the path does not fit
   or the dir holds several (then --cert or SEGQ_CERT must say which). */
int segq_keys_default_cert (char *out, size_t outlen, char *err, size_t errlen);
/* The user's config directory (…/segq), same rules. */
int segq_keys_config_dir (char *out, size_t outlen);

/* Makes sock a CURVE client: own certificate cert_path (with its
   _secret file) and the broker's public certificate broker_key_path.
   Clear errors for a missing or unreadable file, each saying what to do. */
int segq_keys_apply_client (zsock_t *sock, const char *cert_path, const char *broker_key_path,
                            char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
