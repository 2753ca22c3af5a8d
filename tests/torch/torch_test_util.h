/* Helpers shared by the torch shim tests: tensor files exchanged with the
 * Python reference (tests/torch/torch_ref.py) and closeness checks. */
#ifndef TORCH_TEST_UTIL_H
#define TORCH_TEST_UTIL_H

#include "segq_torch.h"

/* Creates a fresh temporary directory; the caller frees the name. */
char *tt_tmpdir(void);
/* Writes t as DIR/NAME.t (int64 ndim, int64 shape, float32 data). */
void tt_write(const char *dir, const char *name, segqt_tensor *t);
/* Reads DIR/NAME.t into a float32 tensor of the current scope. */
segqt_tensor *tt_read(const char *dir, const char *name);
/* Runs /usr/bin/python3 torch_ref.py CASE DIR; asserts it succeeded. */
void tt_python(const char *case_name, const char *dir);
/* Asserts same shape and |got - want| <= atol + rtol * |want| everywhere. */
void tt_assert_close(segqt_tensor *got, segqt_tensor *want, double atol, double rtol,
                     const char *what);
/* Like tt_assert_close against the reference file DIR/NAME.t. */
void tt_assert_ref(const char *dir, const char *name, segqt_tensor *got, double atol, double rtol);
/* Asserts t is non-NULL, printing the shim's last error otherwise. */
segqt_tensor *tt_ok(segqt_tensor *t, const char *what);

#endif
