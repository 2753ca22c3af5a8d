#!/usr/bin/python3
"""Independent reference for segq-run stylize (SINGAN-SEG.md section 3), on
Debian's python3-torch. Subcommands:

  weights DIR SEED   a random-weight torchvision-layout VGG19 (features +
                     classifier) saved as DIR/vgg19.pth, converted with
                     deploy/convert_vgg19.py to DIR/vgg19.safetensors
  check FILE W       FILE (written by the C test) holds x, content, style
                     images, the weights and the C losses and gradient;
                     recompute them per image with torch.nn modules and the
                     weights file W, and compare (relative 1e-5)
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "deploy"))
import convert_vgg19  # noqa: E402

CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
       512, 512, 512, 512, "M"]
TAPS = [1, 6, 11, 20, 29]          # relu1_1 .. relu5_1 in vgg19().features
STYLE_W = [0.75, 0.5, 0.25, 0.25, 0.25]
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def vgg19_features():
    layers, c = [], 3
    for v in CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
            c = v
    return nn.Sequential(*layers)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    types = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        t = torch.frombuffer(bytearray(body[b:e]), dtype=types[v["dtype"]]) if e > b else \
            torch.zeros(0, dtype=types[v["dtype"]])
        out[k] = t.reshape(v["shape"])
    return out


def cmd_weights(d, seed):
    torch.manual_seed(seed)
    feats = vgg19_features()
    with torch.no_grad():
        for m in feats:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                m.bias.normal_(0, 0.01)
    sd = {"features." + k: v for k, v in feats.state_dict().items()}
    sd["classifier.0.weight"] = torch.randn(4, 8)   # ignored by the reader
    torch.save(sd, os.path.join(d, "vgg19.pth"))
    convert_vgg19.convert(os.path.join(d, "vgg19.pth"), os.path.join(d, "vgg19.safetensors"))


def taps(net, img):
    h, out = (img - MEAN) / STD, []
    for i, m in enumerate(net):
        h = m(h)
        if i in TAPS:
            out.append(h)
    return out


def losses(fx, fc, fs, b):
    """Image b of a batch: (content loss, style loss), formulas of the spec."""
    lc = ((fx[-1][b] - fc[-1][b].detach()) ** 2).mean()
    ls = 0.0
    for w, a, s in zip(STYLE_W, fx, fs):
        c, h, wd = a.shape[1:]
        A, S = a[b].reshape(c, h * wd), s[b].reshape(c, h * wd).detach()
        ls = ls + w * ((A @ A.t() - S @ S.t()) ** 2).mean() / (c * h * wd)
    return lc, ls


def close(name, got, want, tol=1e-5):
    err = (got - want).abs().max().item() / max(want.abs().max().item(), 1e-30)
    print(f"{name}: relative error {err:.3g}")
    if not err <= tol:
        raise SystemExit(f"{name}: C and reference differ (relative {err:.3g} > {tol})")


def cmd_check(path, weights):
    d = read_safetensors(path)
    w = read_safetensors(weights)
    net = vgg19_features()[:TAPS[-1] + 1]   # up to relu5_1: all the file must hold
    net.load_state_dict({k[len("features."):]: v for k, v in w.items()
                         if k.startswith("features.")})
    net.eval()
    cw, sw = d["weights"][0].item(), d["weights"][1].item()
    x = d["x"].clone().requires_grad_(True)
    # The batch goes through the network at once, as in C: the same
    # convolution algorithms round alike, so a ReLU of a random-weight net
    # sitting at 0 +- rounding cannot flip between the two and move the
    # gradient by far more than the rounding (it does image by image).
    fx, fc, fs = taps(net, x), taps(net, d["content"]), taps(net, d["style"])
    lcs, lss, total = [], [], 0.0
    for b in range(x.shape[0]):
        lc, ls = losses(fx, fc, fs, b)
        lcs.append(lc)
        lss.append(ls)
        total = total + cw * lc + sw * ls
    total.backward()
    close("content loss", d["content_loss"], torch.stack(lcs).detach())
    close("style loss", d["style_loss"], torch.stack(lss).detach())
    close("gradient", d["grad"], x.grad)


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1] == "weights":
        cmd_weights(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "check":
        cmd_check(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
