#!/usr/bin/python3
"""segq-run train and generate against the authors' own SinGAN-Seg training
(../shared/reference/singan-seg, MIT; run here, never copied into the
project), fed the very same random draws, on Debian's python3-torch.

  authors_train.py check IMAGE MODEL TRAIN_DRAWS GEN_DRAWS
      IMAGE        the RGBA PNG segq-run trained on (--mask-from-alpha)
      MODEL        segq-run train's model.safetensors
      TRAIN_DRAWS  what SEGQ_RECORD_DRAWS recorded during that training
      GEN_DRAWS    what it recorded during `segq-run generate --count 1`
                   from MODEL
Exit status 0 when everything agrees within the tolerances below, 1 when
something differs (each comparison printed with scale, tensor and max
|difference|), 2 when the draws do not line up with the authors' requests.

How the authors' code is run (a driver: nothing of theirs is copied):
- their folder is copied to a temporary directory (their code writes
  TrainedModels/ and Output/ beside itself) and imported from there;
  SEGQ_AUTHORS_DIR says where it is (authors_reference.py); scikit-learn,
  which their functions.py imports for painting only, is stubbed when
  missing;
- the input is IMAGE with its alpha thresholded at > 127 to {0, 255}, as
  segq does (SINGAN-SEG.md: a mask is a label; the authors fed the levels
  as they were);
- their parameters are segq's, read from MODEL's `params`; their
  MultiStepLR milestone (1600, fixed in training.py) is segq's
  lr_milestone, so a short run exercises the decay;
- every random draw of theirs returns ours, in order: torch.randn inside
  functions.generate_noise (z_opt, each iteration's noise, each critic
  step's "rand" prev chain, generation's noise), torch.rand inside
  functions.calc_gradient_penalty (alpha), and a fresh scale's networks
  (the modules init_models builds are loaded with our initial weights; a
  scale that starts from the previous one's weights takes none). Each
  request is checked against the next recorded draw (kind, shape); a
  request with no draw left, another kind or shape, or a draw left over
  stops the run (exit 2): another order of draws is a difference to
  find, not to smooth over. The one draw of theirs left to their own
  generator is train_single_scale's `fixed_noise`: they use its shape
  only. The recorded draws are checked to follow the authors'
  distributions, since feeding ours to both sides would hide a wrong one.
- lockstep: each piece of theirs starts from segq's state, so that a
  difference found is that piece's own. Training in float32 is chaotic:
  Adam turns gradients that are pure rounding (the conv biases before
  BatchNorm have none in exact arithmetic, and BatchNorm's sums cancel)
  into steps of +-lr, and those move everything else; the authors' code
  against itself with its initial weights moved by one ulp differs by
  a few percent of the update after one iteration in some scales, by up
  to a quarter after 8. So: each scale of theirs trains from segq's real
  pyramid, segq's frozen coarser scales (G, z_opt, noise_amp) and segq's
  previous-scale weights where a scale copies them; their
  draw_concat runs (it draws, and its prev is compared with segq's) but
  the critic steps and the reconstruction get segq's prev. Their prev
  chains resize with their own imresize, which segq__imresize matches,
  borders included.

Compared (tolerances in TOL and TOL_TRAIN, with what was measured;
test_singan_authors_train.c lists what deliberate breakages gave):
- the pyramid: segq's against the authors' own (their imresize), inside
  (pixels whose footprint stays in the image) and on the border (mirrored
  past the end, the kernel renormalised before the start), apart but to
  the same tolerance;
- per scale: the prevs (their draw_concat, rand and rec, from segq's
  draws), noise_amp, z_opt, and after the scale's training every
  parameter and BatchNorm running statistic of G and D;
- the sample `segq-run generate` made against their SinGAN_generate from
  segq's model and the same noise.
"""
import argparse
import contextlib
import io
import json
import linecache
import math
import os
import shutil
import sys
import tempfile
import types

sys.dont_write_bytecode = True  # the reference folder stays as it was

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from authors_reference import AUTHORS  # noqa: E402
from singan_reference import read_safetensors  # noqa: E402

LEVEL = 2 / 255  # one level of the uint8 round trips, in [-1, 1]

