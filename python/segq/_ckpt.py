"""generate's local --model checked at submit as `segq submit generate`
checks it (s_check_generate in client/cli/cli_check.c), with the same
words: its header read as segq_ckpt_header_read does (pipeline/ckpt.c:
our format, each number present and in range, the pyramid's sizes and a
noise amplitude for every trained scale), then what generate needs of it
(segq_ckpt_check_generate: every scale trained, --gen-start-scale one of
them). The rule that --gen-start-scale keeps the real layout's size
comes first, as the CLI checks parameters before files. Only the header
and the small pyramid_sizes tensor are read. Like segq-run, the reader
does not look at format_version."""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from typing import Any

from . import errors
from ._pyramid import MAX_SCALES
from ._safetensors import Header, Tensor, read_header
from ._submit import local_file

FORMAT = "segq-singan-seg"  # SEGQ_CKPT_FORMAT
_MAX_LAYERS = 64  # SEGQ_NET_MAX_LAYERS
_MAX_SIDE = 1 << 20
_DECIMAL = re.compile(
    r"[ \t\n\v\f\r]*([+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan))", re.I | re.A
)
# each number of the metadata and its range, in the order they are read
_NUMBERS = (
    ("scales_trained", 0, MAX_SCALES),
    ("num_layer", 2, _MAX_LAYERS),
    ("ker_size", 1, 15),
    ("pad", 0, 1000),
    ("height", 1, _MAX_SIDE),
    ("width", 1, _MAX_SIDE),
    ("nfc", 1, 65536),
    ("nfc_max", 1, 65536),
)


def _strtol(text: str) -> int | None:
    """text as C's strtol(text, &end, 10) takes it whole, or None."""
    digits = text.lstrip(" \t\n\v\f\r")
    sign = digits[:1] if digits[:1] in ("+", "-") else ""
    body = digits[len(sign) :]
    if not body.isascii() or not body.isdigit():
        return None
    value = int(sign + body)
    return value if -(1 << 63) <= value < 1 << 63 else None  # errno ERANGE


def _strtod(text: str) -> float:
    """C's strtod(text, NULL): the decimal number text starts with (hex
    floats aside), 0 where there is none."""
    found = _DECIMAL.match(text)
    return float(found[1]) if found else 0.0


def _number(path: str, meta: Mapping[str, str], key: str, lo: int, hi: int) -> int:
    value = _strtol(meta[key]) if key in meta else None
    if value is None or not lo <= value <= hi:
        how = "malformed" if key in meta else "missing"
        raise errors.InvalidArgument(
            f"{path}: metadata '{key}' is {how} (expected an integer in {lo}..{hi})"
        )
    return value


def _pyramid_tensors_ok(sizes: Tensor | None, amps: Tensor | None, trained: int) -> bool:
    if (
        sizes is None
        or sizes.dtype != "I64"
        or len(sizes.shape) != 2
        or sizes.shape[1] != 2
        or not max(1, trained) <= sizes.shape[0] <= MAX_SCALES
    ):
        return False
    return trained == 0 or (amps is not None and amps.dtype == "F64" and amps.shape == (trained,))


def _scales(header: Header, path: str, trained: int) -> int:
    """The pyramid's scales, after checking r, scale1 and its sizes."""
    meta = header.metadata
    sizes, amps = header.tensors.get("pyramid_sizes"), header.tensors.get("noise_amp")
    if "r" not in meta or "scale1" not in meta or not _pyramid_tensors_ok(sizes, amps, trained):
        raise errors.InvalidArgument(
            f"{path}: r, scale1, pyramid_sizes or noise_amp missing or malformed"
        )
    raw = header.read("pyramid_sizes")
    if any(not 1 <= side <= _MAX_SIDE for side in struct.unpack(f"<{len(raw) // 8}q", raw)):
        raise errors.InvalidArgument(f"{path}: pyramid_sizes holds an impossible size")
    if not 0.0 < _strtod(meta["r"]) < 1.0:
        raise errors.InvalidArgument(f"{path}: metadata r is not in (0, 1)")
    return len(raw) // 16


def check_checkpoint(name: str, gen_start_scale: int, scale_h: float, scale_v: float) -> None:
    """Raises InvalidArgument when file `name` is no SinGAN-Seg checkpoint that
    generate can start at gen_start_scale with these scale factors."""
    # the rule between the parameters first, as the CLI checks them before files
    if gen_start_scale > 0 and (scale_h != 1.0 or scale_v != 1.0):
        raise errors.InvalidArgument(
            f"gen_start_scale {gen_start_scale} keeps the real image's layout and so its size: "
            "use it with scale_h 1 and scale_v 1 (or gen_start_scale 0 to scale)"
        )
    header = read_header(name)
    found = header.metadata.get("format")
    if found != FORMAT:
        shown = "missing" if found is None else found
        raise errors.InvalidArgument(
            f"{name}: not a SinGAN-Seg checkpoint (metadata format is '{shown}', expected "
            f"'{FORMAT}')"
        )
    numbers = {key: _number(name, header.metadata, key, lo, hi) for key, lo, hi in _NUMBERS}
    trained = numbers["scales_trained"]
    scales = _scales(header, name, trained)
    what = f"--model {name}"
    if trained < scales:
        raise errors.InvalidArgument(
            f"{what}: only {trained} of its {scales} scales are trained (an unfinished "
            "training, or one stopped early with --stop-after-scale: train it to its last "
            "scale; segq-run train --resume goes on from its checkpoint)"
        )
    if gen_start_scale >= scales:
        raise errors.InvalidArgument(
            f"--gen-start-scale {gen_start_scale}: the model has scales 0..{scales - 1}"
        )


def check_generate(params: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
    """A generate submission's local model file (inputs as given to
    Client.submit; params with their defaults)."""
    model = local_file(inputs.get("model"))
    if model:
        check_checkpoint(
            model,
            int(params["gen_start_scale"]),
            float(params["scale_h"]),
            float(params["scale_v"]),
        )
