/*  segq_names.c: the rules for the names people and files give: artifact
    paths, user and node names, model names (segq_records.h). They are in
    segq_core, with no codec, so that every reader of such a name (the
    decoder, segqd.conf, the HTTP token file, the CLI) holds it to one rule. */
#include "segq_records.h"

#include <string.h>

int
segq_name_valid (const char *name)
{
    if (!name || !*name || *name == '/')
        return 0;
    size_t len = 0;
    const char *component = name;
    for (const char *p = name;; p++, len++) {
        if (len > SEGQ_MAX_NAME)
            return 0;
        if (*p == '/' || *p == '\0') {
            size_t n = (size_t) (p - component);
            if (n == 0 || (n == 1 && component [0] == '.')
                || (n == 2 && component [0] == '.' && component [1] == '.'))
                return 0;
            if (*p == '\0')
                return 1;
            component = p + 1;
        } else if ((unsigned char) *p < 0x20 || *p == 0x7f || *p == '\\')
            return 0;
    }
}

int
segq_user_valid (const char *user)
{
    size_t len = user ? strlen (user) : 0;
    if (len == 0 || len > SEGQ_USER_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) user [i] <= ' ' || user [i] == 0x7f || user [i] == '/'
            || user [i] == ',')
            return 0;
    return 1;
}

bool
segq_model_name_valid (const char *name)
{
    size_t len = name ? strlen (name) : 0;
    if (len == 0 || len > SEGQ_MODEL_NAME_MAX || name [0] == '-' || strncmp (name, "m-", 2) == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name [i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
              || c == '-'))
            return false;
    }
    return true;
}