# Max |segq - authors| (images in [-1, 1]). Measured values and what the
# deliberate breakages gave: test_singan_authors_train.c.
TOL = {
    # the pyramid is resized in double, as their numpy does, so every
    # uint8 truncation agrees: equal (measured 0 at both min sizes; 1.18
    # levels, mean 0.027, when segq resized it in float32; 0.09 mean when
    # the input levels are v * (1.0f / 255) rather than their v / 255.0)
    "real_inside": 1e-6,
    "real_inside_mean": 1e-7,
    # where a pixel's footprint leaves the image (mirrored past the end,
    # the kernel renormalised before the start, as theirs): as inside
    "real_border": 1e-6,
    "noise_amp": 1e-5,  # relative; measured 1.4e-7
    "z_opt": 0.0,
    # a level flipped in a uint8 round trip of the chains, which stay
    # float32 (measured 1.11 levels, mean 0.0004)
    "prev": 2 * LEVEL,
    "prev_mean": 0.01 * LEVEL,
    "sample": 2 * LEVEL,  # measured 7.6e-7 (1.12 levels, mean 0.003, before the pyramid was exact)
    "sample_mean": 0.01 * LEVEL,
}
# The trained tensors (compare_scales). "one": one iteration per scale at
# the decayed learning rate (lr x gamma from iteration 0), where float32
# rounding has little room: measured over seeds 1-8, update off by 1.8e-4,
# size 4.2e-5, running variances 7.8e-7. "more": anything longer (or
# faster), where it is chaotic; about 2-3 times the largest of segq
# against the authors and of the authors against themselves with their
# initial weights moved by one ulp, over 8 seeds, after 8 iterations:
# update off by 0.26 / 0.26, size 0.033 / 0.065, G's running statistics
# 0.002 / 0.0044, D's 0.07 / 0.06 (D's are used by nothing: D always runs
# in training mode). One iteration at lr 5e-4 reaches 0.042, 0.003 and
# 8e-5 there.
TOL_TRAIN = {
    "one": {"update": 2e-3, "size": 1e-3, "G.running": 5e-6, "D.running": 5e-6},
    "more": {"update": 0.6, "size": 0.15, "G.running": 0.012, "D.running": 0.2},
}


class Mismatch(Exception):
    """The draws do not line up with the authors' requests."""


def fail_order(msg):
    raise Mismatch(msg)


# ---- the recorded draws, handed out in order ---------------------------

class Draws:
    def __init__(self, path):
        tensors, meta = read_safetensors(path)
        self.path = path
        self.extra = {k: v for k, v in tensors.items() if not k.startswith("draw.")}
        by_index = {}
        for k, v in tensors.items():
            if k.startswith("draw."):
                _, idx, rest = k.split(".", 2)
                kind, _, sub = rest.partition(".")
                entry = by_index.setdefault(int(idx), {"kind": kind, "tensors": {}})
                if entry["kind"] != kind:
                    fail_order("%s: draw %s has two kinds" % (path, idx))
                entry["tensors"][sub] = v
        if sorted(by_index) != list(range(len(by_index))):
            fail_order("%s: draw numbers are not 0..%d" % (path, len(by_index) - 1))
        self.draws = [by_index[i] for i in range(len(by_index))]
        if int(meta.get("draws", -1)) != len(self.draws):
            fail_order("%s: %s draws announced, %d found" % (path, meta.get("draws"),
                                                           len(self.draws)))
        self.next = 0

    def take(self, kind, where):
        if self.next >= len(self.draws):
            fail_order("the authors' code asks for a %s draw (%s) after all %d of segq's "
                       "were used" % (kind, where, len(self.draws)))
        d = self.draws[self.next]
        if d["kind"] != kind:
            fail_order("draw %d: the authors' code asks for %s (%s), segq's draw is %s"
                       % (self.next, kind, where, d["kind"]))
        self.next += 1
        return d["tensors"]

    def finish(self):
        if self.next != len(self.draws):
            left = [d["kind"] for d in self.draws[self.next:self.next + 5]]
            fail_order("%s: %d of segq's draws were never asked for by the authors' code "
                       "(next: %s)" % (self.path, len(self.draws) - self.next, left))


def check_shape(what, got, want):
    if tuple(got) != tuple(want):
        fail_order("%s: the authors' code asks for shape %s, segq drew %s"
                   % (what, tuple(want), tuple(got)))


