/* safetensors: the writer's bytes against the format's published layout and
 * an independent Python writer/checker (tests/safetensors/
 * check_safetensors.py, which also has PyTorch rebuild each tensor), the
 * reader against every kind of corrupt or truncated file. Runs under
 * ASan+UBSan; every test ends with a leak check. */
#include "../image/image_fixtures.h"
#include "segq_safetensors.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/wait.h>

#define CHECKER SEGQ_SOURCE_DIR "/tests/safetensors/check_safetensors.py"

/* Same table as FIXTURE in check_safetensors.py. */
static const struct {
    const char *name;
    segq_st_dtype_t dtype;
    size_t ndim;
    int64_t shape[4];
} fixture[] = {
    {"conv.weight", SEGQ_ST_F32, 4, {4, 3, 3, 3}},
    {"conv.bias", SEGQ_ST_F32, 1, {4}},
    {"a.z", SEGQ_ST_F32, 1, {1}},
    {"bn.running_var", SEGQ_ST_F64, 1, {5}},
    {"step", SEGQ_ST_I64, 0, {0}},
    {"idx", SEGQ_ST_I32, 2, {2, 3}},
    {"half", SEGQ_ST_F16, 1, {7}},
    {"brain", SEGQ_ST_BF16, 2, {3, 2}},
    {"mask", SEGQ_ST_U8, 2, {3, 5}},
    {"flags", SEGQ_ST_BOOL, 1, {4}},
    {"small", SEGQ_ST_I16, 1, {3}},
    {"u16", SEGQ_ST_U16, 1, {2}},
    {"u32", SEGQ_ST_U32, 1, {2}},
    {"u64", SEGQ_ST_U64, 1, {2}},
    {"i8", SEGQ_ST_I8, 1, {3}},
    {"f8", SEGQ_ST_F8_E4M3, 1, {2}},
    {"empty", SEGQ_ST_F32, 2, {0, 3}},
};
#define NFIX (sizeof fixture / sizeof fixture[0])
static const char *const fixture_meta[][2] = {
    {"source", "cju0qkwl35piu0993l0dewei2.jpg"},
    {"format", "pt"},
    {"note", "caf\xc3\xa9 \"quoted\" \\ slash/"},
};

static uint32_t float_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/* Half precision of a value that is exact in it (normal or zero). */
static uint16_t to_f16(float f)
{
    uint32_t b = float_bits(f);
    if ((b & 0x7fffffff) == 0)
        return (uint16_t)(b >> 16);
    uint32_t sign = b >> 31, exp = (b >> 23) & 0xff, mant = b & 0x7fffff;
    return (uint16_t)(sign << 15 | (exp - 127 + 15) << 10 | mant >> 13);
}

/* Element i of a fixture tensor, as little-endian bytes (see pattern()). */
static void pattern(segq_st_dtype_t dt, size_t i, uint8_t *out)
{
    size_t size = segq_st_dtype_size(dt);
    double fv = (double)(i % 97) * 0.25 - 5.0;
    uint64_t v = (uint64_t)i * 2654435761u + 12345u;
    switch (dt) {
    case SEGQ_ST_F32:
        v = float_bits((float)fv);
        break;
    case SEGQ_ST_F64:
        memcpy(&v, &fv, 8);
        break;
    case SEGQ_ST_F16:
        v = to_f16((float)fv);
        break;
    case SEGQ_ST_BF16:
        v = float_bits((float)fv) >> 16;
        break;
    case SEGQ_ST_BOOL:
        v = i % 3 == 0;
        break;
    case SEGQ_ST_F8_E4M3:
        v = (i * 37 + 1) % 256;
        break;
    default:
        break;
    }
    for (size_t k = 0; k < size; k++)
        out[k] = (uint8_t)(v >> (8 * k));
}

static size_t numel(size_t ndim, const int64_t *shape)
{
    size_t n = 1;
    for (size_t d = 0; d < ndim; d++)
        n *= (size_t)shape[d];
    return n;
}

