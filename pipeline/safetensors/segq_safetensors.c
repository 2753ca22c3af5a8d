/* segq_st: dtype table and the validating reader. */
#include "segq_safetensors.h"
#include "segq_st_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *name;
    size_t size;
} dtypes[SEGQ_ST_DTYPE_COUNT] = {
    [SEGQ_ST_BOOL] = {"BOOL", 1},       [SEGQ_ST_U8] = {"U8", 1},
    [SEGQ_ST_I8] = {"I8", 1},           [SEGQ_ST_F8_E5M2] = {"F8_E5M2", 1},
    [SEGQ_ST_F8_E4M3] = {"F8_E4M3", 1}, [SEGQ_ST_I16] = {"I16", 2},
    [SEGQ_ST_U16] = {"U16", 2},         [SEGQ_ST_F16] = {"F16", 2},
    [SEGQ_ST_BF16] = {"BF16", 2},       [SEGQ_ST_I32] = {"I32", 4},
    [SEGQ_ST_U32] = {"U32", 4},         [SEGQ_ST_F32] = {"F32", 4},
    [SEGQ_ST_F64] = {"F64", 8},         [SEGQ_ST_I64] = {"I64", 8},
    [SEGQ_ST_U64] = {"U64", 8},
};

const char *segq_st_dtype_name(segq_st_dtype_t dtype)
{
    return (unsigned)dtype < SEGQ_ST_DTYPE_COUNT ? dtypes[dtype].name : NULL;
}

size_t segq_st_dtype_size(segq_st_dtype_t dtype)
{
    return (unsigned)dtype < SEGQ_ST_DTYPE_COUNT ? dtypes[dtype].size : 0;
}

int segq_st_dtype_parse(const char *name, segq_st_dtype_t *out)
{
    for (int i = 0; i < SEGQ_ST_DTYPE_COUNT; i++)
        if (strcmp(dtypes[i].name, name) == 0) {
            *out = (segq_st_dtype_t)i;
            return 0;
        }
    return SEGQ_EUNSUPPORTED;
}

int segq__st_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- Reader ------------------------------------------------------------ */

struct segq_st_t {
    segq_st_tensor_t *tensors; /* sorted by name */
    size_t count;
    char **meta_keys, **meta_values; /* sorted by key */
    size_t meta_count;
    void *data; /* the byte buffer, 16-byte aligned */
    size_t data_len;
};

void segq_st_destroy(segq_st_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_st_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        free((char *)self->tensors[i].name);
        free((int64_t *)self->tensors[i].shape);
    }
    free(self->tensors);
    for (size_t i = 0; i < self->meta_count; i++) {
        free(self->meta_keys[i]);
        free(self->meta_values[i]);
    }
    free(self->meta_keys);
    free(self->meta_values);
    free(self->data);
    free(self);
    *self_p = NULL;
}

/* Begin offsets kept beside the tensors while validating. */
typedef struct {
    size_t begin, end;
    size_t index;
} span_t;

static int cmp_span(const void *a, const void *b)
{
    const span_t *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const segq_st_tensor_t *)a)->name, ((const segq_st_tensor_t *)b)->name);
}

/* A JSON integer that fits size_t and is not negative. */
static int json_size(const json_t *v, size_t *out)
{
    if (!json_is_integer(v))
        return -1;
    json_int_t i = json_integer_value(v);
    if (i < 0 || (unsigned long long)i > SIZE_MAX)
        return -1;
    *out = (size_t)i;
    return 0;
}

static int parse_metadata(segq_st_t *self, const char *name, json_t *meta, char *err, size_t errlen)
{
    if (json_is_null(meta))
        return 0;
    if (!json_is_object(meta))
        return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                             "%s: __metadata__ is not a JSON object of strings", name);
    size_t n = json_object_size(meta);
    self->meta_keys = calloc(n ? n : 1, sizeof(char *));
    self->meta_values = calloc(n ? n : 1, sizeof(char *));
    if (!self->meta_keys || !self->meta_values)
        return segq__st_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", name);
    const char *key;
    json_t *value;
    json_object_foreach(meta, key, value)
    {
        if (!json_is_string(value))
            return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                                 "%s: __metadata__ value of \"%s\" is not a string", name, key);
        size_t i = self->meta_count;
        self->meta_keys[i] = strdup(key);
        self->meta_values[i] = strdup(json_string_value(value));
        self->meta_count++;
        if (!self->meta_keys[i] || !self->meta_values[i])
            return segq__st_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", name);
    }
    /* Insertion sort by key: metadata maps are small. */
    for (size_t i = 1; i < self->meta_count; i++)
        for (size_t j = i; j > 0 && strcmp(self->meta_keys[j - 1], self->meta_keys[j]) > 0; j--) {
            char *k = self->meta_keys[j], *v = self->meta_values[j];
            self->meta_keys[j] = self->meta_keys[j - 1];
            self->meta_values[j] = self->meta_values[j - 1];
            self->meta_keys[j - 1] = k;
            self->meta_values[j - 1] = v;
        }
    return 0;
}

