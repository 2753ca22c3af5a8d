/* segq_st_writer: builds a safetensors file laid out exactly as the
 * reference implementation lays it out, so Python's `safetensors` loads it
 * unchanged and byte-identical inputs give byte-identical files. */
#include "segq_safetensors.h"
#include "segq_st_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *name;
    segq_st_dtype_t dtype;
    size_t ndim;
    int64_t *shape;
    void *data;
    size_t nbytes;
} entry_t;

typedef struct {
    char *key, *value;
} meta_t;

struct segq_st_writer_t {
    entry_t *entries;
    size_t count, cap;
    meta_t *meta;
    size_t meta_count, meta_cap;
};

segq_st_writer_t *segq_st_writer_new(void)
{
    return calloc(1, sizeof(segq_st_writer_t));
}

void segq_st_writer_destroy(segq_st_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_st_writer_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        free(self->entries[i].name);
        free(self->entries[i].shape);
        free(self->entries[i].data);
    }
    free(self->entries);
    for (size_t i = 0; i < self->meta_count; i++) {
        free(self->meta[i].key);
        free(self->meta[i].value);
    }
    free(self->meta);
    free(self);
    *self_p = NULL;
}

/* Grows *arr (of *cap elements of size) to hold one more. */
static int grow(void **arr, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, ncap * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

int segq_st_writer_add(segq_st_writer_t *self, const char *name, segq_st_dtype_t dtype, size_t ndim,
                       const int64_t *shape, const void *data, size_t nbytes, char *err,
                       size_t errlen)
{
    if (!self || !name || (ndim && !shape) || (nbytes && !data))
        return segq__st_fail(err, errlen, SEGQ_EINVAL, "segq_st_writer_add: bad arguments");
    size_t esize = segq_st_dtype_size(dtype);
    if (!esize)
        return segq__st_fail(err, errlen, SEGQ_EINVAL, "tensor \"%s\": invalid dtype %d", name,
                             (int)dtype);
    if (strcmp(name, "__metadata__") == 0)
        return segq__st_fail(err, errlen, SEGQ_EINVAL,
                             "tensor name \"__metadata__\" is reserved by the format");
    size_t numel = 1;
    for (size_t d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return segq__st_fail(err, errlen, SEGQ_EINVAL, "tensor \"%s\": negative dimension %lld",
                                 name, (long long)shape[d]);
        size_t dim = (size_t)shape[d];
        if (dim && numel > SIZE_MAX / dim)
            return segq__st_fail(err, errlen, SEGQ_EINVAL, "tensor \"%s\": shape overflows", name);
        numel *= dim;
    }
    if (numel > SIZE_MAX / esize || numel * esize != nbytes)
        return segq__st_fail(err, errlen, SEGQ_EINVAL,
                             "tensor \"%s\": %zu bytes given, shape x %s needs %zu", name, nbytes,
                             segq_st_dtype_name(dtype), numel * esize);
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->entries[i].name, name) == 0)
            return segq__st_fail(err, errlen, SEGQ_EEXIST, "tensor \"%s\" added twice", name);
    if (grow((void **)&self->entries, &self->cap, self->count, sizeof(entry_t)))
        return segq__st_fail(err, errlen, SEGQ_ENOMEM, "out of memory");
    entry_t e = {.name = strdup(name),
                 .dtype = dtype,
                 .ndim = ndim,
                 .shape = malloc(ndim ? ndim * sizeof(int64_t) : 1),
                 .data = malloc(nbytes ? nbytes : 1),
                 .nbytes = nbytes};
    if (!e.name || !e.shape || !e.data) {
        free(e.name);
        free(e.shape);
        free(e.data);
        return segq__st_fail(err, errlen, SEGQ_ENOMEM, "out of memory");
    }
    if (ndim)
        memcpy(e.shape, shape, ndim * sizeof(int64_t));
    if (nbytes)
        memcpy(e.data, data, nbytes);
    self->entries[self->count++] = e;
    return 0;
}

