/* Helpers shared by the reader and the writer; not installed. */
#ifndef SEGQ_ST_INTERNAL_H
#define SEGQ_ST_INTERNAL_H

#include <stddef.h>

/* Formats the message into err (if any) and returns code. */
int segq__st_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
