"""Local images checked at submit as `segq submit` checks them
(client/cli/cli_check.c), with its words: each decoded whole as
segq_image_read_file reads it (a PNG or JPEG, within the size limits:
pipeline/image/segq_image.c; the formats in _png.py and _jpeg.py); a
train's image and mask as segq_image_read_training reads them
(pipeline/image/segq_image_training.c: the same size, an alpha channel
for mask_from_alpha, a PNG mask's levels), with the pyramid they make
(_pyramid.py); and each pair of evaluate's local sets as
segq_image_read_labelled reads it. A JPEG mask's levels are left to
segq-run: this module checks a JPEG's structure, it does not decode it."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import errors
from ._folds import Unknown, dataset_pairs, dataset_parts
from ._jpeg import read_jpeg
from ._limits import MAX_PIXELS, train_max_pixels
from ._manifest import ManifestError
from ._manifest import read as read_manifest
from ._png import Levels, read_png
from ._pyramid import check_pyramid
from ._submit import local_file

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_MAX_FILE_BYTES = 1 << 30  # a larger file holds no image within the limits


def _read_file(name: str) -> bytes:
    """A file's bytes, or the words segq_image_read_file has for why not."""
    try:
        with open(name, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise errors.InvalidArgument(f"{name}: not a regular file")
            if info.st_size > _MAX_FILE_BYTES:
                raise errors.InvalidArgument(f"{name}: file of {info.st_size} bytes is too large")
            return f.read()
    except IsADirectoryError:
        raise errors.InvalidArgument(f"{name}: not a regular file") from None
    except OSError as e:
        raise errors.InvalidArgument(f"{name}: cannot open: {e.strerror}") from e


def read_image(
    name: str, max_pixels: int = MAX_PIXELS, levels: Levels | None = None
) -> tuple[int, int, int]:
    """(width, height, channels as segq-run decodes it) of a local image
    that decodes whole within the limits; InvalidArgument, in segq-run's
    words, when it does not. With levels, a PNG's largest level there."""
    data = _read_file(name)
    if data.startswith(_PNG):
        return read_png(data, name, max_pixels, levels)
    if data.startswith(_JPEG):
        return read_jpeg(data, name, max_pixels)
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


def read_labelled(image: str, mask: str, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) of an image and its mask that both decode whole, of
    the same size, the mask no label mask (segq_image_read_labelled)."""
    width, height, _ = read_image(image, max_pixels)
    levels = Levels()
    mask_width, mask_height, _ = read_image(mask, max_pixels, levels)
    if (mask_width, mask_height) != (width, height):
        raise errors.InvalidArgument(
            f"{image} is {width}x{height} but {mask} is {mask_width}x{mask_height}: image and "
            "mask must have the same size"
        )
    _check_mask_levels(mask, levels)
    return width, height


def _check_mask_levels(mask: str, levels: Levels) -> None:
    """A 0/1 (or few-class) label mask reads as empty once binarised:
    refused as segq_image_check_mask_levels refuses it."""
    if 0 < levels.largest <= levels.half:
        full = 2 * levels.half + 1
        raise errors.InvalidArgument(
            f"{mask}: the mask's largest value is {levels.largest}, so it would read as empty: "
            f"masks are binarised at > {levels.half}; scale it to 0/{full} (a 0/1 mask times "
            f"{full})"
        )


def check_train(params: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
    """A train submission's local image and mask (inputs as given to
    Client.submit; params with their defaults). A mask that is no local
    file (a job's output) is left to the broker; the image is checked
    all the same, as segq-run would read it."""
    image = local_file(inputs.get("image"))
    if image is None:
        return
    from_alpha = bool(params["mask_from_alpha"])
    mask = None if from_alpha else local_file(inputs.get("mask"))
    max_pixels = train_max_pixels(int(params["max_size"]))
    if mask:
        width, height = read_labelled(image, mask, max_pixels)
    else:
        width, height, channels = read_image(image, max_pixels)
        if from_alpha and channels not in (2, 4):
            raise errors.InvalidArgument(
                f"{image}: --mask-from-alpha needs an image with an alpha channel, this one "
                f"has {channels} channel{'' if channels == 1 else 's'}"
            )
    check_pyramid(
        image,
        height,
        width,
        int(params["min_size"]),
        int(params["max_size"]),
        float(params["scale_factor"]),
    )


def _check_manifest(part: Path, what: str) -> None:
    """A synthetic set's manifest (segq_manifest_read_set)."""
    try:
        rows = read_manifest(part)
    except ManifestError as e:
        raise errors.InvalidArgument(f"{what}: {e}") from None
    if rows is None:
        raise errors.InvalidArgument(
            f"{what} {part}: no manifest.csv (a synthetic set must be a generate or stylize "
            "output, whose manifest names each pair's source image)"
        )


def _check_set(folder: Path, what: str) -> None:
    """Each pair of a local set, part by part, as segq-run evaluate reads
    them, and a synthetic set's manifests (s_check_set in cli_check.c)."""
    for part in dataset_parts(folder):
        try:
            pairs = dataset_pairs(part)
        except Unknown:
            return  # what the part holds is segq-run's to say
        for _, image, mask in pairs:
            read_labelled(str(image), str(mask))
        if what == "--synthetic":
            _check_manifest(part, what)


def check_evaluate_sets(inputs: Mapping[str, Any]) -> None:
    """An evaluate submission's local sets (--real, --test, each
    --synthetic set), in the order given: every pair decodes whole, image
    and mask of the same size; a synthetic set has a manifest that parses."""
    for name, value in inputs.items():
        sets = value.values() if name == "synthetic" and isinstance(value, Mapping) else [value]
        for folder in sets:
            if isinstance(folder, (str, os.PathLike)) and Path(folder).is_dir():
                _check_set(Path(folder), "--" + name)