/* One tensor entry: {"dtype": str, "shape": [n...], "data_offsets": [b, e]}. */
static int parse_entry(segq_st_tensor_t *t, span_t *span, const char *name, const char *key,
                       json_t *entry, char *err, size_t errlen)
{
    if (!json_is_object(entry))
        return segq__st_fail(err, errlen, SEGQ_ECORRUPT, "%s: entry \"%s\" is not a JSON object",
                             name, key);
    const char *field;
    json_t *value;
    json_object_foreach(entry, field, value)
    {
        if (strcmp(field, "dtype") && strcmp(field, "shape") && strcmp(field, "data_offsets"))
            return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                                 "%s: tensor \"%s\" has an unexpected field \"%s\"", name, key,
                                 field);
    }
    json_t *dtype = json_object_get(entry, "dtype");
    json_t *shape = json_object_get(entry, "shape");
    json_t *offsets = json_object_get(entry, "data_offsets");
    if (!json_is_string(dtype) || !json_is_array(shape) || !json_is_array(offsets))
        return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                             "%s: tensor \"%s\" needs a string \"dtype\", an array \"shape\" and "
                             "an array \"data_offsets\"",
                             name, key);
    if (segq_st_dtype_parse(json_string_value(dtype), &t->dtype))
        return segq__st_fail(err, errlen, SEGQ_EUNSUPPORTED,
                             "%s: tensor \"%s\" has unknown dtype \"%s\"", name, key,
                             json_string_value(dtype));
    if (json_array_size(offsets) != 2 || json_size(json_array_get(offsets, 0), &span->begin)
        || json_size(json_array_get(offsets, 1), &span->end))
        return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                             "%s: tensor \"%s\": data_offsets must be [begin, end] of "
                             "non-negative integers",
                             name, key);
    t->ndim = json_array_size(shape);
    int64_t *dims = calloc(t->ndim ? t->ndim : 1, sizeof(int64_t));
    t->shape = dims;
    if (!dims)
        return segq__st_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", name);
    size_t numel = 1;
    for (size_t d = 0; d < t->ndim; d++) {
        size_t dim;
        if (json_size(json_array_get(shape, d), &dim) || dim > INT64_MAX)
            return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                                 "%s: tensor \"%s\": shape[%zu] is not a non-negative integer",
                                 name, key, d);
        dims[d] = (int64_t)dim;
        if (dim && numel > SIZE_MAX / dim)
            return segq__st_fail(err, errlen, SEGQ_ECORRUPT, "%s: tensor \"%s\": shape overflows",
                                 name, key);
        numel *= dim;
    }
    size_t esize = segq_st_dtype_size(t->dtype);
    if (numel > SIZE_MAX / esize)
        return segq__st_fail(err, errlen, SEGQ_ECORRUPT, "%s: tensor \"%s\": size overflows", name,
                             key);
    t->numel = numel;
    t->nbytes = numel * esize;
    if (span->end < span->begin || span->end - span->begin != t->nbytes)
        return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                             "%s: tensor \"%s\": data_offsets [%zu, %zu] do not hold %zu %s "
                             "elements (%zu bytes)",
                             name, key, span->begin, span->end, numel, segq_st_dtype_name(t->dtype),
                             t->nbytes);
    return 0;
}

/* Parses and checks the header against a byte buffer of data_len bytes;
 * tensor data pointers are set later, once the buffer is loaded. */
/* Every entry of the header object: the metadata, or a tensor into
 * self->tensors with its byte span in spans (same index). */