static uint8_t *fixture_data(size_t f, size_t *nbytes)
{
    size_t n = numel(fixture[f].ndim, fixture[f].shape),
           size = segq_st_dtype_size(fixture[f].dtype);
    uint8_t *d = malloc(n * size + 1);
    cr_assert(d);
    for (size_t i = 0; i < n; i++)
        pattern(fixture[f].dtype, i, d + i * size);
    *nbytes = n * size;
    return d;
}

static segq_st_writer_t *fixture_writer(void)
{
    segq_st_writer_t *w = segq_st_writer_new();
    char err[SEGQ_ST_ERRLEN];
    cr_assert(w);
    for (size_t f = 0; f < NFIX; f++) {
        size_t nbytes;
        uint8_t *d = fixture_data(f, &nbytes);
        cr_assert_eq(segq_st_writer_add(w, fixture[f].name, fixture[f].dtype, fixture[f].ndim,
                                        fixture[f].shape, d, nbytes, err, sizeof err),
                     0, "%s", err);
        free(d);
    }
    for (size_t m = 0; m < 3; m++)
        cr_assert_eq(
            segq_st_writer_set_meta(w, fixture_meta[m][0], fixture_meta[m][1], err, sizeof err), 0);
    return w;
}

/* The fixture's file, in memory (*len bytes; the caller frees it). */
static uint8_t *fixture_bytes(size_t *len)
{
    segq_st_writer_t *w = fixture_writer();
    uint8_t *buf;
    char err[SEGQ_ST_ERRLEN];
    cr_assert_eq(segq_st_writer_to_mem(w, &buf, len, err, sizeof err), 0, "%s", err);
    segq_st_writer_destroy(&w);
    return buf;
}

/* Checks every fixture tensor and the metadata of a reader. */
static void check_fixture(const segq_st_t *st)
{
    cr_assert_eq(segq_st_count(st), NFIX);
    for (size_t f = 0; f < NFIX; f++) {
        const segq_st_tensor_t *t = segq_st_find(st, fixture[f].name);
        cr_assert(t, "tensor %s", fixture[f].name);
        cr_assert_eq(t->dtype, fixture[f].dtype);
        cr_assert_eq(t->ndim, fixture[f].ndim);
        for (size_t d = 0; d < t->ndim; d++)
            cr_assert_eq(t->shape[d], fixture[f].shape[d]);
        size_t nbytes;
        uint8_t *want = fixture_data(f, &nbytes);
        cr_assert_eq(t->nbytes, nbytes);
        cr_assert_eq(t->numel, numel(fixture[f].ndim, fixture[f].shape));
        cr_assert_eq(memcmp(t->data, want, nbytes), 0, "values of %s", fixture[f].name);
        cr_assert_eq((uintptr_t)t->data % segq_st_dtype_size(t->dtype), 0, "%s aligned", t->name);
        free(want);
    }
    /* Names come in byte order. */
    for (size_t i = 1; i < segq_st_count(st); i++)
        cr_assert_lt(strcmp(segq_st_at(st, i - 1)->name, segq_st_at(st, i)->name), 0);
    cr_assert_null(segq_st_at(st, NFIX));
    cr_assert_null(segq_st_find(st, "missing"));
    cr_assert_eq(segq_st_meta_count(st), 3);
    for (size_t m = 0; m < 3; m++)
        cr_assert_str_eq(segq_st_meta_get(st, fixture_meta[m][0]), fixture_meta[m][1]);
    const char *k, *v;
    cr_assert_eq(segq_st_meta_at(st, 0, &k, &v), 0);
    cr_assert_str_eq(k, "format");
    cr_assert_eq(segq_st_meta_at(st, 3, &k, &v), SEGQ_EINVAL);
    cr_assert_null(segq_st_meta_get(st, "absent"));
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static int run_checker(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' %s", CHECKER, args);
    int st = system(cmd);
    cr_assert(st != -1 && WIFEXITED(st), "cannot run %s", cmd);
    return WEXITSTATUS(st);
}

Test(python, c_file_passes_the_checker_and_torch_reads_it, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "model.safetensors");
    segq_st_writer_t *w = fixture_writer();
    char err[SEGQ_ST_ERRLEN];
    cr_assert_eq(segq_st_writer_save(w, path, err, sizeof err), 0, "%s", err);
    segq_st_writer_destroy(&w);
    cr_assert_null(w);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "checkpoints are private");
    /* Saving again replaces the file atomically and leaves nothing else. */
    w = fixture_writer();
    cr_assert_eq(segq_st_writer_save(w, path, err, sizeof err), 0, "%s", err);
    segq_st_writer_destroy(&w);
    cr_assert_eq(count_entries(dir), 1);
    char args[1024];
    snprintf(args, sizeof args, "check '%s' --values --torch", path);
    cr_assert_eq(run_checker(args), 0, "the Python checker rejected the C writer's file");
    free(path);
    fx_rmtree(dir);
    fx_no_leaks();
}

