#!/usr/bin/python3
"""Independent UNet++ reference (torch.nn) for tests/pipeline/test_evaluate.c.

  check FILE   FILE (written by the C test) holds the C model's tensors
               ("model.<name>"), the input x, the C logits in eval mode
               ("out_eval", before) and train mode ("out_train", after),
               and "param_count"; metadata depth and width. Rebuild the
               network here, load the weights, compare (relative 1e-5).
"""
import json
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class NestedUNet(nn.Module):
    """UNet++ (Zhou et al. 2018) as the common NestedUNet, any depth."""

    def __init__(self, depth, width, cin=3):
        super().__init__()
        self.depth = depth
        nb = [width * 2 ** i for i in range(depth + 1)]
        for i in range(depth + 1):
            for j in range(depth + 1 - i):
                n_in = (cin if i == 0 else nb[i - 1]) if j == 0 else j * nb[i] + nb[i + 1]
                setattr(self, f"x{i}_{j}", Block(n_in, nb[i]))
        self.final = nn.Conv2d(nb[0], 1, 1)
        self.pool = nn.MaxPool2d(2, 2)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)

    def forward(self, x):
        L, X = self.depth, {}
        for i in range(L + 1):
            X[i, 0] = getattr(self, f"x{i}_0")(x if i == 0 else self.pool(X[i - 1, 0]))
        for j in range(1, L + 1):
            for i in range(L + 1 - j):
                parts = [X[i, c] for c in range(j)] + [self.up(X[i + 1, j - 1])]
                X[i, j] = getattr(self, f"x{i}_{j}")(torch.cat(parts, 1))
        return self.final(X[0, L])


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    types = {"F32": torch.float32, "I64": torch.int64, "F64": torch.float64}
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        out[k] = torch.frombuffer(bytearray(body[b:e]), dtype=types[v["dtype"]]).reshape(v["shape"])
    return out, header.get("__metadata__", {})


def close(name, got, want, tol=1e-5):
    err = (got - want).abs().max().item() / max(want.abs().max().item(), 1e-30)
    print(f"{name}: relative error {err:.3g}")
    if not err <= tol:
        raise SystemExit(f"{name}: C and reference differ (relative {err:.3g} > {tol})")


def check(path):
    d, meta = read_safetensors(path)
    net = NestedUNet(int(meta["depth"]), int(meta["width"]))
    state = {k[len("model."):]: v for k, v in d.items() if k.startswith("model.")}
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise SystemExit(f"names differ: missing {missing}, unexpected {unexpected}")
    count = sum(p.numel() for p in net.parameters())
    print(f"parameters: C {d['param_count'].item()}, reference {count}")
    if count != d["param_count"].item():
        raise SystemExit("parameter counts differ")
    net.eval()
    with torch.no_grad():
        close("eval forward", d["out_eval"], net(d["x"]))
        net.train()
        close("train forward", d["out_train"], net(d["x"]))


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        raise SystemExit(__doc__)
