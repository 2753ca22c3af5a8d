"""The SinGAN pyramid a training image makes, checked at submit as `segq
submit train` checks it: segq_pyramid_plan (pipeline/pyramid.c), with the
same double arithmetic (math.log, math.pow and math.ceil are C's) and the
same words. Its refusal of parameters out of range is not here: the kind
table's ranges and the image check (no image is 0 pixels) rule it out."""

from __future__ import annotations

import math

from . import errors

MAX_SCALES = 64  # SEGQ_PYRAMID_MAX_SCALES


def check_pyramid(
    name: str, height: int, width: int, min_size: int, max_size: int, scale_factor: float
) -> None:
    """Raises InvalidArgument ("NAME: pyramid: ...") when the image `name`,
    of this size, has no scale to train or needs more scales than segq-run
    has."""
    big, small = max(height, width), min(height, width)
    num_scales = math.ceil(math.log(math.pow(min_size / small, 1)) / math.log(scale_factor)) + 1
    scale2stop = math.ceil(math.log(min(max_size, big) / big) / math.log(scale_factor))
    stop_scale = num_scales - scale2stop
    scale1 = min(max_size / big, 1.0)
    finest_h, finest_w = math.ceil(height * scale1), math.ceil(width * scale1)
    if (min(finest_h, finest_w) <= min_size or stop_scale < 1) and scale1 >= 1.0:
        # not resized: no --max-size helps, only a larger image
        raise errors.InvalidArgument(
            f"{name}: pyramid: a {width}x{height} image is not larger than min_size {min_size}, "
            "so there is no scale to train; give a larger image, or a --min-size below its "
            "shorter side"
        )
    if min(finest_h, finest_w) <= min_size or stop_scale < 1:
        raise errors.InvalidArgument(
            f"{name}: pyramid: a {width}x{height} image resized to {finest_w}x{finest_h} (max_size "
            f"{max_size}) is not larger than min_size {min_size}, so there is no scale to "
            "train; lower --min-size or raise --max-size"
        )
    if stop_scale + 1 > MAX_SCALES:
        raise errors.InvalidArgument(
            f"{name}: pyramid: {stop_scale + 1} scales needed, at most {MAX_SCALES} supported; "
            "raise --min-size"
        )