def check_distributions(draws):
    """Pooled moments of each kind of draw against the authors' source
    distributions: loose for a few thousand values, far from what another
    distribution (another std, U instead of N, a missing shift) gives."""
    bad = []
    noise = torch.cat([d["tensors"][""].flatten() for d in draws.draws
                       if d["kind"] in ("z_opt", "noise", "prev_noise")] + [torch.zeros(0)])
    if len(noise) and (abs(noise.mean().item()) > 0.05 or abs(noise.std().item() - 1) > 0.05):
        bad.append("noise: mean %.4f std %.4f, not N(0, 1)" % (noise.mean(), noise.std()))
    alpha = torch.cat([d["tensors"][""].flatten() for d in draws.draws
                       if d["kind"] == "gp_alpha"] + [torch.zeros(0)])
    if len(alpha) and (alpha.min() < 0 or alpha.max() >= 1):
        bad.append("gp_alpha outside [0, 1): %g .. %g" % (alpha.min(), alpha.max()))
    for d in draws.draws:
        if not d["kind"].startswith("init_"):
            continue
        for name, t in d["tensors"].items():
            if name.startswith("conv") and name.endswith(".weight"):  # N(0, 0.02)
                ok = abs(t.mean()) < 0.003 and abs(t.std() - 0.02) < 0.004
            elif name.startswith("conv"):  # torch's Conv2d bias: U(-1/sqrt(fan_in), +)
                w = d["tensors"][name[:-5] + ".weight"]
                bound = 1 / math.sqrt(w[0].numel())
                ok = t.abs().max() <= bound and (t.numel() < 8 or t.std() > 0.3 * bound)
            elif name.endswith(".weight"):  # BatchNorm: N(1, 0.02)
                ok = abs(t.mean() - 1) < 0.02 and abs(t.std() - 0.02) < 0.01
            elif name.endswith("running_var"):
                ok = bool((t == 1).all())
            else:  # BatchNorm bias, running mean: 0
                ok = bool((t == 0).all())
            if not ok:
                bad.append("%s.%s: not the authors' initialisation (mean %.4g, std %.4g)"
                           % (d["kind"], name, t.mean(), t.std()))
    for b in bad:
        print("FAIL draws: " + b)
    return not bad


# ---- segq's tensor names <-> the authors' modules ----------------------

def authors_key(name, layers, generator):
    """conv0.weight -> head.conv.weight, bn2.running_mean ->
    body.block2.norm.running_mean, conv4.bias -> tail(.0).bias"""
    part, _, what = name.partition(".")
    kind = "conv" if part.startswith("conv") else "norm"
    layer = int(part[4:] if kind == "conv" else part[2:])
    if layer == layers - 1:
        return ("tail.0." if generator else "tail.") + what
    return "%s.%s.%s" % ("head" if layer == 0 else "body.block%d" % layer, kind, what)


def load_ours(net, tensors, layers, generator, what):
    """Loads segq's tensors (segq names) into an authors' module: all of
    them, of the same shapes (num_batches_tracked aside)."""
    state = net.state_dict()
    new = {k: v for k, v in state.items() if k.endswith("num_batches_tracked")}
    for name, t in tensors.items():
        key = authors_key(name, layers, generator)
        if key not in state:
            fail_order("%s: segq's %s has no counterpart %s in the authors' net"
                       % (what, name, key))
        check_shape("%s %s" % (what, key), t.shape, state[key].shape)
        new[key] = t.clone()
    if set(new) != set(state):
        fail_order("%s: segq's tensors lack %s" % (what, sorted(set(state) - set(new))))
    net.load_state_dict(new)


def model_net(model, prefix, n):
    head = "%s.%d." % (prefix, n)
    return {k[len(head):]: v for k, v in model.items() if k.startswith(head)}


# ---- running the authors' code -----------------------------------------

def import_authors(workdir):
    """Their modules from a writable copy (TrainedModels/ goes beside)."""
    if not os.path.isfile(os.path.join(AUTHORS, "SinGAN", "training.py")):
        sys.exit("authors_train.py: the authors' code is not at %s (../shared/reference beside "
                 "the repository, or SEGQ_AUTHORS_DIR)" % AUTHORS)
    src = os.path.join(workdir, "singan-seg")
    shutil.copytree(AUTHORS, src, ignore=shutil.ignore_patterns("__pycache__", "TrainedModels",
                                                                 "Output"))
    os.chdir(src)
    sys.path.insert(0, src)
    os.environ["MPLBACKEND"] = "Agg"
    try:
        import sklearn.cluster  # noqa: F401
    except ImportError:
        stub = types.ModuleType("sklearn.cluster")

        def kmeans(*a, **k):
            raise RuntimeError("scikit-learn is not installed (authors_train.py's stub)")

        stub.KMeans = kmeans
        sys.modules["sklearn"] = types.ModuleType("sklearn")
        sys.modules["sklearn.cluster"] = stub
    try:
        import torchvision  # noqa: F401  (their manipulate.py imports it, unused here)
    except ImportError:
        for m in ("torchvision", "torchvision.datasets", "torchvision.transforms",
                  "torchvision.utils"):
            sys.modules[m] = types.ModuleType(m)
    import config
    import SinGAN.functions as functions
    import SinGAN.manipulate as manipulate
    import SinGAN.models as models
    import SinGAN.training as training
    return types.SimpleNamespace(config=config, functions=functions, manipulate=manipulate,
                                 models=models, training=training)