Test(python, python_file_reads_in_c_and_bytes_match_the_c_writer, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "ref.safetensors");
    char args[1024];
    snprintf(args, sizeof args, "write '%s'", path);
    cr_assert_eq(run_checker(args), 0);
    char err[SEGQ_ST_ERRLEN];
    segq_st_t *st = NULL;
    cr_assert_eq(segq_st_open(path, &st, err, sizeof err), 0, "%s", err);
    check_fixture(st);
    segq_st_destroy(&st);
    cr_assert_null(st);
    /* Same tensors, same metadata: the C writer makes the same bytes. */
    size_t ref_len;
    unsigned char *ref = fx_read(path, &ref_len);
    size_t len;
    uint8_t *mine = fixture_bytes(&len);
    cr_assert_eq(len, ref_len);
    cr_assert_eq(memcmp(mine, ref, len), 0, "C writer and reference layout differ");
    segq_st_t *m = NULL;
    cr_assert_eq(segq_st_open_mem(mine, len, "mem", &m, err, sizeof err), 0, "%s", err);
    check_fixture(m);
    segq_st_destroy(&m);
    free(mine);
    free(ref);
    free(path);
    fx_rmtree(dir);
    fx_no_leaks();
}

/* ---- The published layout, byte for byte -------------------------------- */

static void expect_header(segq_st_writer_t *w, const char *json, size_t padded)
{
    uint8_t *buf;
    size_t len;
    char err[SEGQ_ST_ERRLEN];
    cr_assert_eq(segq_st_writer_to_mem(w, &buf, &len, err, sizeof err), 0, "%s", err);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | buf[i];
    cr_assert_eq(n, padded);
    size_t j = strlen(json);
    cr_assert_eq(memcmp(buf + 8, json, j), 0, "header %.*s", (int)n, buf + 8);
    for (size_t i = j; i < padded; i++)
        cr_assert_eq(buf[8 + i], ' ', "padding is spaces");
    segq_st_t *st = NULL;
    cr_assert_eq(segq_st_open_mem(buf, len, "mem", &st, err, sizeof err), 0, "%s", err);
    segq_st_destroy(&st);
    free(buf);
}

Test(layout, published_examples, .timeout = FX_TIMEOUT)
{
    char err[SEGQ_ST_ERRLEN];
    segq_st_writer_t *w = segq_st_writer_new();
    expect_header(w, "{}", 8);
    cr_assert_eq(segq_st_writer_set_meta(w, "framework", "pt", err, sizeof err), 0);
    expect_header(w, "{\"__metadata__\":{\"framework\":\"pt\"}}", 40);
    segq_st_writer_destroy(&w);

    w = segq_st_writer_new();
    float v[6] = {0, 1, 2, 3, 4, 5};
    int64_t shape[3] = {1, 2, 3};
    cr_assert_eq(
        segq_st_writer_add(w, "attn.0", SEGQ_ST_F32, 3, shape, v, sizeof v, err, sizeof err), 0,
        "%s", err);
    expect_header(w, "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}",
                  64);
    uint8_t *buf;
    size_t len;
    cr_assert_eq(segq_st_writer_to_mem(w, &buf, &len, err, sizeof err), 0);
    cr_assert_eq(len, 8 + 64 + 24);
    cr_assert_eq(memcmp(buf + 72, v, 24), 0, "data follows the header, little-endian");
    free(buf);
    segq_st_writer_destroy(&w);
    fx_no_leaks();
}

