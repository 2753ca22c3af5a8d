#!/usr/bin/python3
"""Independent reference for the torch shim tests: Debian's python3-torch
(the same libtorch 1.13) computes what the C code computes through
segq_torch.h, from the inputs the C test wrote.

Usage: torch_ref.py CASE DIR. Tensors are files DIR/NAME.t: int64 ndim,
int64 shape[ndim], float32 data, all little-endian.
"""
import struct
import sys

import torch
import torch.nn.functional as F


def rd(d, name):
    with open(f"{d}/{name}.t", "rb") as f:
        b = f.read()
    (ndim,) = struct.unpack_from("<q", b, 0)
    shape = struct.unpack_from(f"<{ndim}q", b, 8)
    data = bytearray(b[8 + 8 * ndim:])
    return torch.frombuffer(data, dtype=torch.float32).reshape(shape).clone()


def wr(d, name, t):
    t = t.detach().to(torch.float32).contiguous()
    with open(f"{d}/{name}.t", "wb") as f:
        f.write(struct.pack("<q", t.dim()))
        f.write(struct.pack(f"<{t.dim()}q", *t.shape))
        f.write(t.numpy().tobytes())


def case_interp(d):
    x = rd(d, "x")
    wr(d, "aa_bicubic_down",
       F.interpolate(x, size=(23, 29), mode="bicubic", align_corners=False, antialias=True))
    wr(d, "aa_bilinear_down",
       F.interpolate(x, size=(20, 17), mode="bilinear", align_corners=False, antialias=True))
    wr(d, "bicubic_up", F.interpolate(x, size=(50, 60), mode="bicubic", align_corners=False))
    wr(d, "bicubic_up_ac", F.interpolate(x, size=(50, 60), mode="bicubic", align_corners=True))
    wr(d, "bilinear_up", F.interpolate(x, size=(45, 52), mode="bilinear", align_corners=False))
    wr(d, "nearest", F.interpolate(x, size=(50, 30), mode="nearest"))


def case_ops(d):
    x, w, b, wg, wt = (rd(d, n) for n in ("x", "w", "b", "wg", "wt"))
    bnw, bnb, rm, rv = (rd(d, n) for n in ("bnw", "bnb", "rm", "rv"))
    conv = F.conv2d(x, w, b, stride=2, padding=1)
    wr(d, "conv", conv)
    wr(d, "conv_dil", F.conv2d(x, w, None, stride=1, padding=2, dilation=2))
    wr(d, "conv_grp", F.conv2d(x, wg, None, stride=1, padding=1, groups=3))
    wr(d, "convT", F.conv_transpose2d(x, wt, None, stride=2, padding=1, output_padding=1))
    wr(d, "bn_train", F.batch_norm(conv, rm, rv, bnw, bnb, training=True, momentum=0.1,
                                   eps=1e-5))
    wr(d, "rm_after", rm)
    wr(d, "rv_after", rv)
    wr(d, "bn_eval", F.batch_norm(conv, rm, rv, bnw, bnb, training=False, eps=1e-5))
    wr(d, "lrelu", F.leaky_relu(x, 0.2))
    wr(d, "pad", F.pad(x, (1, 2, 3, 4)))
    wr(d, "maxpool", F.max_pool2d(x, 2, 2, 0))
    wr(d, "avgpool", F.avg_pool2d(x, 3, 1, 1))
    f = x[0].reshape(3, -1)
    wr(d, "gram", f @ f.t())
    fb = x.reshape(2, 3, -1)
    wr(d, "gram_bmm", torch.bmm(fb, fb.transpose(1, 2)))
    wr(d, "norm", x.norm(2, dim=1))
    wr(d, "mean_hw", x.mean(dim=(2, 3), keepdim=True))
    wr(d, "sum_c", x.sum(dim=1))
    wr(d, "mse", F.mse_loss(x, x * 0.5 + 0.1))
    wr(d, "clamp", x.clamp(-0.5, 0.25))
    wr(d, "gt", (x > 0.3).float())
    torch.manual_seed(1234)
    wr(d, "randn", torch.randn(3, 50))
    wr(d, "rand", torch.rand(7))


def disc(x, p):
    """A tiny SinGAN-style critic: conv, BatchNorm (batch statistics),
    LeakyReLU(0.2), conv to one channel."""
    h = F.conv2d(x, p["w1"], p["b1"])
    h = F.batch_norm(h, None, None, p["g1"], p["be1"], training=True, momentum=0.1,
                     eps=1e-5)
    h = F.leaky_relu(h, 0.2)
    return F.conv2d(h, p["w2"], p["b2"])


def case_gp(d):
    names = ("w1", "b1", "g1", "be1", "w2", "b2")
    p = {n: rd(d, n).requires_grad_(True) for n in names}
    real, fake, alpha = rd(d, "real"), rd(d, "fake"), rd(d, "alpha")
    interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = disc(interp, p)
    (g,) = torch.autograd.grad(out, interp, torch.ones_like(out), create_graph=True,
                               retain_graph=True)
    gp = ((g.norm(2, dim=1) - 1) ** 2).mean() * 0.1
    loss = -disc(real, p).mean() + disc(fake, p).mean() + gp
    loss.backward()
    wr(d, "out", out)
    wr(d, "g", g)
    wr(d, "gp", gp)
    wr(d, "loss", loss)
    for n in names:
        wr(d, "grad_" + n, p[n].grad)


def case_adam(d):
    p1 = rd(d, "p1").requires_grad_(True)
    p2 = rd(d, "p2").requires_grad_(True)
    x, y = rd(d, "x"), rd(d, "y")
    opt = torch.optim.Adam([p1, p2], lr=0.05, betas=(0.5, 0.999))
    for it in range(5):
        if it == 3:
            for g in opt.param_groups:
                g["lr"] *= 0.1
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(p1 @ x, y) + (p2 ** 2).sum() * 0.5 + (p2 * p2.sum()).tanh().mean()
        loss.backward()
        opt.step()
    wr(d, "p1_after", p1)
    wr(d, "p2_after", p2)


CASES = {"interp": case_interp, "ops": case_ops, "gp": case_gp, "adam": case_adam}

if __name__ == "__main__":
    torch.set_num_threads(1)
    CASES[sys.argv[1]](sys.argv[2])
