/* manifest.csv reader (RFC 4180 quoting, as the generate writer uses),
 * and where a pair's style is by it. */
#include "stylize_manifest.h"

#include "segq_dataset.h"
#include "segq_error.h"
#include "segq_sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A row by its name: the index a lookup searches. */
typedef struct {
    const char *name;
    size_t row;
} name_row_t;

struct segq_manifest_t {
    size_t ncols, nrows;
    char **cells; /* (nrows + 1) x ncols, the header row first */
    int name_col;
    name_row_t *by_name; /* nrows of them, sorted by name */
};

static void free_cells(char **cells, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
}

void segq_manifest_destroy(segq_manifest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_manifest_t *self = *self_p;
    free_cells(self->cells, (self->nrows + 1) * self->ncols);
    free(self->by_name);
    free(self);
    *self_p = NULL;
}

size_t segq_manifest_rows(const segq_manifest_t *self)
{
    return self ? self->nrows : 0;
}

/* The reader's state: every field read so far, row after row, and the
 * field being read. */
typedef struct {
    FILE *f;
    const char *path;
    char **cells; /* owned: n of them, freed with free_cells */
    size_t n, cap;
    char *field; /* owned: the field being read, flen bytes (not terminated) */
    size_t flen, fcap;
    size_t row_start, ncols, line;
    int quoted, at_field_start;
} csv_reader_t;

/* What a character read means to the reader. */
typedef enum {
    CSV_SKIP,          /* nothing more to do (a quote, a '\r') */
    CSV_APPEND,        /* it belongs to the field */
    CSV_END_FIELD,     /* ',' */
    CSV_END_ROW,       /* '\n', or the end of a last row without one */
    CSV_END_OF_FILE,   /* the end, after a complete row */
    CSV_UNCLOSED_QUOTE /* the end, inside a quoted field */
} csv_event_t;

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

/* c (EOF at the end) in a quoted field: a doubled quote is one quote, a
 * single one closes the field. */
static csv_event_t classify_quoted(csv_reader_t *r, int c)
{
    if (c == EOF)
        return CSV_UNCLOSED_QUOTE;
    if (c == '"') {
        int d = fgetc(r->f);
        if (d != '"') {
            r->quoted = 0;
            if (d != EOF)
                ungetc(d, r->f);
            return CSV_SKIP;
        }
    } else if (c == '\n')
        r->line++;
    return CSV_APPEND;
}

static csv_event_t classify(csv_reader_t *r, int c)
{
    if (r->quoted)
        return classify_quoted(r, c);
    if (c == EOF)
        return !r->at_field_start || r->flen > 0 || r->n > r->row_start ? CSV_END_ROW
                                                                        : CSV_END_OF_FILE;
    if (c == '"' && r->flen == 0 && r->at_field_start) {
        r->quoted = 1;
        r->at_field_start = 0;
        return CSV_SKIP;
    }
    if (c == ',')
        return CSV_END_FIELD;
    if (c == '\n') {
        r->line++;
        return CSV_END_ROW;
    }
    return c == '\r' ? CSV_SKIP : CSV_APPEND;
}

static int append_char(csv_reader_t *r, int c)
{
    if (r->flen + 2 > r->fcap) {
        r->fcap = r->fcap ? r->fcap * 2 : 64;
        char *p = realloc(r->field, r->fcap);
        if (!p)
            return SEGQ_ENOMEM;
        r->field = p;
    }
    r->field[r->flen++] = (char)c;
    r->at_field_start = 0;
    return 0;
}

/* The field read becomes a cell; at the end of a row (c its last
 * character), the row must have the header's field count. */
static int end_field(csv_reader_t *r, int end_row, int c, char *err, size_t errlen)
{
    char *s = malloc(r->flen + 1);
    if (!s || push(&r->cells, &r->n, &r->cap, s)) {
        free(s);
        return SEGQ_ENOMEM;
    }
    if (r->flen)
        memcpy(s, r->field, r->flen);
    s[r->flen] = '\0';
    r->flen = 0;
    r->at_field_start = 1;
    if (!end_row)
        return 0;
    size_t count = r->n - r->row_start;
    int rc = 0;
    if (r->ncols == 0)
        r->ncols = count;
    else if (count != r->ncols) {
        snprintf(err, errlen, "%s line %zu: %zu fields, the header has %zu", r->path,
                 r->line - (c == '\n'), count, r->ncols);
        rc = SEGQ_EINVAL;
    }
    r->row_start = r->n;
    return rc;
}