def authors_opt(config, params, input_dir, input_name):
    for flag, theirs in (("beta2", 0.999), ("nfc_max", 128), ("precision", "fp32")):
        if params[flag] != theirs:
            sys.exit("authors_train.py: %s %s: the authors' code has %s" % (flag, params[flag],
                                                                          theirs))
    parser = config.get_arguments()
    parser.add_argument("--input_dir")
    parser.add_argument("--input_name")
    parser.add_argument("--mode", default="train")
    parser.add_argument("--gpu_id", default="0")
    args = ["--not_cuda", "--nc_z", "4", "--nc_im", "4", "--manualSeed", "1",
            "--input_dir", input_dir, "--input_name", input_name,
            "--min_nfc", repr(params["nfc"])]
    flags = {"min_size": "min_size", "max_size": "max_size", "scale_factor": "scale_factor",
             "niter": "niter", "lr_g": "lr_g", "lr_d": "lr_d", "beta1": "beta1",
             "gamma": "gamma", "d_steps": "Dsteps", "g_steps": "Gsteps",
             "lambda_grad": "lambda_grad", "alpha": "alpha", "noise_amp_init": "noise_amp",
             "nfc": "nfc", "num_layer": "num_layer", "ker_size": "ker_size"}
    for ours, theirs in flags.items():
        args += ["--" + theirs, repr(params[ours])]
    return parser.parse_args(args)


def binarised_input(image, folder):
    from skimage import io
    x = io.imread(image)
    if x.ndim != 3 or x.shape[2] != 4:
        sys.exit("authors_train.py: %s is not an RGBA image" % image)
    x = x.copy()
    x[:, :, 3] = np.where(x[:, :, 3] > 127, 255, 0).astype(x.dtype)
    os.makedirs(folder, exist_ok=True)
    io.imsave(os.path.join(folder, "input.png"), x, check_contrast=False)
    return "input.png"


def call_with(name, value, where, call):
    """call() with torch.<name> returning value, for one request of its
    shape."""
    orig = getattr(torch, name)
    used = []

    def fake(*shape, **kw):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)):
            shape = tuple(shape[0])
        check_shape(where, value.shape, [int(s) for s in shape])
        if used:
            fail_order("%s: torch.%s called twice" % (where, name))
        used.append(1)
        return value.clone()

    setattr(torch, name, fake)
    try:
        out = call()
    finally:
        setattr(torch, name, orig)
    if not used:
        fail_order("%s: torch.%s was never called" % (where, name))
    return out


