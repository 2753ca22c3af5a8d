/*  lab_keys.h: the certificates of a small lab, made by the security tests.

    Under DIR: keys/broker.cert (the broker's pair) and keys/certs/ holding
    users alice and bob, admin root and worker node w1. */
#ifndef SEGQ_TEST_LAB_KEYS_H
#define SEGQ_TEST_LAB_KEYS_H

#include <stddef.h>
#include <czmq.h>
#include "segq_client.h"

/* One certificate NAME with ROLE in DIR; fails the test if it cannot. */
void lab_cert (const char *dir, const char *name, const char *role);

/* Makes the lab under dir and writes the paths a broker and its clients
   are given: the keys folder, its certs folder and the broker's cert. */
void lab_keys_make (const char *dir, char *keys, size_t keys_len, char *certs, size_t certs_len,
                    char *broker_key, size_t broker_key_len);

/* NAME's client of the broker at endpoint: with keys (certs set) it holds
   certs/NAME.cert and trusts broker_key; without, it just says it is NAME.
   No hash cache: what a test uploads is sent. Fails the test if it
   cannot connect. */
segq_client_t *lab_client (const char *endpoint, const char *certs, const char *broker_key,
                           const char *name);

/* A raw CURVE connection (a DEALER) as NAME, to send what libsegq never
   would; receives wait rcvtimeo_ms. Fails the test if it cannot. */
zsock_t *lab_raw (const char *endpoint, const char *certs, const char *broker_key, const char *name,
                  int rcvtimeo_ms);

#endif
