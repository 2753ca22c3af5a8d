"""stylize's local content without a style, checked at submit by the Python
client as `segq submit` checks it (segq/_style.py mirrors
segq_stylize_style_path): the same refusal, word for word, when the
content has no manifest, when a pair's source image is not in the folder,
and when the file of that name is another image; accepted when it is
there."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segq

from .conftest import Lab


def _png(path: Path, seed: int, channels: int = 3) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (16, 16, channels) if channels > 1 else (16, 16)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)


def _refusals(lab: Lab, client: segq.Client, content: Path, weights: Path) -> tuple[str, str]:
    """What Python and the CLI (with no broker: it refuses before sending)
    say of a stylize of content without a style."""
    with pytest.raises(segq.InvalidArgument) as refused:
        client.submit("stylize", content=str(content), vgg19=str(weights))
    said = lab.cli_refusal("stylize", "--content", str(content), "--vgg19", "000a")
    return str(refused.value).removesuffix(" [EINVAL]"), said


def test_local_content_needs_its_source_images(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    content, weights = tmp_path / "content", tmp_path / "vgg19.safetensors"
    weights.write_bytes(b"not needed: the job never runs")
    _png(content / "images" / "s0.png", 1)
    _png(content / "masks" / "s0.png", 2, channels=1)
    python, cli = _refusals(lab, client, content, weights)
    assert python == cli and "no manifest.csv to name its source image" in python, python
    _png(tmp_path / "real.png", 3)
    digest = hashlib.sha256((tmp_path / "real.png").read_bytes()).hexdigest()
    (content / "manifest.csv").write_text(
        f"name,source_image,source_image_sha256\ns0,real.png,{digest}\n"
    )
    python, cli = _refusals(lab, client, content, weights)
    assert python == cli and "'real.png' (manifest.csv) is not in --content" in python, python
    _png(content / "real.png", 4)  # another image of that name
    python, cli = _refusals(lab, client, content, weights)
    assert python == cli and "is not its source image" in python, python
    (content / "real.png").write_bytes((tmp_path / "real.png").read_bytes())
    # accepted: held off every worker (a petabyte of GPU memory), then cancelled; the
    # weights uploaded as they are (a local file would be checked, and this is none)
    vgg19 = client.upload(weights)
    job = client.submit("stylize", content=str(content), vgg19=vgg19, gpu_mem=1 << 50)
    job.cancel()
