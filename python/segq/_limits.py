"""The sizes segq-run decodes an image within, checked from its header
before any pixel is read, with segq__image_check_size's words
(pipeline/image/segq_image.c, limits in segq_image.h)."""

from __future__ import annotations

from . import errors

MAX_SIDE = 16384  # SEGQ_IMAGE_MAX_SIDE
MAX_PIXELS = 1 << 28  # SEGQ_IMAGE_MAX_PIXELS
MAX_BYTES = 1 << 30  # SEGQ_IMAGE_MAX_BYTES: memory decoding takes
TRAIN_MAX_PIXELS = 1 << 24  # SEGQ_IMAGE_TRAIN_MAX_PIXELS


def train_max_pixels(max_size: int) -> int:
    """A training image's limit: 16M pixels, or its finest scale if more
    (segq_image_read_training)."""
    return max(max_size * max_size, TRAIN_MAX_PIXELS)


def check_size(name: str, width: int, height: int, nbytes: int, max_pixels: int) -> None:
    """Raises InvalidArgument for a declared size of 0, or above the
    limits; nbytes: the memory decoding takes, 0 while not known."""
    if width == 0 or height == 0:
        raise errors.InvalidArgument(f"{name}: image is {width}x{height} pixels")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > max_pixels:
        raise errors.InvalidArgument(
            f"{name}: declared size {width}x{height} is above the limit ({MAX_SIDE} per side, "
            f"{max_pixels} pixels): refused"
        )
    if nbytes > MAX_BYTES:
        raise errors.InvalidArgument(
            f"{name}: declared size {width}x{height} takes {nbytes >> 20} MiB to decode, above "
            f"the limit of {MAX_BYTES >> 20} MiB: refused (make the image smaller)"
        )