class Authors:
    """The authors' training, its randomness ours, in lockstep with segq."""

    def __init__(self, a, opt, model, layers, draws):
        self.a, self.opt, self.model, self.layers = a, opt, model, layers
        self.draws = draws
        self.nfc_prev = 0
        self.fixed_noise = 0
        self.theirs_reals = None  # their own pyramid
        self.G, self.noise_amp, self.z_opt = [], [], []  # theirs, per scale
        self.ours_G = []  # segq's frozen G per scale, as authors' modules
        self.start = []  # per scale: the G and D it started from (segq names)
        self.rand_calls = {}  # per scale: their draw_concat('rand') calls so far
        self.prevs = {}  # (mode, scale): [(segq's prev, theirs)]
        f, t = a.functions, a.training
        orig_noise, orig_gp = f.generate_noise, f.calc_gradient_penalty
        orig_init, orig_tss = t.init_models, t.train_single_scale
        orig_pyramid, orig_concat = f.creat_reals_pyramid, t.draw_concat
        me = self

        def generate_noise(size, device, num_samp=1, type="gaussian", scale=1):
            caller = sys._getframe(1)
            fn = caller.f_code.co_name
            line = linecache.getline(caller.f_code.co_filename, caller.f_lineno).strip()
            where = "%s: %s" % (fn, line)
            if fn == "train_single_scale" and line.startswith("fixed_noise"):
                me.fixed_noise += 1  # its shape alone is used
                return orig_noise(size, device, num_samp, type, scale)
            kinds = {("train_single_scale", "z_opt"): "z_opt",
                     ("train_single_scale", "noise_"): "noise",
                     ("draw_concat", ""): "prev_noise", ("SinGAN_generate", ""): "noise"}
            kind = next((k for (f_, start), k in kinds.items()
                         if fn == f_ and line.startswith(start)), None)
            if kind is None:
                fail_order("an unexpected draw in the authors' code: " + where)
            if type != "gaussian" or scale != 1 or num_samp != 1:
                fail_order("%s: noise of type %s, scale %s, %s samples" % (where, type, scale,
                                                                         num_samp))
            value = me.draws.take(kind, where)[""]
            return call_with("randn", value, where,
                             lambda: orig_noise(size, device, num_samp, type, scale))

        def calc_gradient_penalty(netD, real_data, fake_data, LAMBDA, device):
            value = me.draws.take("gp_alpha", "calc_gradient_penalty")[""]
            return call_with("rand", value, "calc_gradient_penalty",
                             lambda: orig_gp(netD, real_data, fake_data, LAMBDA, device))

        def init_models(opt):
            netD, netG = orig_init(opt)
            # their train() loads the previous scale's weights right after
            # this when the width is the same; any other scale starts here
            if opt.nfc != me.nfc_prev:
                g = me.draws.take("init_G", "init_models")
                d = me.draws.take("init_D", "init_models")
                load_ours(netG, g, me.layers, True, "init_G")
                load_ours(netD, d, me.layers, False, "init_D")
                me.start.append({"G": g, "D": d})
            else:
                me.start.append(None)  # the previous scale's, set below
            me.nfc_prev = opt.nfc
            return netD, netG

        def creat_reals_pyramid(real, reals, opt):
            # theirs from their own resizer (train() resized `real` with
            # the one the prev chains get)
            me.theirs_reals = orig_pyramid(f.imresize(f.read_image(opt), opt.scale1, opt), [],
                                           opt)
            for n in range(len(me.theirs_reals)):
                reals.append(me.draws.extra["real.%d" % n].clone())
            return reals

        def draw_concat(Gs, Zs, reals, NoiseAmp, in_s, mode, m_noise, m_image, opt):
            theirs = orig_concat(Gs, Zs, reals, NoiseAmp, in_s, mode, m_noise, m_image, opt)
            n = len(Gs)
            if n == 0:  # scale 0: zeros, nothing drawn
                return theirs
            if mode == "rand":
                i, j = divmod(me.rand_calls.get(n, 0), opt.Dsteps)
                me.rand_calls[n] = me.rand_calls.get(n, 0) + 1
                ours = me.draws.extra["rand_prev.%d.%06d" % (n, i)][j:j + 1]
            else:
                ours = me.draws.extra["rec_prev.%d" % n]
            me.prevs.setdefault((mode, n), []).append((ours, theirs.detach().clone()))
            return ours.clone()

        def train_single_scale(netD, netG, reals, Gs, Zs, in_s, NoiseAmp, opt, centers=None):
            n = len(Gs)
            # lockstep: segq's coarser scales, and segq's weights where
            # this scale starts from the previous one's
            while len(me.ours_G) < n:
                me.ours_G.append(me.frozen_G(len(me.ours_G)))
            Gs[:] = me.ours_G[:n]
            Zs[:] = [me.model["z_opt.%d" % k].clone() for k in range(n)]
            NoiseAmp[:] = [torch.tensor(me.model["noise_amp"][k].item(), dtype=torch.float32)
                           for k in range(n)]
            if n > 0 and opt.nfc == me.model_width(n - 1):
                me.start[n] = {"G": model_net(me.model, "G", n - 1),
                               "D": model_net(me.model, "D", n - 1)}
                load_ours(netG, me.start[n]["G"], me.layers, True, "G")
                load_ours(netD, me.start[n]["D"], me.layers, False, "D")
            z, in_s, G = orig_tss(netD, netG, reals, Gs, Zs, in_s, NoiseAmp, opt, centers)
            me.G.append(G)
            me.noise_amp.append(float(opt.noise_amp))
            me.z_opt.append(z)
            return z, in_s, G

        f.generate_noise = generate_noise
        f.calc_gradient_penalty = calc_gradient_penalty
        f.creat_reals_pyramid = creat_reals_pyramid
        t.init_models = init_models
        t.draw_concat = draw_concat
        t.train_single_scale = train_single_scale

    def model_width(self, n):
        return self.model["G.%d.conv0.weight" % n].shape[0]

    def frozen_G(self, n):
        opt = types.SimpleNamespace(**vars(self.opt))
        opt.nfc = opt.min_nfc = self.model_width(n)
        G = self.a.models.GeneratorConcatSkip2CleanAdd(opt)
        load_ours(G, model_net(self.model, "G", n), self.layers, True, "G.%d" % n)
        G.eval()
        for p in G.parameters():
            p.requires_grad_(False)
        return G

    def set_milestone(self, milestone):
        """Their MultiStepLR(milestones=[1600]) gets [milestone]."""
        cls = torch.optim.lr_scheduler.MultiStepLR
        orig = cls.__init__

        def init(sched, optimizer, milestones, *a, **kw):
            if list(milestones) != [1600]:
                fail_order("their MultiStepLR milestones are %s, not [1600]" % (milestones,))
            orig(sched, optimizer, [milestone], *a, **kw)

        cls.__init__ = init

    def train(self, milestone):
        f = self.a.functions
        self.opt = f.post_config(self.opt)
        self.set_milestone(milestone)
        real = f.read_image(self.opt)
        f.adjust_scales2image(real, self.opt)
        Gs, Zs, reals, NoiseAmp = [], [], [], []
        self.a.training.train(self.opt, Gs, Zs, reals, NoiseAmp)
        self.draws.finish()
        self.reals = reals
        self.out = f.generate_dir2save(self.opt)

    def generate(self, gen):
        """Their SinGAN_generate on segq's model, with segq's noise."""
        S = len(self.reals)
        while len(self.ours_G) < S:
            self.ours_G.append(self.frozen_G(len(self.ours_G)))
        Zs = [self.model["z_opt.%d" % k].clone() for k in range(S)]
        amps = [torch.tensor(self.model["noise_amp"][k].item(), dtype=torch.float32)
                for k in range(S)]
        self.draws = gen
        out = self.a.manipulate.SinGAN_generate(self.ours_G, Zs, self.reals, amps, self.opt,
                                                num_samples=1)
        gen.finish()
        return out


