/*  libFuzzer target: segqd's configuration file parser on arbitrary bytes.

    Beyond not crashing: a refused file leaves the configuration as it was
    and says why in a NUL-terminated message that names the file; an
    accepted one answers every query, and parsing it again gives the same
    answers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segq_config.h"
#include "segq_error.h"

static const char *const s_keys[] = {
    "bind",    "data-dir",   "ready-file",         "keys",        "heartbeat-ms", "expiry-ms",
    "max-msg", "chunk-size", "default-time-limit", "max-attempts"};
#define N_KEYS (sizeof s_keys / sizeof s_keys[0])

static int s_same(const segq_config_t *a, const segq_config_t *b, const char *user)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *x = segq_config_setting(a, s_keys[i]);
        const char *y = segq_config_setting(b, s_keys[i]);
        if ((x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0))
            return 0;
    }
    segq_user_limits_t la = segq_config_limits(a, user), lb = segq_config_limits(b, user);
    return memcmp(&la, &lb, sizeof la) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    segq_config_t *config = segq_config_new();
    segq_config_t *again = segq_config_new();
    if (!config || !again)
        abort();
    /* a known state that a refused parse must not touch */
    const char base[] = "bind = tcp://127.0.0.1:1\n[defaults]\nmax_running = 3\n";
    char err[2048];
    if (segq_config_parse(config, "base", base, sizeof base - 1, err, sizeof err) != 0)
        abort();
    memset(err, 'x', sizeof err);
    int rc = segq_config_parse(config, "fuzz.conf", (const char *)data, size, err, sizeof err);
    if (memchr(err, 0, sizeof err) == NULL)
        abort();
    /* a user name taken from the input, to hit [user] sections */
    char user[16] = "alice";
    if (size > 1 && data[0] < sizeof user) {
        size_t n = data[0] < size - 1 ? data[0] : size - 1;
        memcpy(user, data + 1, n);
        user[n] = 0;
    }
    if (rc != 0) {
        if (rc != SEGQ_EINVAL || strncmp(err, "fuzz.conf:", 10) != 0)
            abort();
        const char *bind = segq_config_setting(config, "bind");
        if (!bind || strcmp(bind, "tcp://127.0.0.1:1") != 0
            || segq_config_limits(config, "nobody").max_running != 3)
            abort();
    } else {
        if (segq_config_parse(again, "again", (const char *)data, size, err, sizeof err) != 0
            || !s_same(config, again, user) || !s_same(config, again, "alice"))
            abort();
    }
    segq_config_destroy(&again);
    segq_config_destroy(&config);
    return 0;
}
