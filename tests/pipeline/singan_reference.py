#!/usr/bin/python3
"""Independent reference for the C SinGAN-Seg (tests/pipeline/test_singan_numerics.c).

Written from the authors' code (SinGAN / SinGAN-Seg training.py, models.py,
functions.py) in plain torch.nn, run on Debian's python3-torch. It reads the
state the C test dumped (a safetensors file, read here with the standard
library), recomputes every step the C code took and compares.

  singan_reference.py pyramid FILE.json   sizes the C code computed
  singan_reference.py check FILE.safetensors
Exit status 0 when everything agrees within the tolerance, 1 otherwise.
"""
import json
import math
import struct
import sys

import torch
import torch.nn as nn

TOL = 1e-5
torch.set_num_threads(1)

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(body[b:end]), dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


# ---- the authors' pyramid (functions.adjust_scales2image + create_reals_pyramid)
def pyramid(H, W, min_size, max_size, sf):
    num_scales = math.ceil(math.log(math.pow(min_size / min(H, W), 1), sf)) + 1
    scale2stop = math.ceil(math.log(min(max_size, max(H, W)) / max(H, W), sf))
    stop = num_scales - scale2stop
    scale1 = min(max_size / max(H, W), 1)
    # imresize's output shape: uint(ceil(shape * scale)) in float64
    h, w = math.ceil(H * scale1), math.ceil(W * scale1)
    r = math.pow(min_size / min(h, w), 1 / stop)
    sizes = []
    for i in range(stop + 1):
        s = math.pow(r, stop - i)
        sizes.append([math.ceil(h * s), math.ceil(w * s)])
    return {"stop_scale": stop, "r": r, "sizes": sizes}


# ---- the authors' networks (models.py), widths all nfc
class ConvBlock(nn.Sequential):
    def __init__(self, cin, cout, ker):
        super().__init__()
        self.add_module("conv", nn.Conv2d(cin, cout, kernel_size=ker, stride=1, padding=0))
        self.add_module("norm", nn.BatchNorm2d(cout))
        self.add_module("LeakyRelu", nn.LeakyReLU(0.2, inplace=True))


class Net(nn.Module):
    def __init__(self, generator, nfc, layers, ker, nc=4):
        super().__init__()
        self.generator = generator
        self.head = ConvBlock(nc, nfc, ker)
        self.body = nn.Sequential(*[ConvBlock(nfc, nfc, ker) for _ in range(layers - 2)])
        if generator:
            self.tail = nn.Sequential(nn.Conv2d(nfc, nc, kernel_size=ker), nn.Tanh())
        else:
            self.tail = nn.Conv2d(nfc, 1, kernel_size=ker)

    def blocks(self):
        return [self.head] + list(self.body)

    def tail_conv(self):
        return self.tail[0] if self.generator else self.tail

    def forward(self, x, y=None):
        x = self.tail(self.body(self.head(x)))
        if not self.generator:
            return x
        ind = int((y.shape[2] - x.shape[2]) / 2)
        y = y[:, :, ind:(y.shape[2] - ind), ind:(y.shape[3] - ind)]
        return x + y

    # C names: conv{i}.weight/bias, bn{i}.weight/bias/running_mean/running_var
    def named(self):
        out = {}
        for i, b in enumerate(self.blocks()):
            out["conv%d.weight" % i] = b.conv.weight
            out["conv%d.bias" % i] = b.conv.bias
            out["bn%d.weight" % i] = b.norm.weight
            out["bn%d.bias" % i] = b.norm.bias
            out["bn%d.running_mean" % i] = b.norm.running_mean
            out["bn%d.running_var" % i] = b.norm.running_var
        last = len(self.blocks())
        out["conv%d.weight" % last] = self.tail_conv().weight
        out["conv%d.bias" % last] = self.tail_conv().bias
        return out

    def load(self, tensors, prefix):
        with torch.no_grad():
            for k, p in self.named().items():
                p.copy_(tensors[prefix + k])


def gradient_penalty(netD, real, fake, alpha, lam):
    # functions.calc_gradient_penalty with alpha given instead of torch.rand(1, 1)
    alpha = alpha.expand(real.size())
    interp = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    out = netD(interp)
    grads = torch.autograd.grad(outputs=out, inputs=interp, grad_outputs=torch.ones(out.size()),
                                create_graph=True, retain_graph=True, only_inputs=True)[0]
    return ((grads.norm(2, dim=1) - 1) ** 2).mean() * lam


class Report:
    def __init__(self):
        self.bad = 0

    def cmp(self, what, ours, theirs, tol=TOL):
        d = (ours.double() - theirs.double()).abs().max().item() if ours.numel() else 0.0
        ok = d <= tol
        if not ok:
            self.bad += 1
        print("%-40s max|diff| %.3g %s" % (what, d, "ok" if ok else "MISMATCH (tol %g)" % tol))