/* Reads every cell of the file, checking that its rows have as many
 * fields as the header. */
static int read_cells(csv_reader_t *r, char *err, size_t errlen)
{
    for (;;) {
        int c = fgetc(r->f);
        csv_event_t event = classify(r, c);
        if (event == CSV_UNCLOSED_QUOTE) {
            snprintf(err, errlen, "%s line %zu: quoted field not closed", r->path, r->line);
            return SEGQ_EINVAL;
        }
        if (event == CSV_END_OF_FILE)
            return 0;
        if (event == CSV_SKIP)
            continue;
        int rc = event == CSV_APPEND ? append_char(r, c)
                                     : end_field(r, event == CSV_END_ROW, c, err, errlen);
        if (rc || c == EOF)
            return rc;
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const name_row_t *)a)->name, ((const name_row_t *)b)->name);
}

/* The header's (last) 'name' column, and no name twice. The rows are
 * indexed by name, sorted, so that the check and every lookup stay
 * n log n: a generation may have millions of pairs, and a scan per pair
 * took 4 s at 40,000. */
static int index_names(segq_manifest_t *m, const char *path, char *err, size_t errlen)
{
    m->name_col = -1;
    for (size_t j = 0; j < m->ncols; j++)
        if (strcmp(m->cells[j], "name") == 0)
            m->name_col = (int)j;
    if (m->name_col < 0) {
        snprintf(err, errlen, "%s: no 'name' column in the header", path);
        return SEGQ_EINVAL;
    }
    m->by_name = malloc((m->nrows ? m->nrows : 1) * sizeof *m->by_name);
    if (!m->by_name) {
        snprintf(err, errlen, "%s: out of memory", path);
        return SEGQ_ENOMEM;
    }
    for (size_t r = 1; r <= m->nrows; r++)
        m->by_name[r - 1] = (name_row_t){m->cells[r * m->ncols + (size_t)m->name_col], r};
    qsort(m->by_name, m->nrows, sizeof *m->by_name, by_name);
    for (size_t i = 1; i < m->nrows; i++)
        if (strcmp(m->by_name[i - 1].name, m->by_name[i].name) == 0) {
            snprintf(err, errlen, "%s: pair '%s' is listed twice", path, m->by_name[i].name);
            return SEGQ_EINVAL;
        }
    return 0;
}

