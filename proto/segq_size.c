/*  segq_size.c: sizes as people type them ("8G", "512M", "3GB"). */
#include "segq_schema.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
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