static int parse_entries(segq_st_t *self, json_t *root, span_t *spans, const char *name, char *err,
                         size_t errlen)
{
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        int rc;
        if (strcmp(key, "__metadata__") == 0) {
            rc = parse_metadata(self, name, value, err, errlen);
        } else {
            size_t i = self->count++;
            segq_st_tensor_t *t = &self->tensors[i];
            t->name = strdup(key);
            spans[i].index = i;
            rc = t->name ? parse_entry(t, &spans[i], name, key, value, err, errlen)
                         : segq__st_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", name);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* The spec's layout: the tensors' spans tile [0, data_len) exactly. Sorts
 * spans. */
static int check_tiling(const segq_st_t *self, span_t *spans, const char *name, size_t data_len,
                        char *err, size_t errlen)
{
    qsort(spans, self->count, sizeof(span_t), cmp_span);
    size_t at = 0;
    for (size_t i = 0; i < self->count; i++) {
        const char *tname = self->tensors[spans[i].index].name;
        if (spans[i].begin != at)
            return segq__st_fail(
                err, errlen, SEGQ_ECORRUPT, "%s: tensor \"%s\" starts at %zu, expected %zu (%s)",
                name, tname, spans[i].begin, at,
                spans[i].begin > at ? "gap in the byte buffer" : "overlaps the previous tensor");
        at = spans[i].end;
    }
    if (at != data_len)
        return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                             "%s: tensors cover %zu bytes but the byte buffer has %zu (%s)", name,
                             at, data_len,
                             at > data_len ? "file truncated" : "trailing bytes not covered");
    return 0;
}

static int parse_header(segq_st_t *self, const char *name, const char *header, size_t n,
                        size_t data_len, char *err, size_t errlen)
{
    if (n == 0 || header[0] != '{')
        return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                             "%s: header does not start with '{': not a safetensors file", name);
    json_error_t jerr;
    json_t *root = json_loadb(header, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                             "%s: header is not valid JSON: %s (line %d, column %d)", name,
                             jerr.text, jerr.line, jerr.column);
    int rc = 0;
    span_t *spans = NULL;
    if (!json_is_object(root)) {
        rc = segq__st_fail(err, errlen, SEGQ_ECORRUPT, "%s: header is not a JSON object", name);
        goto out;
    }
    size_t total = json_object_size(root);
    self->tensors = calloc(total ? total : 1, sizeof(segq_st_tensor_t));
    spans = calloc(total ? total : 1, sizeof(span_t));
    if (!self->tensors || !spans) {
        rc = segq__st_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    rc = parse_entries(self, root, spans, name, err, errlen);
    if (!rc)
        rc = check_tiling(self, spans, name, data_len, err, errlen);
    /* Remember offsets in the data pointer until the buffer exists. */
    for (size_t i = 0; !rc && i < self->count; i++)
        self->tensors[spans[i].index].data = (const void *)(uintptr_t)spans[i].begin;
out:
    free(spans);
    json_decref(root);
    return rc;
}

/* Offsets become pointers into the byte buffer (NULL without one: a
 * header-only open). */
static int finish(segq_st_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        size_t begin = (size_t)(uintptr_t)self->tensors[i].data;
        self->tensors[i].data = self->data ? (const char *)self->data + begin : NULL;
    }
    qsort(self->tensors, self->count, sizeof(segq_st_tensor_t), cmp_tensor_name);
    return 0;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Header length N checked against the total size; *n set. */
static int check_length(const char *name, const unsigned char prefix[8], size_t total,
                        size_t max_header, size_t *n, char *err, size_t errlen)
{
    uint64_t len = le64(prefix);
    if (len > max_header)
        return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                             "%s: header length %llu is above the %zu-byte limit: %s", name,
                             (unsigned long long)len, max_header,
                             max_header == SEGQ_ST_MAX_HEADER ? "not a safetensors file"
                                                              : "more than this reader takes");
    if (len > total - 8)
        return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                             "%s: header length %llu but only %zu bytes follow: file truncated",
                             name, (unsigned long long)len, total - 8);
    *n = (size_t)len;
    return 0;
}

static void *alloc_aligned(size_t len)
{
    void *p = NULL;
    return posix_memalign(&p, 16, len ? len : 1) ? NULL : p;
}

int segq_st_open_mem(const void *buf, size_t len, const char *name, segq_st_t **out, char *err,
                     size_t errlen)
{
    if (!out || (!buf && len))
        return segq__st_fail(err, errlen, SEGQ_EINVAL, "segq_st_open_mem: bad arguments");
    *out = NULL;
    name = name ? name : "(memory)";
    if (len < 8)
        return segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                             "%s: %zu bytes, shorter than the 8-byte header length", name, len);
    const unsigned char *p = buf;
    size_t n;
    int rc = check_length(name, p, len, SEGQ_ST_MAX_HEADER, &n, err, errlen);
    if (rc)
        return rc;
    segq_st_t *self = calloc(1, sizeof *self);
    if (!self)
        return segq__st_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", name);
    self->data_len = len - 8 - n;
    rc = parse_header(self, name, (const char *)p + 8, n, self->data_len, err, errlen);
    if (!rc) {
        self->data = alloc_aligned(self->data_len);
        if (!self->data)
            rc = segq__st_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", name);
    }
    if (rc) {
        segq_st_destroy(&self);
        return rc;
    }
    if (self->data_len)
        memcpy(self->data, p + 8 + n, self->data_len);
    finish(self);
    *out = self;
    return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -1 : 1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* segq_st_open, or with_data 0 segq_st_open_header; messages name the
 * file `name`. */