int segq_st_writer_set_meta(segq_st_writer_t *self, const char *key, const char *value, char *err,
                            size_t errlen)
{
    if (!self || !key || !value)
        return segq__st_fail(err, errlen, SEGQ_EINVAL, "segq_st_writer_set_meta: bad arguments");
    char *v = strdup(value);
    if (!v)
        return segq__st_fail(err, errlen, SEGQ_ENOMEM, "out of memory");
    for (size_t i = 0; i < self->meta_count; i++)
        if (strcmp(self->meta[i].key, key) == 0) {
            free(self->meta[i].value);
            self->meta[i].value = v;
            return 0;
        }
    char *k = strdup(key);
    if (!k || grow((void **)&self->meta, &self->meta_cap, self->meta_count, sizeof(meta_t))) {
        free(k);
        free(v);
        return segq__st_fail(err, errlen, SEGQ_ENOMEM, "out of memory");
    }
    self->meta[self->meta_count++] = (meta_t){k, v};
    return 0;
}

/* Reference layout: descending dtype (so larger elements come first and
 * stay aligned), then name. */
static int cmp_layout(const void *a, const void *b)
{
    const entry_t *x = *(entry_t *const *)a, *y = *(entry_t *const *)b;
    if (x->dtype != y->dtype)
        return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(((const meta_t *)a)->key, ((const meta_t *)b)->key);
}

static int header_oom(char *err, size_t errlen)
{
    return segq__st_fail(err, errlen, SEGQ_ENOMEM, "out of memory building the header");
}

/* "__metadata__", its keys sorted as the reference writes them. */
static int add_metadata(const segq_st_writer_t *self, json_t *root, char *err, size_t errlen)
{
    meta_t *meta = malloc(self->meta_count * sizeof(meta_t));
    json_t *m = json_object();
    if (json_object_set_new(root, "__metadata__", m) || !meta) {
        free(meta);
        return header_oom(err, errlen);
    }
    memcpy(meta, self->meta, self->meta_count * sizeof(meta_t));
    qsort(meta, self->meta_count, sizeof(meta_t), cmp_meta);
    int rc = 0;
    /* jansson refuses keys and strings that are not UTF-8. */
    for (size_t i = 0; i < self->meta_count && !rc; i++)
        if (json_object_set_new(m, meta[i].key, json_string(meta[i].value)))
            rc = segq__st_fail(err, errlen, SEGQ_EINVAL, "metadata \"%s\" is not valid UTF-8",
                               meta[i].key);
    free(meta);
    return rc;
}

/* One tensor's entry, in the reference's field order (dtype, shape,
 * data_offsets); NULL when out of memory. */
static json_t *tensor_json(const entry_t *e, size_t offset)
{
    json_t *t = json_object(), *shape = json_array(), *offs = json_array();
    if (!t || !shape || !offs) {
        json_decref(t);
        json_decref(shape);
        json_decref(offs);
        return NULL;
    }
    int bad = json_object_set_new(t, "dtype", json_string(segq_st_dtype_name(e->dtype)));
    bad |= json_object_set_new(t, "shape", shape);
    bad |= json_object_set_new(t, "data_offsets", offs);
    for (size_t d = 0; d < e->ndim; d++)
        bad |= json_array_append_new(shape, json_integer(e->shape[d]));
    bad |= json_array_append_new(offs, json_integer((json_int_t)offset));
    bad |= json_array_append_new(offs, json_integer((json_int_t)(offset + e->nbytes)));
    if (bad) {
        json_decref(t);
        return NULL;
    }
    return t;
}

/* Sorts the entries into *order, the reference's layout, and adds each
 * with the offsets of its data. */
static int add_tensors(const segq_st_writer_t *self, entry_t **order, json_t *root, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < self->count; i++)
        order[i] = &self->entries[i];
    qsort(order, self->count, sizeof(entry_t *), cmp_layout);
    size_t offset = 0;
    for (size_t i = 0; i < self->count; i++) {
        json_t *t = tensor_json(order[i], offset);
        if (!t)
            return header_oom(err, errlen);
        if (json_object_set_new(root, order[i]->name, t))
            return segq__st_fail(err, errlen, SEGQ_EINVAL, "tensor name is not valid UTF-8");
        offset += order[i]->nbytes;
    }
    return 0;
}

