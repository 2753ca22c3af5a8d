"""A train submission's local image and mask checked at submit from their
headers, with the words `segq submit` uses (pipeline/image/segq_image.c):
each a PNG or JPEG, both the same size, an alpha channel for
mask_from_alpha. Their pixels are not decoded here: a file cut short or
corrupt inside is said by segq-run on the worker (the CLI decodes it)."""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import errors

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
# JPEG start-of-frame markers: every SOFn but DHT (C4), JPG (C8) and DAC (CC)
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# PNG colour type -> channels as decoded (tRNS adds one: png_set_expand)
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


def _png(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, channels) from IHDR and a tRNS before IDAT."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    width, height, _, color = struct.unpack(">IIBB", data[16:26])
    channels = _PNG_CHANNELS.get(color)
    at = 33
    while channels is not None and at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind in (b"IDAT", b"IEND"):
            break
        if kind == b"tRNS" and color in (0, 2, 3):
            channels += 1
            break
        at += 12 + length
    return (width, height, channels) if channels else None


def _jpeg(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, channels) from the first start-of-frame."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if 0xD0 <= marker <= 0xD9 or marker == 0x01:  # no length
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _SOF and at + 10 <= len(data):
            height, width, components = struct.unpack(">HHB", data[at + 5 : at + 10])
            return width, height, 1 if components == 1 else 3
        at += 2 + length
    return None


def image_header(path: Path) -> tuple[int, int, int] | None:
    """(width, height, channels as segq-run decodes it) of a local image,
    None when its header cannot tell (segq-run says what is wrong);
    InvalidArgument, in the CLI's words, when it is no PNG or JPEG."""
    data = path.read_bytes()
    name = str(path)
    if data.startswith(_PNG):
        return _png(data)
    if data.startswith(_JPEG):
        return _jpeg(data)
    if not data:
        raise errors.InvalidArgument(f"{name}: empty file, not an image")
    if _PNG.startswith(data) or _JPEG.startswith(data):
        raise errors.InvalidArgument(
            f"{name}: file ends inside the image signature ({len(data)} bytes)"
        )
    head = " ".join(f"{b:02x}" for b in (data + bytes(4))[:4])
    raise errors.InvalidArgument(
        f"{name}: not a PNG or JPEG image (starts with {head}); convert it to PNG"
    )


def _local(value: Any) -> Path | None:
    if not isinstance(value, (str, os.PathLike)):
        return None
    path = Path(value)
    return path if path.is_file() else None


def check_train(params: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
    """A train submission's local image and mask (inputs as given to
    Client.submit; params with their defaults): what their headers show."""
    image, mask = _local(inputs.get("image")), _local(inputs.get("mask"))
    shape = image_header(image) if image else None
    mask_shape = image_header(mask) if mask else None
    if params.get("mask_from_alpha") and shape and shape[2] not in (2, 4):
        raise errors.InvalidArgument(
            f"{image}: --mask-from-alpha needs an image with an alpha channel, this one has "
            f"{shape[2]} channel{'' if shape[2] == 1 else 's'}"
        )
    if shape and mask_shape and shape[:2] != mask_shape[:2]:
        raise errors.InvalidArgument(
            f"{image} is {shape[0]}x{shape[1]} but {mask} is {mask_shape[0]}x{mask_shape[1]}: "
            "image and mask must have the same size"
        )
