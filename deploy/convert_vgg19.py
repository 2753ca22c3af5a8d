#!/usr/bin/env python3
"""Convert torchvision's VGG19 ImageNet weights (.pth) to the safetensors file
`segq-run stylize --vgg19` reads.

    python3 deploy/convert_vgg19.py vgg19-dcbb9e9d.pth vgg19.safetensors

The .pth is torchvision's `vgg19(weights="IMAGENET1K_V1")` state dict
(https://download.pytorch.org/models/vgg19-dcbb9e9d.pth), or a whole pickled
model. Only the `features.N.weight` / `features.N.bias` tensors are kept, under
the same names, as float32; the classifier is dropped. Needs torch (to unpickle
the .pth) but not the `safetensors` package: the format is written here with
the standard library (8-byte little-endian header length, JSON header padded
with spaces to a multiple of 8, then the raw little-endian tensor bytes).
"""
import json
import os
import struct
import sys

# torchvision's vgg19 `features`: conv indices and (in, out) channels.
VGG19_CONVS = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256),
               (12, 256, 256), (14, 256, 256), (16, 256, 256), (19, 256, 512),
               (21, 512, 512), (23, 512, 512), (25, 512, 512), (28, 512, 512),
               (30, 512, 512), (32, 512, 512), (34, 512, 512)]


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: (dtype, shape, bytes)} with a safetensors dtype name.
    Writes atomically (temporary file, then rename)."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    order = sorted(tensors)
    for name in order:
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(tensors[name][2])
    os.replace(tmp, path)


def convert(pth, out):
    import torch
    obj = torch.load(pth, map_location="cpu")
    state = obj.state_dict() if hasattr(obj, "state_dict") else obj
    if not isinstance(state, dict):
        raise SystemExit(f"{pth}: not a state dict or model")
    tensors = {}
    for index, cin, cout in VGG19_CONVS:
        for kind, shape in (("weight", (cout, cin, 3, 3)), ("bias", (cout,))):
            key = f"features.{index}.{kind}"
            if key not in state:
                raise SystemExit(f"{pth}: no tensor {key}: is this torchvision's vgg19?")
            t = state[key].detach().to(torch.float32).contiguous()
            if tuple(t.shape) != shape:
                raise SystemExit(f"{pth}: {key} has shape {list(t.shape)}, vgg19 has {list(shape)}")
            tensors[key] = ("F32", shape, t.numpy().astype("<f4").tobytes())
    write_safetensors(out, tensors, {"format": "pt", "source": os.path.basename(pth)})


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    convert(sys.argv[1], sys.argv[2])
    print(f"wrote {sys.argv[2]}")