def check(path):
    t, meta = read_safetensors(path)
    nfc, layers, ker = int(meta["nfc"]), int(meta["num_layer"]), int(meta["ker_size"])
    lam, alpha_rec = float(meta["lambda_grad"]), float(meta["alpha"])
    lr_g, lr_d = float(meta["lr_g"]), float(meta["lr_d"])
    beta1, beta2 = float(meta["beta1"]), float(meta["beta2"])
    d_steps, g_steps = int(meta["d_steps"]), int(meta["g_steps"])
    noise_amp = float(meta["noise_amp"])
    rep = Report()

    netG, netD = Net(True, nfc, layers, ker), Net(False, nfc, layers, ker)
    netG.load(t, "init.G."), netD.load(t, "init.D.")
    real, x, prev = t["real"], t["x"], t["prev"]

    # forwards: G in eval, G in training mode (moves its BN statistics), D
    netG.eval()
    with torch.no_grad():
        rep.cmp("G forward (eval)", t["out.g_eval"], netG(x, prev))
    netG.train()
    with torch.no_grad():
        rep.cmp("G forward (train)", t["out.g_train"], netG(x, prev))
    with torch.no_grad():
        rep.cmp("D forward (train)", t["out.d"], netD(real))

    # gradient penalty and its gradient in D's parameters
    netD.zero_grad()
    gp = gradient_penalty(netD, real, t["gp.fake"], t["gp.alpha"], lam)
    gp.backward()
    rep.cmp("gradient penalty", t["out.gp"].reshape(()), gp.detach())
    for k, p in netD.named().items():
        if p.requires_grad:
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            rep.cmp("d(gp)/d D." + k, t["gp.grad." + k], g)
    netD.zero_grad()

    # one full training iteration, the authors' train_single_scale body
    optD = torch.optim.Adam(netD.parameters(), lr=lr_d, betas=(beta1, beta2))
    optG = torch.optim.Adam(netG.parameters(), lr=lr_g, betas=(beta1, beta2))
    noise_, z_opt, z_prev = t["it.noise"], t["it.z_opt"], t["it.rec_prev"]
    for j in range(d_steps):
        netD.zero_grad()
        output = netD(real)
        errD_real = -output.mean()
        errD_real.backward(retain_graph=True)
        prev_j = t["it.prev.%d" % j]
        noise = noise_amp * noise_ + prev_j
        fake = netG(noise.detach(), prev_j)
        output = netD(fake.detach())
        errD_fake = output.mean()
        errD_fake.backward(retain_graph=True)
        gpj = gradient_penalty(netD, real, fake.detach(), t["it.alpha.%d" % j], lam)
        gpj.backward()
        optD.step()
    for j in range(g_steps):
        netG.zero_grad()
        output = netD(fake)
        errG = -output.mean()
        errG.backward(retain_graph=True)
        Z_opt = noise_amp * z_opt + z_prev
        rec_loss = alpha_rec * nn.MSELoss()(netG(Z_opt.detach(), z_prev), real)
        rec_loss.backward(retain_graph=True)
    optG.step()
    # A conv bias followed by training-mode BatchNorm has zero gradient in
    # exact arithmetic (BN subtracts the batch mean); both sides see only
    # rounding noise, which Adam's first step normalises into a step of up
    # to lr in either direction. For those the check is that the gradient
    # is noise and that neither side moved the bias by more than lr per
    # optimiser step (G takes one, D d_steps).
    def before_bn(k):
        return k.startswith("conv") and k.endswith(".bias") and int(k[4:-5]) < layers - 1

    for net, name, lr in ((netG, "G", lr_g), (netD, "D", lr_d * d_steps)):
        for k, p in net.named().items():
            ours, init = t["after.%s.%s" % (name, k)], t["init.%s.%s" % (name, k)]
            if "running" in k and name == "D":
                # this one-pass reference moves D's statistics once in the
                # G update; segq moves them as the authors' three passes do
                # (test_singan_authors_train compares them with their loop)
                continue
            if before_bn(k):
                g = p.grad.abs().max().item() if p.grad is not None else 0.0
                moved = max((ours - init).abs().max().item(), (p.detach() - init).abs().max().item())
                ok = g < 1e-6 and moved <= lr * 1.001
                rep.bad += not ok
                print("%-40s |grad| %.2g, moved <= %.3g %s" % ("after iteration: %s.%s" % (name, k),
                      g, moved, "ok (zero-gradient bias)" if ok else "MISMATCH"))
                continue
            rep.cmp("after iteration: %s.%s" % (name, k), ours, p.detach())
    rep.cmp("iteration loss_rec", t["it.loss_rec"].reshape(()), rec_loss.detach())

    # the frozen G, BatchNorm folded into its convolutions, against the
    # plain eval-mode network with the weights and statistics it froze
    # (bf16: convolutions in bfloat16, 8 bits of mantissa, through 5 layers)
    frozen = Net(True, nfc, layers, ker)
    frozen.load(t, "after.G.")
    frozen.eval()
    with torch.no_grad():
        plain = frozen(x, prev)
    rep.cmp("G frozen forward (folded BN)", t["out.g_folded"], plain)
    rep.cmp("G frozen forward (folded BN, bf16)", t["out.g_folded_bf16"], plain, tol=0.01)
    return rep.bad


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("pyramid", "check"):
        print(__doc__)
        return 2
    if sys.argv[1] == "pyramid":
        with open(sys.argv[2]) as f:
            cases = json.load(f)
        bad = 0
        for c in cases:
            ref = pyramid(c["h"], c["w"], c["min_size"], c["max_size"], c["scale_factor"])
            ok = (ref["sizes"] == c["sizes"] and ref["stop_scale"] == c["stop_scale"]
                  and abs(ref["r"] - c["r"]) <= TOL)
            bad += not ok
            print("%dx%d: %s %s" % (c["h"], c["w"], ref["sizes"], "ok" if ok else
                                    "MISMATCH: C gave %s r %g" % (c["sizes"], c["r"])))
        return 1 if bad else 0
    return 1 if check(sys.argv[2]) else 0


if __name__ == "__main__":
    sys.exit(main())
