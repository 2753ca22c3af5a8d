"""Local weights files checked at submit from their headers, as `segq
submit` checks them (client/cli/cli_check.c), with the same words:
stylize's --vgg19 as segq_vgg19_file_check (pipeline/vgg19_file.c), every
convolution stylize uses in its shape and a float dtype; evaluate's
--encoder-weights as segq_unetpp_file_check_encoder
(pipeline/unetpp_file.c), the encoder of a UNet++ of the job's depth and
width, float32."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from . import errors
from ._safetensors import Header, read_header
from ._submit import local_file

# torchvision's VGG19 `features` up to conv5_1 (pipeline/vgg19_layers.c):
# each convolution's index, input and output channels
_VGG19_CONVS = (
    (0, 3, 64),
    (2, 64, 64),
    (5, 64, 128),
    (7, 128, 128),
    (10, 128, 256),
    (12, 256, 256),
    (14, 256, 256),
    (16, 256, 256),
    (19, 256, 512),
    (21, 512, 512),
    (23, 512, 512),
    (25, 512, 512),
    (28, 512, 512),
)
_VGG19_FLOATS = ("F32", "F16", "BF16", "F64")
_UNETPP_IN_CHANNELS = 3  # evaluate's UNet++ reads RGB images
# a UNet++ node's tensors, in the order they are checked
_NODE_TENSORS = (
    "conv1.weight",
    "conv1.bias",
    "bn1.weight",
    "bn1.bias",
    "conv2.weight",
    "conv2.bias",
    "bn2.weight",
    "bn2.bias",
    "bn1.running_mean",
    "bn1.running_var",
    "bn2.running_mean",
    "bn2.running_var",
)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _vgg19_tensor(header: Header, what: str, key: str, want: tuple[int, ...]) -> None:
    where = f"{what} {header.file}"
    tensor = header.tensors.get(key)
    if tensor is None:
        raise errors.InvalidArgument(
            f"{where}: missing tensor '{key}' (expected torchvision's VGG19 `features` weights, "
            "features.N.weight/bias; deploy/convert_vgg19.py makes such a file from "
            "torchvision's .pth)"
        )
    if tensor.shape != want:
        raise errors.InvalidArgument(
            f"{where}: tensor '{key}' has shape {_shape_text(tensor.shape)}, VGG19 needs "
            f"{_shape_text(want)} (is this a VGG19 `features` file?)"
        )
    if tensor.dtype not in _VGG19_FLOATS:
        raise errors.InvalidArgument(
            f"{where}: tensor '{key}' has dtype {tensor.dtype}, expected a float type"
        )


def check_vgg19(header: Header, what: str) -> None:
    """Every convolution stylize uses, in its shape and a float dtype."""
    for index, in_channels, out_channels in _VGG19_CONVS:
        _vgg19_tensor(header, what, f"features.{index}.weight", (out_channels, in_channels, 3, 3))
        _vgg19_tensor(header, what, f"features.{index}.bias", (out_channels,))


def _encoder_tensors(depth: int, width: int) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Name and shape of each tensor of nodes (i, 0), i = 0..depth
    (segq_unetpp_node_tensor)."""
    for i in range(depth + 1):
        out = width << i
        node_in = _UNETPP_IN_CHANNELS if i == 0 else width << (i - 1)
        for tensor in _NODE_TENSORS:
            if tensor == "conv1.weight":
                shape: tuple[int, ...] = (out, node_in, 3, 3)
            elif tensor == "conv2.weight":
                shape = (out, out, 3, 3)
            else:
                shape = (out,)
            yield f"x{i}_0.{tensor}", shape


def check_encoder(header: Header, what: str, depth: int, width: int) -> None:
    """The encoder of a UNet++ of this depth and width, float32."""
    for key, shape in _encoder_tensors(depth, width):
        tensor = header.tensors.get(key)
        if tensor is None or tensor.dtype != "F32" or tensor.shape != shape:
            why = "no" if tensor is None else "wrong dtype or shape of"
            raise errors.InvalidArgument(
                f"{what} {header.file}: {why} tensor '{key}' (expected float32 of the encoder "
                f"of a UNet++ of depth {depth}, width {width})"
            )


def check_stylize_weights(inputs: Mapping[str, Any]) -> None:
    """A stylize submission's local --vgg19 (inputs as given to Client.submit)."""
    path = local_file(inputs.get("vgg19"))
    if path:
        check_vgg19(read_header(path), "--vgg19")


def check_evaluate_weights(params: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
    """An evaluate submission's local --encoder-weights (params with their defaults)."""
    path = local_file(inputs.get("encoder_weights"))
    if path:
        check_encoder(
            read_header(path), "--encoder-weights", int(params["depth"]), int(params["width"])
        )
