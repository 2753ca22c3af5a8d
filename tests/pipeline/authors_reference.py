#!/usr/bin/python3
"""The C SinGAN-Seg against the authors' own code (../shared/reference/singan-seg,
MIT; run here, never copied into the project), on Debian's python3-torch.

  authors_reference.py imresize FILE.safetensors
      x and, for each k, y.k resized by meta scale.k: each y.k against the
      authors' SinGAN.imresize.imresize(x, scale.k). Their resize goes
      through uint8 (clip, truncation), samples by the exact factor and
      clips again, borders included (past the end they mirror the image,
      before the start their kernel is renormalised): only float32
      rounding is left, under 1e-6 everywhere. ATen's antialiased bicubic,
      which renormalises at both ends, was off by up to 0.04 at the borders
      here (8e-5 on average); a resize mapped by out/in instead of the
      factor is off by about 0.1 on average, a missing clip by 0.04, a
      one-pixel shift by 0.2.
Exit status 0 when everything agrees, 1 otherwise.
"""
import importlib
import os
import sys
import types

import torch

sys.dont_write_bytecode = True  # the reference folder stays as it was
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from singan_reference import read_safetensors  # noqa: E402

AUTHORS = os.environ.get("SEGQ_AUTHORS_DIR",
                         os.path.join(here, "..", "..", "..", "shared", "reference", "singan-seg"))
MEAN_TOL, MAX_TOL = 1e-6, 1e-5
BAND = 3  # pixels of each border reported apart


def authors_module(name, needs):
    """Imports the authors' module `name`, failing clearly when their code
    (the file `needs` in it) is not there."""
    if not os.path.isfile(os.path.join(AUTHORS, needs)):
        sys.exit("%s: the authors' code is not at %s (../shared/reference beside the "
                 "repository, or SEGQ_AUTHORS_DIR)" % (os.path.basename(sys.argv[0]), AUTHORS))
    if AUTHORS not in sys.path:
        sys.path.insert(0, AUTHORS)
    return importlib.import_module(name)


def authors():
    return authors_module("SinGAN.imresize", os.path.join("SinGAN", "imresize.py")).imresize


def check_imresize(path):
    imresize = authors()
    t, meta = read_safetensors(path)
    opt = types.SimpleNamespace(nc_im=4, not_cuda=True)
    ok = True
    for k in range(int(meta["count"])):
        s = float(meta["scale.%d" % k])
        ref = imresize(t["x"].clone(), s, opt)
        y = t["y.%d" % k]
        if y.shape != ref.shape:
            print("FAIL scale %.6f: shape %s, the authors' %s" % (s, tuple(y.shape), tuple(ref.shape)))
            ok = False
            continue
        d = (y - ref).abs()
        inner = d[:, :, BAND:-BAND, BAND:-BAND]
        edge = d.clone()
        edge[:, :, BAND:-BAND, BAND:-BAND] = 0
        good = d.mean().item() < MEAN_TOL and d.max().item() < MAX_TOL
        ok &= good
        print("%s imresize by %.6f to %s: mean |diff| %.2e, max %.2e (interior %.2e, "
              "border %.2e)" % ("ok  " if good else "FAIL", s, tuple(y.shape[2:]), d.mean().item(),
                                d.max().item(), inner.max().item(), edge.max().item()))
    return ok


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "imresize":
        sys.exit(__doc__)
    torch.set_num_threads(1)
    return 0 if check_imresize(sys.argv[2]) else 1


if __name__ == "__main__":
    sys.exit(main())
