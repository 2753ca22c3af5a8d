/*  lab_keys.c: see lab_keys.h. */
#include "lab_keys.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include "segq_keys.h"

void
lab_cert (const char *dir, const char *name, const char *role)
{
    char err [1024] = "";
    cr_assert_eq (segq_keys_generate (dir, name, name, role, err, sizeof err), 0, "%s", err);
}

void
lab_keys_make (const char *dir, char *keys, size_t keys_len, char *certs, size_t certs_len,
               char *broker_key, size_t broker_key_len)
{
    snprintf (keys, keys_len, "%s/keys", dir);
    snprintf (certs, certs_len, "%s/certs", keys);
    snprintf (broker_key, broker_key_len, "%s/broker.cert", keys);
    lab_cert (keys, "broker", "broker");
    lab_cert (certs, "alice", "user");
    lab_cert (certs, "bob", "user");
    lab_cert (certs, "root", "admin");
    lab_cert (certs, "w1", "worker");
}

segq_client_t *
lab_client (const char *endpoint, const char *certs, const char *broker_key, const char *name)
{
    char cert [900];
    snprintf (cert, sizeof cert, "%s/%s.cert", certs ? certs : "", name);
    segq_client_options_t options = {
        .broker = endpoint, .user = name, .timeout_ms = 5000, .hash_cache = ""
    };
    if (certs) {
        options.cert = cert;
        options.broker_key = broker_key;
    }
    segq_client_t *client = NULL;
    char err [1024];
    cr_assert_eq (segq_client_connect (&options, &client, err, sizeof err), 0, "%s", err);
    return client;
}

zsock_t *
lab_raw (const char *endpoint, const char *certs, const char *broker_key, const char *name,
         int rcvtimeo_ms)
{
    char cert [900], err [1024];
    snprintf (cert, sizeof cert, "%s/%s.cert", certs, name);
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (sock);
    cr_assert_eq (segq_keys_apply_client (sock, cert, broker_key, err, sizeof err), 0, "%s", err);
    zsock_set_rcvtimeo (sock, rcvtimeo_ms);
    cr_assert_eq (zsock_connect (sock, "%s", endpoint), 0);
    return sock;
}