# ---- comparing ---------------------------------------------------------

class Report:
    def __init__(self):
        self.bad = 0

    def line(self, ok, what, text):
        self.bad += not ok
        print("%s %-40s %s" % ("ok  " if ok else "FAIL", what, text))

    def cmp(self, what, ours, theirs, tol, relative=False):
        ours, theirs = torch.as_tensor(ours).double(), torch.as_tensor(theirs).double()
        if ours.shape != theirs.shape:
            return self.line(False, what, "shape %s, the authors' %s" % (tuple(ours.shape),
                                                                        tuple(theirs.shape)))
        d = (ours - theirs).abs().max().item() if ours.numel() else 0.0
        if relative:
            d /= max(theirs.abs().max().item(), 1e-30)
        self.line(d <= tol, what, "max |diff| %.3g%s (tolerance %.3g)"
                  % (d, " relative" if relative else "", tol))


def footprint_inside(n_out, n_mid, n_in, f, s1):
    """Per output pixel of a scale (n_out pixels, resized by f from the
    scale1 image of n_mid pixels, itself resized by s1 from n_in): whether
    every input pixel its cubic kernels reach lies inside the image."""
    def reach(x, s):  # the input interval output pixel x of a resize by s reads
        if s == 1:  # their imresize skips a factor of 1
            return x, x
        c = (x + 0.5) / s - 0.5
        half = 2 / s if s < 1 else 2
        return c - half, c + half

    inside = []
    for x in range(n_out):
        lo, hi = reach(x, f)
        ok = lo >= 0 and hi <= n_mid - 1
        a, _ = reach(math.floor(max(lo, 0)), s1)
        _, b = reach(math.ceil(min(hi, n_mid - 1)), s1)
        inside.append(ok and a >= 0 and b <= n_in - 1)
    return torch.tensor(inside)


def compare_pyramid(rep, ours, theirs, opt, size_in):
    S = len(theirs)
    for n in range(S):
        o, t = ours["real.%d" % n], theirs[n]
        if o.shape != t.shape:
            rep.line(False, "scale %d real" % n, "shape %s, the authors' %s" % (
                tuple(o.shape), tuple(t.shape)))
            continue
        f = math.pow(opt.scale_factor, opt.stop_scale - n)
        mid = ours["real.%d" % (S - 1)].shape
        rows = footprint_inside(o.shape[2], mid[2], size_in[0], f, opt.scale1)
        cols = footprint_inside(o.shape[3], mid[3], size_in[1], f, opt.scale1)
        inside = rows[:, None] & cols[None, :]
        d = (o - t).abs()[0]
        di, db = d[:, inside], d[:, ~inside]
        ok = di.max() <= TOL["real_inside"] and di.mean() <= TOL["real_inside_mean"]
        rep.line(ok, "scale %d real, inside (%dx%d)" % (n, rows.sum(), cols.sum()),
                 "max |diff| %.3g = %.2f levels, mean %.2g levels (tolerance %.2f, mean %.2g)"
                 % (di.max(), di.max() / LEVEL, di.mean() / LEVEL, TOL["real_inside"] / LEVEL,
                    TOL["real_inside_mean"] / LEVEL))
        if db.numel():
            rep.cmp("scale %d real, border" % n, db.max(), 0, TOL["real_border"])