Test(writer, bad_arguments, .timeout = FX_TIMEOUT)
{
    char err[SEGQ_ST_ERRLEN];
    segq_st_writer_t *w = segq_st_writer_new();
    int64_t shape[2] = {2, 2}, neg[1] = {-1};
    float d[4] = {0};
    cr_assert_eq(segq_st_writer_add(w, "x", SEGQ_ST_F32, 2, shape, d, 16, err, sizeof err), 0);
    cr_assert_eq(segq_st_writer_add(w, "x", SEGQ_ST_F32, 2, shape, d, 16, err, sizeof err),
                 SEGQ_EEXIST);
    cr_assert(strstr(err, "\"x\""), "%s", err);
    cr_assert_eq(segq_st_writer_add(w, "y", SEGQ_ST_F32, 2, shape, d, 12, err, sizeof err),
                 SEGQ_EINVAL);
    cr_assert(strstr(err, "12 bytes"), "%s", err);
    cr_assert_eq(segq_st_writer_add(w, "z", SEGQ_ST_F32, 1, neg, d, 0, err, sizeof err),
                 SEGQ_EINVAL);
    cr_assert_eq(
        segq_st_writer_add(w, "__metadata__", SEGQ_ST_F32, 2, shape, d, 16, err, sizeof err),
        SEGQ_EINVAL);
    cr_assert_eq(segq_st_writer_add(w, "t", (segq_st_dtype_t)99, 2, shape, d, 16, err, sizeof err),
                 SEGQ_EINVAL);
    cr_assert(strstr(err, "invalid dtype 99"), "%s", err);
    cr_assert_eq(segq_st_writer_add(w, "bad\xff", SEGQ_ST_F32, 2, shape, d, 16, err, sizeof err),
                 0);
    uint8_t *buf;
    size_t len;
    cr_assert_eq(segq_st_writer_to_mem(w, &buf, &len, err, sizeof err), SEGQ_EINVAL,
                 "a name that is not UTF-8 cannot go in the JSON header");
    segq_st_writer_destroy(&w);
    w = segq_st_writer_new();
    cr_assert_eq(segq_st_writer_set_meta(w, "k", "v1", err, sizeof err), 0);
    cr_assert_eq(segq_st_writer_set_meta(w, "k", "v2", err, sizeof err), 0);
    cr_assert_eq(segq_st_writer_save(w, "/nonexistent-dir/m.safetensors", err, sizeof err),
                 SEGQ_EIO);
    cr_assert(strstr(err, "/nonexistent-dir/m.safetensors"), "%s", err);
    cr_assert_eq(segq_st_writer_to_mem(w, &buf, &len, err, sizeof err), 0);
    segq_st_t *st = NULL;
    cr_assert_eq(segq_st_open_mem(buf, len, "m", &st, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(segq_st_meta_get(st, "k"), "v2");
    segq_st_destroy(&st);
    free(buf);
    segq_st_writer_destroy(&w);
    segq_st_writer_destroy(NULL);
    segq_st_dtype_t dt;
    cr_assert_eq(segq_st_dtype_parse("BF16", &dt), 0);
    cr_assert_eq(dt, SEGQ_ST_BF16);
    cr_assert_eq(segq_st_dtype_parse("bf16", &dt), SEGQ_EUNSUPPORTED);
    cr_assert_null(segq_st_dtype_name(SEGQ_ST_DTYPE_COUNT));
    /* the codes are the project's: one segq_strerror for them all */
    cr_assert_str_eq(segq_strerror(SEGQ_EUNSUPPORTED), "not supported by this build");
    cr_assert_str_eq(segq_error_name(SEGQ_ECORRUPT), "ECORRUPT");
    fx_no_leaks();
}

/* ---- The reader refuses every kind of bad file ---------------------------- */

/* A file made of a header (unpadded) and `data_len` zero bytes. */
static int open_header(const char *json, size_t data_len, char *err)
{
    size_t n = strlen(json), len = 8 + n + data_len;
    uint8_t *buf = calloc(1, len);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, json, n);
    segq_st_t *st = NULL;
    int rc = segq_st_open_mem(buf, len, "bad.safetensors", &st, err, SEGQ_ST_ERRLEN);
    if (rc)
        fx_check(st == NULL, "no object on error");
    segq_st_destroy(&st);
    free(buf);
    return rc;
}

#define T1(d, s, o) "{\"t\":{\"dtype\":\"" d "\",\"shape\":" s ",\"data_offsets\":" o "}}"

Test(reader, corrupt_headers, .timeout = FX_TIMEOUT)
{
    static const struct {
        const char *json;
        size_t data_len;
        int code;
        const char *says;
    } cases[] = {
        {T1("F32", "[2]", "[0,8]"), 8, 0, NULL},
        {T1("F32", "[]", "[0,4]"), 4, 0, NULL},
        {T1("F32", "[0,5]", "[0,0]"), 0, 0, NULL},
        {"{}", 0, 0, NULL},
        {"{\"__metadata__\":null}", 0, 0, NULL},
        {"{} \t\n ", 0, 0, NULL},
        {"", 0, SEGQ_ECORRUPT, "'{'"},
        {"[1]", 0, SEGQ_ECORRUPT, "'{'"},
        {"{\"t\":", 0, SEGQ_ECORRUPT, "not valid JSON"},
        {"{} trailing", 0, SEGQ_ECORRUPT, "not valid JSON"},
        {"{\"\xff\":1}", 0, SEGQ_ECORRUPT, "not valid JSON"},
        {T1("F33", "[2]", "[0,8]"), 8, SEGQ_EUNSUPPORTED, "F33"},
        {T1("F32", "[-2]", "[0,8]"), 8, SEGQ_ECORRUPT, "shape[0]"},
        {T1("F32", "[2.0]", "[0,8]"), 8, SEGQ_ECORRUPT, "shape[0]"},
        {T1("F32", "[\"2\"]", "[0,8]"), 8, SEGQ_ECORRUPT, "shape[0]"},
        {T1("F32", "2", "[0,8]"), 8, SEGQ_ECORRUPT, "array"},
        {T1("F32", "[2]", "[0,8,9]"), 9, SEGQ_ECORRUPT, "data_offsets"},
        {T1("F32", "[2]", "[0,-8]"), 8, SEGQ_ECORRUPT, "data_offsets"},
        {T1("F32", "[2]", "[0,12]"), 12, SEGQ_ECORRUPT, "do not hold 2 F32"},
        {T1("F32", "[2]", "[8,0]"), 8, SEGQ_ECORRUPT, "do not hold"},
        {T1("F32", "[2]", "[4,12]"), 12, SEGQ_ECORRUPT, "gap"},
        {T1("F32", "[2]", "[0,8]"), 9, SEGQ_ECORRUPT, "trailing"},
        {T1("F32", "[2]", "[0,8]"), 7, SEGQ_ECORRUPT, "truncated"},
        {T1("F32", "[4611686018427387904,4611686018427387904]", "[0,8]"), 8, SEGQ_ECORRUPT,
         "overflows"},
        {T1("F32", "[1152921504606846976,4]", "[0,8]"), 8, SEGQ_ECORRUPT, "overflows"},
        {T1("F32", "[99999999999999999999]", "[0,8]"), 8, SEGQ_ECORRUPT, "not valid JSON"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}",
         6, SEGQ_ECORRUPT, "overlaps"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}",
         8, SEGQ_ECORRUPT, "duplicate"},
        {"{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1,
         SEGQ_ECORRUPT, "unexpected field \"x\""},
        {"{\"t\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, SEGQ_ECORRUPT, "data_offsets"},
        {"{\"t\":[1]}", 0, SEGQ_ECORRUPT, "not a JSON object"},
        {"{\"__metadata__\":{\"k\":1}}", 0, SEGQ_ECORRUPT, "not a string"},
        {"{\"__metadata__\":[\"k\"]}", 0, SEGQ_ECORRUPT, "__metadata__"},
        {"{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 0, NULL},
    };
    char err[SEGQ_ST_ERRLEN];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        int rc = open_header(cases[i].json, cases[i].data_len, err);
        cr_assert_eq(rc, cases[i].code, "case %zu (%s): got %d: %s", i, cases[i].json, rc, err);
        if (cases[i].says)
            cr_assert(strstr(err, cases[i].says) && strstr(err, "bad.safetensors"),
                      "case %zu: message \"%s\" should say \"%s\"", i, err, cases[i].says);
    }
    fx_no_leaks();
}

