"""A train submission's local image and mask, checked at submit by the
Python client from their headers (segq/_images.py) as `segq submit`
checks them: the same refusal, word for word, for a file that is no
image, a signature cut short, a mask of another size, and
mask_from_alpha on an image without alpha; accepted as PNG (palette with
tRNS, grey with alpha) and as the Kvasir-SEG JPEGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segq

from .conftest import DATA, Lab


def _image(path: Path, size: tuple[int, int], mode: str) -> Path:
    rng = np.random.default_rng(len(mode) + size[0])
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode).save(path)
    return path


def _refusals(lab: Lab, client: segq.Client, *argv: str) -> tuple[str, str]:
    """What Python and the CLI (with no broker: it refuses before sending)
    say of a train of these flags."""
    fields: dict[str, object] = {}
    for flag, value in zip(argv[::2], argv[1::2]):
        fields[flag.removeprefix("--").replace("-", "_")] = value
    if "mask_from_alpha" in fields:
        fields["mask_from_alpha"] = True
    with pytest.raises(segq.InvalidArgument) as refused:
        client.submit("train", **fields)
    said = lab.cli_refusal("train", *(a for a in argv if a != "true"))
    return str(refused.value).removesuffix(" [EINVAL]"), said


def test_bad_images_are_refused_in_the_clis_words(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    image = _image(tmp_path / "polyp.png", (32, 24), "RGB")
    text = tmp_path / "notes.png"
    text.write_text("hello")
    cut = tmp_path / "cut.png"
    cut.write_bytes(b"\x89PN")
    cases = [
        (("--image", str(text), "--mask", str(image)), "not a PNG or JPEG image (starts with"),
        (("--image", str(cut), "--mask", str(image)), "file ends inside the image signature"),
        (
            ("--image", str(image), "--mask", str(_image(tmp_path / "m.png", (30, 24), "L"))),
            "is 32x24 but",
        ),
        (
            (
                "--image",
                str(_image(tmp_path / "grey.png", (32, 24), "L")),
                "--mask-from-alpha",
                "true",
            ),
            "needs an image with an alpha channel, this one has 1 channel",
        ),
    ]
    for argv, words in cases:
        python, cli = _refusals(lab, client, *argv)
        assert python == cli and words in python, (python, cli)


def test_good_images_pass_the_header_check(tmp_path: Path) -> None:
    from segq._images import check_train

    name = sorted((DATA / "images").iterdir())[0].name
    check_train({}, {"image": DATA / "images" / name, "mask": DATA / "masks" / name})
    check_train({"mask_from_alpha": True}, {"image": _image(tmp_path / "a.png", (9, 9), "LA")})
    palette = tmp_path / "p.png"
    Image.new("P", (9, 9)).save(palette, transparency=0)
    check_train({"mask_from_alpha": True}, {"image": palette})