def bias_bound(lr_sum):
    """A conv bias before BatchNorm has zero gradient (BN subtracts the
    batch mean): what moves it is rounding, which Adam's normalisation
    turns into steps of up to lr either way, on both sides, differently;
    the running mean follows it. lr_sum: the learning rates of the net's
    Adam steps in the scale, added up."""
    return 2 * lr_sum * 1.001 + 1e-6


def compare_scales(rep, auth, model, params, layers, out_dir):
    """Trainable tensors by how far segq's update strays from the
    authors' (update_mismatch); the zero-gradient biases by the bound
    alone (bias_bound); the running means, which carry those biases, by
    the bound and the running statistics' tolerance; the running
    variances, which do not depend on them, by that tolerance."""
    niter, d_steps = params["niter"], params["d_steps"]
    one = niter == 1 and params["lr_milestone"] == 0 and params["gamma"] <= 0.1
    tol = TOL_TRAIN["one" if one else "more"]
    amps = model["noise_amp"]
    for n, G in enumerate(auth.G):
        rep.cmp("scale %d noise_amp" % n, amps[n], auth.noise_amp[n], TOL["noise_amp"],
                relative=True)
        rep.cmp("scale %d z_opt" % n, model["z_opt.%d" % n], auth.z_opt[n].float(), TOL["z_opt"])
        D = torch.load(os.path.join(out_dir, str(n), "netD.pth"))
        decayed = sum(params["gamma"] if i >= params["lr_milestone"] else 1 for i in range(niter))
        for prefix, state, generator, lr_sum in (
                ("G", G.state_dict(), True, decayed * params["lr_g"]),
                ("D", D, False, decayed * d_steps * params["lr_d"])):
            start = auth.start[n][prefix]
            for short, ours in sorted(model_net(model, prefix, n).items()):
                what = "scale %d %s.%s" % (n, prefix, short)
                theirs = state[authors_key(short, layers, generator)]
                pre_bn = short.startswith("conv") and short.endswith(".bias") and \
                    int(short[4:-5]) < layers - 1
                if pre_bn:
                    rep.cmp(what, ours, theirs, bias_bound(lr_sum))
                elif short.endswith("running_mean"):
                    rep.cmp(what, ours, theirs, bias_bound(lr_sum) + tol[prefix + ".running"])
                elif short.endswith("running_var"):
                    rep.cmp(what, ours, theirs, tol[prefix + ".running"])
                else:
                    update_mismatch(rep, what, ours, theirs, start[short], 2 * lr_sum, tol)


def update_mismatch(rep, what, ours, theirs, start, bound, tol):
    """How far segq's update strays from the authors', in the L2 norm:
    |segq - authors| / |authors - start| ("off"), without the few
    elements (1 in 1000, at least one) that differ most: Adam's first step
    moves every element by lr times the sign of its gradient, and where
    that gradient is within rounding of 0 the sign is anyone's; a wrong
    computation moves many elements, not one in a thousand. And the
    update's size against theirs, |segq - start| / |authors - start| - 1,
    which the chaos leaves nearly alone and a wrong learning rate does
    not. No element may differ by more than bound (2 lr per Adam step)."""
    ours, theirs, start = ours.double(), theirs.double(), start.double()
    d = (ours - theirs).abs().flatten()
    drop = 1 + d.numel() // 1000 if d.numel() > 1 else 0
    kept = d.sort().values[:d.numel() - drop]
    moved = (theirs - start).norm().item()
    rel = kept.norm().item() / moved if moved > 0 else (0.0 if d.max() == 0 else math.inf)
    size = (ours - start).norm().item() / moved - 1 if moved > 0 else 0.0
    ok = rel <= tol["update"] and abs(size) <= tol["size"] and d.max().item() <= bound * 1.001
    rep.line(ok, what, "update off by %.2g, size %+.2g (tolerance %.2g, %.2g), max |diff| %.3g "
             "(at most %.3g)" % (rel, size, tol["update"], tol["size"], d.max(), bound))