Test(reader, bad_lengths_and_files, .timeout = FX_TIMEOUT)
{
    char err[SEGQ_ST_ERRLEN];
    segq_st_t *st = NULL;
    cr_assert_eq(segq_st_open_mem("", 0, "f", &st, err, sizeof err), SEGQ_ECORRUPT);
    cr_assert_eq(segq_st_open_mem("\x02\0\0\0\0\0\0", 7, "f", &st, err, sizeof err), SEGQ_ECORRUPT);
    uint8_t huge[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    cr_assert_eq(segq_st_open_mem(huge, sizeof huge, "f", &st, err, sizeof err), SEGQ_ECORRUPT);
    cr_assert(strstr(err, "limit"), "%s", err);
    uint8_t beyond[10] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    cr_assert_eq(segq_st_open_mem(beyond, sizeof beyond, "f", &st, err, sizeof err), SEGQ_ECORRUPT);
    cr_assert(strstr(err, "header length 100"), "%s", err);
    cr_assert_eq(segq_st_open("/nonexistent.safetensors", &st, err, sizeof err), SEGQ_EIO);
    cr_assert(strstr(err, "/nonexistent.safetensors"), "%s", err);
    cr_assert_eq(segq_st_open("/tmp", &st, err, sizeof err), SEGQ_EIO);
    cr_assert_null(st);
    fx_no_leaks();
}

/* Every prefix of a valid file and every single-byte change: an error or a
 * valid file, never a crash or a leak; each prefix read from a real file. */
Test(reader, truncated_and_flipped_files, .timeout = FX_TIMEOUT)
{
    size_t len;
    uint8_t *buf = fixture_bytes(&len);
    char err[SEGQ_ST_ERRLEN];
    size_t header = 0;
    for (int i = 7; i >= 0; i--)
        header = header << 8 | buf[i];
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "cut.safetensors");
    for (size_t cut = 0; cut < len; cut++) {
        fx_write(path, buf, cut);
        segq_st_t *st = NULL;
        int rc = segq_st_open(path, &st, err, sizeof err);
        fx_check(rc < 0 && st == NULL, "prefix of %zu bytes opened", cut);
        fx_check(strstr(err, path), "%s", err);
        /* Past the header, a short file is plainly truncated. */
        if (cut > 8 + header)
            fx_check(rc == SEGQ_ECORRUPT, "cut %zu: %s", cut, err);
    }
    int accepted = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, buf, len);
        copy[i] ^= 0x24;
        segq_st_t *st = NULL;
        if (segq_st_open_mem(copy, len, "flip", &st, err, sizeof err) == 0) {
            accepted++;
            for (size_t t = 0; t < segq_st_count(st); t++)
                fx_check(segq_st_at(st, t)->nbytes <= len, "tensor within the file");
        }
        segq_st_destroy(&st);
        free(copy);
    }
    /* Flips inside the data and inside strings can stay valid; most can't. */
    cr_assert_gt(accepted, 0);
    cr_assert_lt(accepted, (int)len);
    free(buf);
    free(path);
    fx_rmtree(dir);
    fx_no_leaks();
}

