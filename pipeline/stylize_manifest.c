/* manifest.csv reader (RFC 4180 quoting, as the generate writer uses). */
#include "stylize_manifest.h"

#include "segq_error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct segq_manifest_t {
    size_t ncols, nrows;
    char **cells; /* (nrows + 1) x ncols, the header row first */
    int name_col;
};

void segq_manifest_destroy(segq_manifest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_manifest_t *self = *self_p;
    for (size_t i = 0; i < (self->nrows + 1) * self->ncols; i++)
        free(self->cells[i]);
    free(self->cells);
    free(self);
    *self_p = NULL;
}

size_t segq_manifest_rows(const segq_manifest_t *self)
{
    return self ? self->nrows : 0;
}

static int push(char ***cells, size_t *n, size_t *cap, char *s)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **p = realloc(*cells, nc * sizeof *p);
        if (!p)
            return -1;
        *cells = p;
        *cap = nc;
    }
    (*cells)[(*n)++] = s;
    return 0;
}

int segq_manifest_read(const char *dir, segq_manifest_t **out, char *err, size_t errlen)
{
    *out = NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, SEGQ_MANIFEST_FILE);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return SEGQ_EIO;
    }
    segq_manifest_t *m = calloc(1, sizeof *m);
    char **cells = NULL, *field = NULL;
    size_t n = 0, cap = 0, flen = 0, fcap = 0, row_start = 0, line = 1;
    int rc = m ? 0 : SEGQ_ENOMEM, quoted = 0, c, at_field_start = 1, eof = 0;
    while (!rc && !eof) {
        c = fgetc(f);
        eof = c == EOF;
        int end_field = 0, end_row = 0;
        if (quoted && eof) {
            snprintf(err, errlen, "%s line %zu: quoted field not closed", path, line);
            rc = SEGQ_EINVAL;
            break;
        }
        if (quoted) {
            if (c == '"') {
                int d = fgetc(f);
                if (d != '"') {
                    quoted = 0;
                    if (d != EOF)
                        ungetc(d, f);
                    continue;
                }
            } else if (c == '\n')
                line++;
        } else if (eof) {
            end_field = end_row = !at_field_start || flen > 0 || n > row_start;
        } else if (c == '"' && flen == 0 && at_field_start) {
            quoted = 1;
            at_field_start = 0;
            continue;
        } else if (c == ',') {
            end_field = 1;
        } else if (c == '\n') {
            end_field = end_row = 1;
            line++;
        } else if (c == '\r') {
            continue;
        }
        if (!end_field) {
            if (eof)
                break;
            if (flen + 2 > fcap) {
                fcap = fcap ? fcap * 2 : 64;
                char *p = realloc(field, fcap);
                if (!p) {
                    rc = SEGQ_ENOMEM;
                    break;
                }
                field = p;
            }
            field[flen++] = (char)c;
            at_field_start = 0;
            continue;
        }
        char *s = malloc(flen + 1);
        if (!s || push(&cells, &n, &cap, s)) {
            free(s);
            rc = SEGQ_ENOMEM;
            break;
        }
        if (flen)
            memcpy(s, field, flen);
        s[flen] = '\0';
        flen = 0;
        at_field_start = 1;
        if (end_row) {
            size_t count = n - row_start;
            if (m->ncols == 0)
                m->ncols = count;
            else if (count != m->ncols) {
                snprintf(err, errlen, "%s line %zu: %zu fields, the header has %zu", path,
                         line - (c == '\n'), count, m->ncols);
                rc = SEGQ_EINVAL;
            }
            row_start = n;
        }
    }
    fclose(f);
    free(field);
    if (rc == SEGQ_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", path);
    if (m) {
        m->cells = cells;
        m->nrows = m->ncols ? n / m->ncols - (n >= m->ncols) : 0;
        if (m->ncols == 0)
            m->nrows = 0;
    } else {
        for (size_t i = 0; i < n; i++)
            free(cells[i]);
        free(cells);
    }
    if (!rc) {
        m->name_col = -1;
        for (size_t j = 0; j < m->ncols; j++)
            if (strcmp(m->cells[j], "name") == 0)
                m->name_col = (int)j;
        if (m->name_col < 0) {
            snprintf(err, errlen, "%s: no 'name' column in the header", path);
            rc = SEGQ_EINVAL;
        }
    }
    for (size_t r = 1; !rc && r <= m->nrows; r++)
        for (size_t q = 1; q < r; q++)
            if (strcmp(m->cells[r * m->ncols + (size_t)m->name_col],
                       m->cells[q * m->ncols + (size_t)m->name_col])
                == 0) {
                snprintf(err, errlen, "%s: pair '%s' is listed twice", path,
                         m->cells[r * m->ncols + (size_t)m->name_col]);
                rc = SEGQ_EINVAL;
                break;
            }
    if (rc)
        segq_manifest_destroy(&m);
    *out = m;
    return rc;
}

const char *segq_manifest_get(const segq_manifest_t *self, const char *name, const char *col)
{
    if (!self)
        return NULL;
    int c = -1;
    for (size_t j = 0; j < self->ncols; j++)
        if (strcmp(self->cells[j], col) == 0)
            c = (int)j;
    if (c < 0)
        return NULL;
    for (size_t r = 1; r <= self->nrows; r++)
        if (strcmp(self->cells[r * self->ncols + (size_t)self->name_col], name) == 0)
            return self->cells[r * self->ncols + (size_t)c];
    return NULL;
}
