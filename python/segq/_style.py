"""stylize's local content checked at submit, as `segq submit` checks it
(segq_stylize_style_path in pipeline/stylize_manifest.c, with the same
words): without a style, each pair takes the source image its manifest
row names, and a job holds nothing of it but what the content folder
has. A folder without it (or with another file of that name) would fail
on the worker."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import errors
from ._folds import Unknown, _manifest, _sha256, dataset_pairs


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


def check_stylize(inputs: Mapping[str, Any]) -> None:
    """A stylize submission's local content (inputs as given to
    Client.submit): with no style, each pair's source image in it."""
    content = inputs.get("content")
    if inputs.get("style") is not None or not isinstance(content, (str, os.PathLike)):
        return
    folder = Path(content)
    if not folder.is_dir():
        return
    try:
        pairs = dataset_pairs(folder)
        rows = _manifest(folder) if (folder / "manifest.csv").exists() else None
    except Unknown:
        return  # what the folder holds is segq-run's to say
    for name, _ in pairs:
        _source_path(folder, name, None if rows is None else rows.get(name, {}))
