#include "torch_test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tt_tmpdir(void)
{
    char *d = strdup("/tmp/segq-torch-test-XXXXXX");
    cr_assert_not_null(d);
    cr_assert_not_null(mkdtemp(d), "mkdtemp failed");
    return d;
}

segqt_tensor *tt_ok(segqt_tensor *t, const char *what)
{
    cr_assert_not_null(t, "%s failed: %s", what, segqt_last_error());
    return t;
}

void tt_write(const char *dir, const char *name, segqt_tensor *t)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.t", dir, name);
    int64_t shape[16];
    int ndim = segqt_shape(tt_ok(t, name), shape, 16);
    cr_assert(ndim >= 0 && ndim <= 16);
    size_t n = (size_t)segqt_numel(t);
    float *buf = malloc(n ? n * sizeof(float) : 1);
    cr_assert_not_null(buf);
    cr_assert_eq(segqt_to_floats(t, buf, n), 0, "%s", segqt_last_error());
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    int64_t nd = ndim;
    cr_assert_eq(fwrite(&nd, 8, 1, f), 1);
    if (ndim)
        cr_assert_eq(fwrite(shape, 8, (size_t)ndim, f), (size_t)ndim);
    if (n)
        cr_assert_eq(fwrite(buf, sizeof(float), n, f), n);
    cr_assert_eq(fclose(f), 0);
    free(buf);
}

segqt_tensor *tt_read(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.t", dir, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "reference output %s missing", path);
    int64_t ndim = -1, shape[16], n = 1;
    cr_assert_eq(fread(&ndim, 8, 1, f), 1);
    cr_assert(ndim >= 0 && ndim <= 16, "%s: bad ndim", path);
    if (ndim)
        cr_assert_eq(fread(shape, 8, (size_t)ndim, f), (size_t)ndim);
    for (int i = 0; i < ndim; i++) {
        cr_assert(shape[i] >= 0 && shape[i] < (1 << 24), "%s: bad shape", path);
        n *= shape[i];
    }
    cr_assert(n < (1 << 26), "%s: too large", path);
    float *buf = malloc(n ? (size_t)n * sizeof(float) : 1);
    cr_assert_not_null(buf);
    if (n)
        cr_assert_eq(fread(buf, sizeof(float), (size_t)n, f), (size_t)n, "%s short", path);
    fclose(f);
    segqt_tensor *t = tt_ok(segqt_from_floats(buf, shape, (int)ndim, SEGQT_CPU), path);
    free(buf);
    return t;
}

void tt_python(const char *case_name, const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/torch/torch_ref.py' %s '%s'",
             SEGQ_SOURCE_DIR, case_name, dir);
    int rc = system(cmd);
    cr_assert_eq(rc, 0,
                 "python reference '%s' failed (rc %d): is python3-torch "
                 "installed for /usr/bin/python3?",
                 case_name, rc);
}

void tt_assert_close(segqt_tensor *got, segqt_tensor *want, double atol, double rtol,
                     const char *what)
{
    tt_ok(got, what);
    int64_t sg[16], sw[16];
    int ng = segqt_shape(got, sg, 16), nw = segqt_shape(want, sw, 16);
    cr_assert_eq(ng, nw, "%s: %d dims, reference has %d", what, ng, nw);
    for (int i = 0; i < ng; i++)
        cr_assert_eq(sg[i], sw[i], "%s: size %d is %ld, reference %ld", what, i, (long)sg[i],
                     (long)sw[i]);
    size_t n = (size_t)segqt_numel(got);
    float *a = malloc(n ? n * sizeof(float) : 1), *b = malloc(n ? n * sizeof(float) : 1);
    cr_assert(a && b);
    cr_assert_eq(segqt_to_floats(got, a, n), 0);
    cr_assert_eq(segqt_to_floats(want, b, n), 0);
    double worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)a[i] - (double)b[i]) - rtol * fabs((double)b[i]);
        if (!(err <= worst)) { /* NaN counts as worst */
            worst = isnan(err) ? INFINITY : err;
            worst_i = i;
        }
    }
    cr_assert(worst <= atol, "%s: element %zu is %.9g, reference %.9g", what, worst_i,
              (double)a[worst_i], (double)b[worst_i]);
    free(a);
    free(b);
}

void tt_assert_ref(const char *dir, const char *name, segqt_tensor *got, double atol, double rtol)
{
    tt_assert_close(got, tt_read(dir, name), atol, rtol, name);
}
