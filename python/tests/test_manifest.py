"""A local set's manifest.csv checked at submit by the Python client as
`segq submit` checks it (segq/_manifest.py mirrors
pipeline/stylize_manifest.c): an evaluate --synthetic set without one, or
with one that does not parse, and a stylize --content whose manifest does
not parse, are refused word for word as the CLI refuses them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segq

from .conftest import Lab, refusals

BROKEN = {
    "ragged": "name,source_image\ns0,p0.png\ns1\n",
    "unclosed": 'name,source_image\ns0,"p0.png\n',
    "nameless": "pair,source_image\ns0,p0.png\ns1,p1.png\n",
    "twice": "name,source_image\ns1,p1.png\ns0,p0.png\ns1,p0.png\n",
}


def _pairs(root: Path, names: list[str]) -> Path:
    rng = np.random.default_rng(len(names))
    for name in names:
        for sub, shape in (("images", (32, 32, 3)), ("masks", (32, 32))):
            (root / sub).mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(pixels).save(root / sub / f"{name}.png")
    return root


def test_a_synthetic_sets_manifest_is_checked_as_the_cli_checks_it(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    real = _pairs(tmp_path / "real", [f"p{i}" for i in range(4)])
    sets = {"missing": _pairs(tmp_path / "missing", ["s0", "s1"])}
    for why, text in BROKEN.items():
        sets[why] = _pairs(tmp_path / why, ["s0", "s1"])
        (sets[why] / "manifest.csv").write_text(text)
    expected = {
        "missing": f"--synthetic {sets['missing']}: no manifest.csv",
        "ragged": f"--synthetic: {sets['ragged']}/manifest.csv line 3: 1 fields, the header has 2",
        "unclosed": f"--synthetic: {sets['unclosed']}/manifest.csv line 3: quoted field not closed",
        "nameless": f"--synthetic: {sets['nameless']}/manifest.csv: no 'name' column in the header",
        "twice": f"--synthetic: {sets['twice']}/manifest.csv: pair 's1' is listed twice",
    }
    for why, folder in sets.items():
        with pytest.raises(segq.InvalidArgument) as refused:
            client.submit("evaluate", real=str(real), synthetic={"gen": str(folder)})
        python = str(refused.value).removesuffix(" [EINVAL]")
        cli = lab.cli_refusal("evaluate", "--real", str(real), "--synthetic", f"gen={folder}")
        assert python == cli and python.startswith(expected[why]), (why, python, cli)


def test_a_content_folders_manifest_is_checked_as_the_cli_checks_it(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    for why, text in BROKEN.items():
        content = _pairs(tmp_path / why, ["s0", "s1"])
        (content / "manifest.csv").write_text(text)
        argv = ["--content", str(content), "--vgg19", "000a"]
        python, cli = refusals(lab, client, "stylize", *argv)
        assert python == cli and python.startswith(f"{content}/manifest.csv"), (why, python, cli)