/* The fuzz corpus replays under the sanitizers on every run: the seeds
 * (*.safetensors) are valid; what libFuzzer found (named by hash) fails or
 * opens, never crashes or leaks. */
Test(reader, fuzz_corpus_replays, .timeout = FX_TIMEOUT)
{
    const char *dir = SEGQ_SOURCE_DIR "/tests/fuzz/corpus/safetensors";
    DIR *d = opendir(dir);
    cr_assert(d, "%s missing", dir);
    struct dirent *e;
    int opened = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *path = fx_path(dir, e->d_name);
        char err[SEGQ_ST_ERRLEN];
        segq_st_t *st = NULL;
        int rc = segq_st_open(path, &st, err, sizeof err);
        fx_check(rc == 0 || !strchr(e->d_name, '.'), "%s", err);
        fx_check((rc == 0) == (st != NULL), "%s: object if and only if success", path);
        opened += st != NULL;
        segq_st_destroy(&st);
        free(path);
    }
    closedir(d);
    cr_assert_geq(opened, 5);
    fx_no_leaks();
}

/* The header alone: the same names, dtypes, shapes and metadata as a whole
 * open, no data, and the same verdict on a truncated file; its bytes are not
 * read, so a sparse file of 1 GiB opens at once. */
Test(reader, header_only_open, .timeout = FX_TIMEOUT)
{
    size_t len;
    uint8_t *buf = fixture_bytes(&len);
    char err[SEGQ_ST_ERRLEN];
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "whole.safetensors");
    fx_write(path, buf, len);
    segq_st_t *whole = NULL, *head = NULL;
    cr_assert_eq(segq_st_open(path, &whole, err, sizeof err), 0, "%s", err);
    cr_assert_eq(segq_st_open_header(path, &head, err, sizeof err), 0, "%s", err);
    cr_assert_eq(segq_st_count(head), segq_st_count(whole));
    cr_assert_eq(segq_st_meta_count(head), segq_st_meta_count(whole));
    for (size_t i = 0; i < segq_st_count(whole); i++) {
        const segq_st_tensor_t *a = segq_st_at(whole, i), *b = segq_st_at(head, i);
        cr_assert(!strcmp(a->name, b->name) && a->dtype == b->dtype && a->ndim == b->ndim
                  && a->nbytes == b->nbytes && b->data == NULL);
        cr_assert_eq(memcmp(a->shape, b->shape, a->ndim * sizeof(int64_t)), 0);
    }
    segq_st_destroy(&whole);
    segq_st_destroy(&head);
    fx_write(path, buf, len - 1);
    cr_assert_eq(segq_st_open_header(path, &head, err, sizeof err), SEGQ_ECORRUPT);
    cr_assert(!head && strstr(err, path), "%s", err);

    /* one U8 tensor of 1 GiB, its bytes a hole in the file */
    char *big = fx_path(dir, "big.safetensors");
    const char json[] = "{\"x\":{\"dtype\":\"U8\",\"shape\":[1073741824],"
                        "\"data_offsets\":[0,1073741824]}}";
    uint8_t prefix[8] = {sizeof json - 1};
    FILE *f = fopen(big, "wb");
    cr_assert(f && fwrite(prefix, 1, 8, f) == 8 && fwrite(json, 1, sizeof json - 1, f));
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(truncate(big, (off_t)(8 + sizeof json - 1 + (1u << 30))), 0);
    cr_assert_eq(segq_st_open_header(big, &head, err, sizeof err), 0, "%s", err);
    cr_assert_eq(segq_st_find(head, "x")->nbytes, 1u << 30);
    segq_st_destroy(&head);
    free(buf);
    free(path);
    free(big);
    fx_rmtree(dir);
    fx_no_leaks();
}
