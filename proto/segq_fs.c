/*  segq_fs.c: see segq_fs.h. */
#include "segq_fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "segq_error.h"

int
segq_mkdirs (const char *path, char *err, size_t errlen)
{
    char buf [4096];
    if (snprintf (buf, sizeof buf, "%s", path) >= (int) sizeof buf) {
        snprintf (err, errlen, "path too long: %.200s", path);
        return SEGQ_EINVAL;
    }
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char saved = *p;
            *p = 0;
            if (mkdir (buf, 0700) != 0 && errno != EEXIST) {
                snprintf (err, errlen, "cannot create directory %s: %s", buf, strerror (errno));
                return SEGQ_EIO;
            }
            *p = saved;
            if (saved == 0)
                break;
        }
    }
    return 0;
}
