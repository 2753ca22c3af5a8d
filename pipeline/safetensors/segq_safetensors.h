/* segq_safetensors: reader and writer for the safetensors format
 * (8-byte little-endian header length N, N bytes of JSON header, then the
 * tensor bytes). Files written here load unchanged in Python's
 * `safetensors`; files read here are validated completely first.
 *
 * Conventions
 * - Functions that can fail return 0 or a negative SEGQ_E* code of
 *   segq_error.h and, when `err` is not NULL, write a message naming the
 *   file and the problem into err[0..errlen) (SEGQ_ST_ERRLEN is always
 *   enough). The codes: SEGQ_EIO (cannot open, read or write the file),
 *   SEGQ_ECORRUPT (malformed header, JSON or entry; sizes or offsets that
 *   do not add up; shorter than its header says), SEGQ_EUNSUPPORTED (a
 *   dtype this reader does not know), SEGQ_EINVAL (bad argument),
 *   SEGQ_EEXIST (writer: a name added twice), SEGQ_ENOMEM.
 * - segq_st_destroy(&p) / segq_st_writer_destroy(&p) free and set NULL.
 * - Tensor data is raw little-endian, C order, as in the file. The reader
 *   keeps the byte buffer 16-byte aligned, so a tensor whose offset is a
 *   multiple of its element size (always the case for files the writer
 *   makes, and for Python's) can be read in place on little-endian hosts.
 */
#ifndef SEGQ_SAFETENSORS_H
#define SEGQ_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "segq_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEGQ_ST_ERRLEN 512
/* Same bound as the reference implementation. */
#define SEGQ_ST_MAX_HEADER 100000000u

/* In the reference implementation's order (increasing alignment): the
 * writer lays tensors out by descending dtype, then by name. */
typedef enum {
    SEGQ_ST_BOOL,
    SEGQ_ST_U8,
    SEGQ_ST_I8,
    SEGQ_ST_F8_E5M2,
    SEGQ_ST_F8_E4M3,
    SEGQ_ST_I16,
    SEGQ_ST_U16,
    SEGQ_ST_F16,
    SEGQ_ST_BF16,
    SEGQ_ST_I32,
    SEGQ_ST_U32,
    SEGQ_ST_F32,
    SEGQ_ST_F64,
    SEGQ_ST_I64,
    SEGQ_ST_U64,
    SEGQ_ST_DTYPE_COUNT
} segq_st_dtype_t;

/* "F32" etc.; NULL for an invalid value. */
const char *segq_st_dtype_name(segq_st_dtype_t dtype);
/* Bytes per element; 0 for an invalid value. */
size_t segq_st_dtype_size(segq_st_dtype_t dtype);
/* 0 and *out set, or SEGQ_EUNSUPPORTED for a name it does not know. */
int segq_st_dtype_parse(const char *name, segq_st_dtype_t *out);

/* ---- Reading ----------------------------------------------------------- */

typedef struct {
    const char *name;
    segq_st_dtype_t dtype;
    size_t ndim;          /* 0 for a scalar */
    const int64_t *shape; /* ndim entries */
    size_t numel;         /* product of shape (1 for a scalar) */
    const void *data;     /* numel * dtype size bytes */
    size_t nbytes;
} segq_st_tensor_t;

typedef struct segq_st_t segq_st_t;

/* Reads and validates the whole file: header length within the file and
 * SEGQ_ST_MAX_HEADER, UTF-8 JSON object without duplicate keys, each entry
 * {dtype, shape, data_offsets} with a known dtype, non-negative shape,
 * shape x dtype size == end - begin without overflow, entries contiguous
 * from 0 to the end of the file (no overlap, no gap), and __metadata__ a
 * map of strings. */
int segq_st_open(const char *path, segq_st_t **out, char *err, size_t errlen);
/* The same checks without reading the byte buffer (the file's size stands
 * for it), so a large weights file is checked in a few reads: names,
 * dtypes, shapes and metadata as segq_st_open gives them, every tensor's
 * data NULL. */
int segq_st_open_header(const char *path, segq_st_t **out, char *err, size_t errlen);
/* The same, its messages naming the file `name` rather than its path (a
 * file whose path says nothing to the one who will read the message), and
 * refusing a header over max_header bytes (at most SEGQ_ST_MAX_HEADER):
 * for a reader that knows what the file should hold, so that a peer's
 * file makes it parse no more than that. */
int segq_st_open_header_as(const char *path, const char *name, size_t max_header, segq_st_t **out,
                           char *err, size_t errlen);
/* Same from memory; the buffer is copied. `name` names it in messages. */
int segq_st_open_mem(const void *buf, size_t len, const char *name, segq_st_t **out, char *err,
                     size_t errlen);
void segq_st_destroy(segq_st_t **self_p);

/* Tensors are numbered in name order (byte order). */
size_t segq_st_count(const segq_st_t *self);
const segq_st_tensor_t *segq_st_at(const segq_st_t *self, size_t i);
/* NULL if absent. */
const segq_st_tensor_t *segq_st_find(const segq_st_t *self, const char *name);

/* Metadata (the "__metadata__" map), keys in byte order. */
size_t segq_st_meta_count(const segq_st_t *self);
/* 0 with key and value set (owned by self), or EINVAL when i >= count. */
int segq_st_meta_at(const segq_st_t *self, size_t i, const char **key, const char **value);
/* NULL if absent. */
const char *segq_st_meta_get(const segq_st_t *self, const char *key);

/* ---- Writing ----------------------------------------------------------- */

typedef struct segq_st_writer_t segq_st_writer_t;

segq_st_writer_t *segq_st_writer_new(void);
void segq_st_writer_destroy(segq_st_writer_t **self_p);
/* Copies name, shape and data (nbytes must equal numel * dtype size;
 * data may be NULL when nbytes is 0). EEXIST if the name is taken,
 * EINVAL for the reserved name "__metadata__" or a negative dimension. */
int segq_st_writer_add(segq_st_writer_t *self, const char *name, segq_st_dtype_t dtype, size_t ndim,
                       const int64_t *shape, const void *data, size_t nbytes, char *err,
                       size_t errlen);
/* Sets (or replaces) a metadata entry. */
int segq_st_writer_set_meta(segq_st_writer_t *self, const char *key, const char *value, char *err,
                            size_t errlen);
/* The file as the reference implementation serializes it: compact JSON,
 * "__metadata__" first (only if set, keys sorted), tensors by descending
 * dtype then name, header padded with spaces to a multiple of 8. */
int segq_st_writer_to_mem(const segq_st_writer_t *self, uint8_t **buf, size_t *len, char *err,
                          size_t errlen);
/* Atomic: written to a temporary file next to PATH, fsynced, renamed. */
int segq_st_writer_save(const segq_st_writer_t *self, const char *path, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