static int open_file(const char *path, const char *name, int with_data, size_t max_header,
                     segq_st_t **out, char *err, size_t errlen)
{
    if (!path || !name || !out)
        return segq__st_fail(err, errlen, SEGQ_EINVAL, "segq_st_open: bad arguments");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return segq__st_fail(err, errlen, SEGQ_EIO, "%s: cannot open: %s", name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return segq__st_fail(err, errlen, SEGQ_EIO, "%s: not a regular file", name);
    }
    size_t total = (size_t)st.st_size;
    unsigned char prefix[8];
    int rc = 0;
    char *header = NULL;
    segq_st_t *self = NULL;
    size_t n;
    if (total < 8) {
        rc = segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                           "%s: %zu bytes, shorter than the 8-byte header length", name, total);
        goto out;
    }
    if (read_full(fd, prefix, 8)) {
        rc = segq__st_fail(err, errlen, SEGQ_EIO, "%s: read failed", name);
        goto out;
    }
    if ((rc = check_length(name, prefix, total, max_header, &n, err, errlen)))
        goto out;
    header = malloc(n ? n : 1);
    self = calloc(1, sizeof *self);
    if (!header || !self) {
        rc = segq__st_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    if (read_full(fd, header, n)) {
        rc = segq__st_fail(err, errlen, SEGQ_EIO, "%s: read failed (file changed?)", name);
        goto out;
    }
    self->data_len = total - 8 - n;
    if ((rc = parse_header(self, name, header, n, self->data_len, err, errlen)))
        goto out;
    if (!with_data)
        goto done;
    self->data = alloc_aligned(self->data_len);
    if (!self->data) {
        rc = segq__st_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    if (read_full(fd, self->data, self->data_len)) {
        rc = segq__st_fail(err, errlen, SEGQ_ECORRUPT,
                           "%s: file ended while reading the byte buffer", name);
        goto out;
    }
done:
    finish(self);
    *out = self;
    self = NULL;
out:
    free(header);
    segq_st_destroy(&self);
    close(fd);
    return rc;
}

int segq_st_open(const char *path, segq_st_t **out, char *err, size_t errlen)
{
    return open_file(path, path, 1, SEGQ_ST_MAX_HEADER, out, err, errlen);
}

int segq_st_open_header(const char *path, segq_st_t **out, char *err, size_t errlen)
{
    return open_file(path, path, 0, SEGQ_ST_MAX_HEADER, out, err, errlen);
}

int segq_st_open_header_as(const char *path, const char *name, size_t max_header, segq_st_t **out,
                           char *err, size_t errlen)
{
    return open_file(path, name, 0, max_header, out, err, errlen);
}

size_t segq_st_count(const segq_st_t *self)
{
    return self ? self->count : 0;
}

const segq_st_tensor_t *segq_st_at(const segq_st_t *self, size_t i)
{
    return self && i < self->count ? &self->tensors[i] : NULL;
}

const segq_st_tensor_t *segq_st_find(const segq_st_t *self, const char *name)
{
    if (!self || !name)
        return NULL;
    segq_st_tensor_t key = {.name = name};
    return bsearch(&key, self->tensors, self->count, sizeof key, cmp_tensor_name);
}

size_t segq_st_meta_count(const segq_st_t *self)
{
    return self ? self->meta_count : 0;
}

int segq_st_meta_at(const segq_st_t *self, size_t i, const char **key, const char **value)
{
    if (!self || i >= self->meta_count)
        return SEGQ_EINVAL;
    if (key)
        *key = self->meta_keys[i];
    if (value)
        *value = self->meta_values[i];
    return 0;
}

const char *segq_st_meta_get(const segq_st_t *self, const char *key)
{
    if (!self || !key)
        return NULL;
    for (size_t i = 0; i < self->meta_count; i++)
        if (strcmp(self->meta_keys[i], key) == 0)
            return self->meta_values[i];
    return NULL;
}
