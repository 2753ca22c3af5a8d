/*  segq_size.c: sizes and ages as people type them ("8G", "512M", "30d") and read them. */
#include "segq_schema.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
segq_parse_size (const char *text, uint64_t *out)
{
    if (!text || !isdigit ((unsigned char) *text))
        return SEGQ_EINVAL;
    char *end = NULL;
    errno = 0;
    /* Integers are read exactly; a fraction ("1.5G") goes through double. */
    uint64_t whole = strtoull (text, &end, 10);
    if (errno == ERANGE)
        return SEGQ_EINVAL;
    double fraction = -1;
    if (*end == '.') {
        char *fend = NULL;
        fraction = strtod (text, &fend);
        if (fend == end + 1) /* "1." */
            return SEGQ_EINVAL;
        end = fend;
    }
    int shift = 0;
    switch (toupper ((unsigned char) *end)) {
    case 'K':
        shift = 10;
        end++;
        break;
    case 'M':
        shift = 20;
        end++;
        break;
    case 'G':
        shift = 30;
        end++;
        break;
    case 'T':
        shift = 40;
        end++;
        break;
    default:
        break;
    }
    if (shift && (*end == 'i' || *end == 'I')) {
        end++;
        if (*end != 'B' && *end != 'b')
            return SEGQ_EINVAL;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        return SEGQ_EINVAL;
    if (fraction >= 0) {
        if (!shift)
            return SEGQ_EINVAL; /* fractional bytes mean nothing */
        double bytes = ldexp (fraction, shift);
        if (!(bytes < 18446744073709551616.0))
            return SEGQ_EINVAL;
        *out = (uint64_t) bytes;
        return SEGQ_OK;
    }
    if (shift && whole > (UINT64_MAX >> shift))
        return SEGQ_EINVAL;
    *out = whole << shift;
    return SEGQ_OK;
}

void
segq_format_size (uint64_t bytes, char *buf, size_t len)
{
    static const char *units [] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double) bytes;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units [0]) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf (buf, len, "%llu B", (unsigned long long) bytes);
    else
        snprintf (buf, len, "%.1f %s", v, units [u]);
}

int
segq_parse_period (const char *text, double *seconds)
{
    if (text && (strcmp (text, "none") == 0 || strcmp (text, "off") == 0)) {
        *seconds = 0;
        return 0;
    }
    size_t len = text ? strlen (text) : 0;
    if (len == 0 || isdigit ((unsigned char) text [len - 1]))
        return SEGQ_EINVAL;
    return segq_parse_age (text, seconds);
}

int
segq_parse_age (const char *text, double *seconds)
{
    if (!text || !isdigit ((unsigned char) text [0]))
        return SEGQ_EINVAL;
    errno = 0;
    char *end = NULL;
    double value = strtod (text, &end);
    if (errno || end == text || !isfinite (value))
        return SEGQ_EINVAL;
    static const struct {
        char suffix;
        double unit;
    } units [] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 } };
    double unit = *end ? 0 : 1;
    for (size_t i = 0; *end && i < sizeof units / sizeof units [0]; i++)
        if (end [0] == units [i].suffix && end [1] == '\0')
            unit = units [i].unit;
    if (unit == 0)
        return SEGQ_EINVAL;
    *seconds = value * unit;
    return 0;
}
