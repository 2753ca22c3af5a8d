#!/usr/bin/python3
"""segq-run stylize against the authors' own style transfer
(../shared/reference/singan-seg/style_transfer.py, MIT; run here, never
copied into the project), on Debian's python3-torch and python3-torchvision.

  authors_stylize.py weights OUT.safetensors
      a VGG19 with random weights (torchvision.models.vgg19(), its own
      initialisation under a fixed seed, nothing downloaded), its features
      written by deploy/convert_vgg19.py into the file segq-run's --vgg19
      reads
  authors_stylize.py check CONTENT.png STYLE.png WEIGHTS STEPS SEGQ.png
      the authors' transfer_style(CONTENT, STYLE, STEPS, ...) on the CPU,
      with torchvision.models.vgg19 made to return the WEIGHTS network
      (their pretrained=True ignored) and segq-run stylize's default
      weights (content 1, style 1000; their Adam has lr 0.01 as segq's
      default), against segq-run's output SEGQ.png: mean and max
      |difference| in levels of 255. Exit status 0 when the mean is under
      MEAN_TOL (see tests/pipeline/test_stylize_authors.c for how it was
      measured), 1 otherwise.

SEGQ_AUTHORS_DIR overrides where the authors' code is looked for. Nothing
is written under it (no bytecode).
"""
import functools
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # the reference folder stays as it was

import numpy as np  # noqa: E402
import torch  # noqa: E402
import tqdm  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "deploy"))
import convert_vgg19  # noqa: E402
from authors_reference import authors_module  # noqa: E402
from singan_reference import read_safetensors  # noqa: E402

# segq-run stylize's defaults (proto/segq_kinds.c: content_weight 1,
# style_weight 1000, lr 0.01 = the authors' fixed Adam lr)
CONTENT_WEIGHT, STYLE_WEIGHT = 1, 1000
# mean |segq - authors| in levels of 255: 0.64 measured, 33 with the old
# stylize.c that stepped in [0, 1] pixels (test_stylize_authors.c says how)
MEAN_TOL = 1.0
MIN_MOVED = 5.0  # mean |authors - content| in levels, below which nothing is tested
SEED = 19


def import_torchvision():
    try:
        import torchvision
    except ImportError:
        sys.exit("authors_stylize.py: needs torchvision (Debian's python3-torchvision, "
                 "deploy/deps.sh)")
    return torchvision


def authors():
    return authors_module("style_transfer", "style_transfer.py")


def cmd_weights(out):
    torchvision = import_torchvision()
    torch.manual_seed(SEED)
    model = torchvision.models.vgg19()  # torchvision's own init, no weights downloaded
    with tempfile.TemporaryDirectory() as d:
        pth = os.path.join(d, "vgg19.pth")
        # the features only: convert_vgg19 keeps nothing else, and the
        # classifier would be 0.5 GB to write
        torch.save({k: v for k, v in model.state_dict().items() if k.startswith("features.")},
                   pth)
        convert_vgg19.convert(pth, out)
    return 0


def load_vgg19(weights):
    """torchvision's vgg19 with the features of the safetensors file."""
    torchvision = import_torchvision()
    tensors, _ = read_safetensors(weights)
    model = torchvision.models.vgg19()
    missing, _ = model.load_state_dict(tensors, strict=False)
    missing = [k for k in missing if k.startswith("features.")]
    if missing:
        sys.exit("authors_stylize.py: %s lacks %s" % (weights, ", ".join(missing)))
    return model


def levels(img):
    return np.asarray(img.convert("RGB"), dtype=np.int16)


def cmd_check(content, style, weights, steps, segq_png):
    torchvision = import_torchvision()
    st = authors()
    model = load_vgg19(weights)
    # their getattr(torchvision.models, "vgg19")(pretrained=True)
    torchvision.models.vgg19 = lambda *a, **k: model
    # their progress bar, silenced: a tqdm that draws nothing
    st.trange = functools.partial(tqdm.trange, disable=True)
    out = st.transfer_style(content, style, steps, CONTENT_WEIGHT, STYLE_WEIGHT,
                            torch.device("cpu"), "vgg19", tqdm_leave=False)
    a, s, c = levels(out), levels(Image.open(segq_png)), levels(Image.open(content))
    if a.shape != s.shape:
        print("FAIL: segq's image is %s, the authors' %s" % (s.shape, a.shape))
        return 1
    moved = np.abs(a - c).mean()
    segq_moved = np.abs(s - c).mean()
    d = np.abs(a - s)
    # two images that hardly left the content would agree whatever the
    # optimiser did (19.5/255 measured)
    ok = d.mean() < MEAN_TOL and moved > MIN_MOVED
    print("the authors' image moved %.2f/255 from the content (segq's %.2f/255) in %d steps%s"
          % (moved, segq_moved, steps, "" if moved > MIN_MOVED else ": too little to test"))
    print("%s |segq - authors|: mean %.3f/255, max %d/255 (mean tolerance %.2f/255)"
          % ("ok  " if ok else "FAIL", d.mean(), d.max(), MEAN_TOL))
    return 0 if ok else 1


def main():
    torch.set_num_threads(1)
    if len(sys.argv) == 3 and sys.argv[1] == "weights":
        return cmd_weights(sys.argv[2])
    if len(sys.argv) == 7 and sys.argv[1] == "check":
        return cmd_check(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