def compare_prevs(rep, prevs):
    """Their draw_concat (our noise, our frozen coarser scales) against the
    prev segq trained with, per scale and mode: the same chain but for
    float32 rounding (folded BatchNorm, batched chains), which now and
    then flips a level in a uint8 round trip that the finer scales carry
    on."""
    for (mode, n), pairs in sorted(prevs.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        bad = [(tuple(o.shape), tuple(t.shape)) for o, t in pairs if o.shape != t.shape]
        if bad:
            rep.line(False, "scale %d %s prev" % (n, mode), "shapes %s" % bad[:2])
            continue
        d = torch.cat([(o.double() - t.double()).abs().flatten() for o, t in pairs])
        ok = d.max() <= TOL["prev"] and d.mean() <= TOL["prev_mean"]
        rep.line(ok, "scale %d %s prev (%d)" % (n, mode, len(pairs)),
                 "max |diff| %.3g = %.2f levels, mean %.2g levels (tolerance %.2f, mean %.2g)"
                 % (d.max(), d.max() / LEVEL, d.mean() / LEVEL, TOL["prev"] / LEVEL,
                    TOL["prev_mean"] / LEVEL))


def compare_sample(rep, ours, theirs):
    """Their SinGAN_generate against segq-run generate, same model, same
    noise: float32 rounding (segq's frozen G has BatchNorm folded into its
    convolutions) now and then flips a level in a uint8 round trip between
    scales, which the finer scales carry on."""
    if ours is None or ours.shape != theirs.shape:
        return rep.line(False, "generated sample", "shape %s, the authors' %s" % (
            None if ours is None else tuple(ours.shape), tuple(theirs.shape)))
    d = (ours.double() - theirs.double()).abs()
    ok = d.max() <= TOL["sample"] and d.mean() <= TOL["sample_mean"]
    rep.line(ok, "generated sample", "max |diff| %.3g = %.2f levels, mean %.2g levels "
             "(tolerance %.2f, mean %.2g)" % (d.max(), d.max() / LEVEL, d.mean() / LEVEL,
                                              TOL["sample"] / LEVEL, TOL["sample_mean"] / LEVEL))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["check"])
    ap.add_argument("image")
    ap.add_argument("model")
    ap.add_argument("train_draws")
    ap.add_argument("gen_draws")
    args = ap.parse_args()
    torch.set_num_threads(1)
    image = os.path.abspath(args.image)
    model, meta = read_safetensors(os.path.abspath(args.model))
    params = json.loads(meta["params"])
    layers = params["num_layer"]
    try:
        draws = Draws(os.path.abspath(args.train_draws))
        gen = Draws(os.path.abspath(args.gen_draws))
    except Mismatch as e:
        print("FAIL draws: %s" % e)
        return 2
    if not (check_distributions(draws) and check_distributions(gen)):
        return 1
    rep = Report()
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="segq-authors-") as work:
        a = import_authors(work)
        name = binarised_input(image, os.path.join(work, "input"))
        opt = authors_opt(a.config, params, os.path.join(work, "input"), name)
        auth = Authors(a, opt, model, layers, draws)
        log = io.StringIO()
        try:
            with contextlib.redirect_stdout(log):
                auth.train(params["lr_milestone"])
                sample = auth.generate(gen)
        except Mismatch as e:
            sys.stdout.write(log.getvalue()[-2000:])
            print("FAIL draws: %s" % e)
            return 2
        print("the authors' training: %d scales, %d iterations each, lr x %g from iteration "
              "%d; fed segq's %d draws (their unused fixed_noise: %d of their own), "
              "generation %d" % (len(auth.G), params["niter"], params["gamma"],
                                 params["lr_milestone"], len(draws.draws), auth.fixed_noise,
                                 len(gen.draws)))
        compare_pyramid(rep, draws.extra, auth.theirs_reals, auth.opt,
                        (int(meta["height"]), int(meta["width"])))
        compare_prevs(rep, auth.prevs)
        compare_scales(rep, auth, model, params, layers,
                       os.path.join(work, "singan-seg", auth.out))
        ours = [v for k, v in sorted(gen.extra.items()) if k.startswith("sample.")]
        compare_sample(rep, ours[0] if ours else None, sample.detach())
        os.chdir(here)
    print("%s: %d comparison(s) beyond the tolerances" % ("FAIL" if rep.bad else "ok", rep.bad))
    return 1 if rep.bad else 0


if __name__ == "__main__":
    sys.exit(main())