int segq_manifest_parse(FILE *f, const char *name, segq_manifest_t **out, char *err, size_t errlen)
{
    *out = NULL;
    csv_reader_t r = {.f = f, .path = name, .line = 1, .at_field_start = 1};
    segq_manifest_t *m = calloc(1, sizeof *m);
    int rc = m ? read_cells(&r, err, errlen) : SEGQ_ENOMEM;
    free(r.field);
    if (rc == SEGQ_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", name);
    if (rc) {
        free_cells(r.cells, r.n);
        free(m);
        return rc;
    }
    /* the header row first; every row has ncols cells */
    m->cells = r.cells;
    m->ncols = r.ncols;
    m->nrows = r.ncols ? r.n / r.ncols - 1 : 0;
    rc = index_names(m, name, err, errlen);
    if (rc)
        segq_manifest_destroy(&m);
    *out = m;
    return rc;
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
    int rc = segq_manifest_parse(f, path, out, err, errlen);
    fclose(f);
    return rc;
}

int segq_manifest_read_set(const char *dir, const char *what, segq_manifest_t **out, char *err,
                           size_t errlen)
{
    char inner[1024];
    int rc = segq_manifest_read(dir, out, inner, sizeof inner);
    if (rc == 1) {
        snprintf(err, errlen,
                 "%s %s: no manifest.csv (a synthetic set must be a generate "
                 "or stylize output, whose manifest names each pair's source image)",
                 what, dir);
        return SEGQ_EINVAL;
    }
    if (rc)
        snprintf(err, errlen, "%s: %s", what, inner);
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
    const name_row_t key = {name, 0};
    const name_row_t *found = bsearch(&key, self->by_name, self->nrows, sizeof key, by_name);
    return found ? self->cells[found->row * self->ncols + (size_t)c] : NULL;
}

int segq_content_open(const char *dir, segq_dataset_t **ds, segq_manifest_t **man, char *err,
                      size_t errlen)
{
    *man = NULL;
    char inner[1024];
    int rc = segq_dataset_open(dir, ds, inner, sizeof inner);
    if (rc)
        snprintf(err, errlen, "--content: %s", inner);
    else if (segq_dataset_count(*ds) == 0)
        rc = segq_fail(err, errlen, SEGQ_EINVAL, "--content %s: no image/mask pairs", dir);
    if (!rc && (rc = segq_manifest_read(dir, man, err, errlen)) == 1)
        rc = 0; /* no manifest: stylize needs --style then, and says so per pair */
    if (rc) {
        segq_manifest_destroy(man);
        segq_dataset_destroy(ds);
    }
    return rc;
}

static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The first of the places a source image `src` may be that holds it, as a
 * path to free; NULL with where[] saying where it was looked for. */
static char *find_source(const char *style, const char *content, bool cwd, const char *src,
                         char *where, size_t wlen)
{
    char tries[3][8400];
    int n = 0;
    if (style && *style) {
        snprintf(tries[n++], sizeof tries[0], "%s/%s", style, src);
        snprintf(tries[n++], sizeof tries[0], "%s/images/%s", style, src);
        snprintf(where, wlen, "%s", style);
    } else {
        if (cwd)
            snprintf(tries[n++], sizeof tries[0], "%s", src);
        snprintf(tries[n++], sizeof tries[0], "%s/%s", content, src);
        snprintf(where, wlen, "%s--content %s", cwd ? "the working directory nor " : "", content);
    }
    for (int i = 0; i < n; i++)
        if (is_file(tries[i]))
            return strdup(tries[i]);
    return NULL;
}

/* A same-named but different file would silently restyle with the wrong
 * image: path must have the sha256 the manifest recorded, if it did. */
static int check_source_hash(const char *path, const char *want, const char *name, char *err,
                             size_t errlen)
{
    char hex[SEGQ_HASH_HEX_LEN + 1];
    if (!want || !*want)
        return 0;
    if (segq_sha256_file(path, hex) != 0)
        return segq_fail(err, errlen, SEGQ_EIO, "cannot read %s: %s", path, strerror(errno));
    if (strcmp(hex, want) != 0)
        return segq_fail(err, errlen, SEGQ_EINVAL,
                         "pair '%s': %s is not its source image (sha256 %.12s..., the "
                         "manifest says %.12s...)",
                         name, path, hex, want);
    return 0;
}

int segq_stylize_style_path(const char *style, const char *content, bool cwd,
                            const segq_manifest_t *man, const char *name, char **out, char *err,
                            size_t errlen)
{
    struct stat sb;
    *out = NULL;
    if (style && *style && is_file(style))
        return (*out = strdup(style)) ? 0 : SEGQ_ENOMEM;
    if (style && *style && (stat(style, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        return segq_fail(err, errlen, SEGQ_EINVAL, "--style %s: no such file or folder", style);
    const char *src = segq_manifest_get(man, name, "source_image");
    if (!src || !*src)
        return segq_fail(err, errlen, SEGQ_EINVAL,
                         "pair '%s': %s its source image (column source_image) to take the "
                         "style from; give --style IMAGE",
                         name,
                         man ? "--content's manifest.csv does not name"
                             : "--content has no manifest.csv to name");
    char where[4200];
    *out = find_source(style, content, cwd, src, where, sizeof where);
    if (!*out)
        return segq_fail(err, errlen, SEGQ_EINVAL,
                         "pair '%s': its source image '%s' (manifest.csv) is not in %s; "
                         "pass --style %s",
                         name, src, where,
                         /* a queued job's --style is one file */
                         cwd ? "with the folder of the real images (or one style image)" : "IMAGE");
    int rc = check_source_hash(*out, segq_manifest_get(man, name, "source_image_sha256"), name, err,
                               errlen);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}