/* The compact JSON, padded with spaces to a multiple of 8 bytes. */
static int dump_padded(const json_t *root, char **out, size_t *len, char *err, size_t errlen)
{
    char *text = json_dumps(root, JSON_COMPACT);
    if (!text)
        return header_oom(err, errlen);
    size_t n = strlen(text);
    size_t padded = (n + 7) / 8 * 8;
    char *buf = malloc(padded);
    if (!buf) {
        free(text);
        return header_oom(err, errlen);
    }
    memcpy(buf, text, n);
    memset(buf + n, ' ', padded - n);
    free(text);
    *out = buf;
    *len = padded;
    return 0;
}

/* Builds the padded JSON header; *order gets the entries in layout order. */
static int build_header(const segq_st_writer_t *self, entry_t **order, char **out, size_t *len,
                        char *err, size_t errlen)
{
    json_t *root = json_object();
    if (!root)
        return header_oom(err, errlen);
    int rc = self->meta_count ? add_metadata(self, root, err, errlen) : 0;
    if (!rc)
        rc = add_tensors(self, order, root, err, errlen);
    if (!rc)
        rc = dump_padded(root, out, len, err, errlen);
    json_decref(root);
    return rc;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int segq_st_writer_to_mem(const segq_st_writer_t *self, uint8_t **buf, size_t *len, char *err,
                          size_t errlen)
{
    if (!self || !buf || !len)
        return segq__st_fail(err, errlen, SEGQ_EINVAL, "segq_st_writer_to_mem: bad arguments");
    entry_t **order = malloc((self->count ? self->count : 1) * sizeof(entry_t *));
    if (!order)
        return segq__st_fail(err, errlen, SEGQ_ENOMEM, "out of memory");
    char *header = NULL;
    size_t n = 0;
    int rc = build_header(self, order, &header, &n, err, errlen);
    if (rc) {
        free(order);
        return rc;
    }
    size_t total = 8 + n;
    for (size_t i = 0; i < self->count; i++)
        total += order[i]->nbytes;
    uint8_t *out = malloc(total);
    if (!out) {
        free(order);
        free(header);
        return segq__st_fail(err, errlen, SEGQ_ENOMEM, "out of memory (%zu bytes)", total);
    }
    put_le64(out, n);
    memcpy(out + 8, header, n);
    size_t at = 8 + n;
    for (size_t i = 0; i < self->count; i++) {
        if (order[i]->nbytes)
            memcpy(out + at, order[i]->data, order[i]->nbytes);
        at += order[i]->nbytes;
    }
    free(order);
    free(header);
    *buf = out;
    *len = total;
    return 0;
}

static int write_full(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int segq_st_writer_save(const segq_st_writer_t *self, const char *path, char *err, size_t errlen)
{
    if (!self || !path)
        return segq__st_fail(err, errlen, SEGQ_EINVAL, "segq_st_writer_save: bad arguments");
    uint8_t *buf;
    size_t len;
    int rc = segq_st_writer_to_mem(self, &buf, &len, err, errlen);
    if (rc)
        return rc;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    char *dir = strdup(path);
    if (!tmp || !dir) {
        rc = segq__st_fail(err, errlen, SEGQ_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    /* mkstemp makes the file 0600: checkpoints derive from patient data. */
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = segq__st_fail(err, errlen, SEGQ_EIO, "%s: cannot create temporary file: %s", path,
                           strerror(errno));
        goto out;
    }
    if (write_full(fd, buf, len) || fsync(fd)) {
        rc = segq__st_fail(err, errlen, SEGQ_EIO, "%s: write failed: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) || rename(tmp, path)) {
        rc = segq__st_fail(err, errlen, SEGQ_EIO, "%s: cannot move the new file in place: %s", path,
                           strerror(errno));
        unlink(tmp);
        goto out;
    }
    /* The rename itself must survive a crash for --resume to find the file. */
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
out:
    free(tmp);
    free(dir);
    free(buf);
    return rc;
}
