"""stylize's local content and style checked at submit, as `segq submit`
checks them (s_check_stylize in client/cli/cli_check.c, with the same
words): each pair's image and the style decode whole (_images.py), and
without a style each pair takes the source image its manifest row names
(segq_stylize_style_path in pipeline/stylize_manifest.c), of which a job
holds nothing but what the content folder has. A folder without it (or
with another file of that name) would fail on the worker."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import errors
from ._folds import Unknown, _sha256, dataset_pairs
from ._images import read_image
from ._manifest import ManifestError
from ._manifest import read as read_manifest
from ._submit import local_file


def _source_path(folder: Path, name: str, row: Mapping[str, str] | None) -> Path:
    source = (row or {}).get("source_image") or ""
    if not source:
        what = (
            "--content's manifest.csv does not name"
            if row is not None
            else "--content has no manifest.csv to name"
        )
        raise errors.InvalidArgument(
            f"pair '{name}': {what} its source image (column source_image) to take the style "
            "from; give --style IMAGE"
        )
    path = folder / source
    if not path.is_file():
        raise errors.InvalidArgument(
            f"pair '{name}': its source image '{source}' (manifest.csv) is not in --content "
            f"{folder}; pass --style IMAGE"
        )
    want = (row or {}).get("source_image_sha256") or ""
    have = _sha256(path) if want else ""
    if want and have != want:
        raise errors.InvalidArgument(
            f"pair '{name}': {path} is not its source image (sha256 {have[:12]}..., the "
            f"manifest says {want[:12]}...)"
        )
    return path


def _check_content(folder: Path, style_given: bool) -> None:
    """Each pair's image decodes whole and, without a style, its source
    image is in the folder (s_check_content in cli_check.c)."""
    try:
        pairs = dataset_pairs(folder)
    except Unknown:
        return  # what the folder holds is segq-run's to say
    try:
        rows = read_manifest(folder)
    except ManifestError as e:
        raise errors.InvalidArgument(str(e)) from None
    for name, image, _ in pairs:
        read_image(str(image))
        if not style_given:
            _source_path(folder, name, None if rows is None else rows.get(name, {}))


def check_stylize(inputs: Mapping[str, Any]) -> None:
    """A stylize submission's local content and style (inputs as given to
    Client.submit)."""
    content, style = inputs.get("content"), inputs.get("style")
    if isinstance(content, (str, os.PathLike)) and Path(content).is_dir():
        _check_content(Path(content), style is not None)
    style_file = local_file(style)
    if style_file:
        read_image(style_file)
