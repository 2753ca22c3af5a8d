"""Local images checked at submit by the Python client (segq/_images.py
over _png.py, _jpeg.py and _pyramid.py) as `segq submit` checks them: the
same refusal, word for word, for a file that is no image, a signature cut
short, a PNG or JPEG cut short or damaged, an image above the size limits
(which follow max_size), a mask of another size, mask_from_alpha on an
image without alpha, an image too small or too large for the pyramid,
and a stylize content or style, or an evaluate pair, that does not
decode, and a PNG label mask (0/1) in every encoding and row filter;
accepted as PNG (palette with tRNS, grey with alpha, interlaced, 16-bit),
as progressive JPEG and as real data."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segq
from segq._images import check_train

from .conftest import DATA, Lab, refusals

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _image(path: Path, size: tuple[int, int], mode: str, **save: object) -> Path:
    rng = np.random.default_rng(len(mode) + size[0])
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode).save(path, **save)
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(path: Path, size: tuple[int, int], rows: bytes, color: int = 2) -> Path:
    """A PNG of 8-bit samples whose image data is `rows`, compressed."""
    header = struct.pack(">IIBBBBB", size[0], size[1], 8, color, 0, 0, 0)
    body = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows))
    path.write_bytes(PNG_SIGNATURE + body + _chunk(b"IEND", b""))
    return path


def _filtered(rows: list[bytes], step: int) -> bytes:
    """Rows of samples as PNG image data, row r with filter r % 5 (PNG 9.2),
    so one image holds each filter after each."""
    out, prior = b"", bytes(len(rows[0]))
    for r, row in enumerate(rows):
        kind, line = r % 5, bytearray(row)
        for i, value in enumerate(row):
            left = row[i - step] if i >= step else 0
            corner = prior[i - step] if i >= step else 0
            guess = left + prior[i] - corner
            paeth = min(
                (abs(guess - left), 0, left),
                (abs(guess - prior[i]), 1, prior[i]),
                (abs(guess - corner), 2, corner),
            )[2]
            line[i] = (value - (0, left, prior[i], (left + prior[i]) // 2, paeth)[kind]) & 255
        out, prior = out + bytes([kind]) + line, row
    return out


def _label_png(
    path: Path, values: list[list[int]], color: int, depth: int, **chunks: bytes
) -> Path:
    """A PNG whose pixels are `values` (a sample each: grey, or a palette
    index; RGB repeats it in each channel), with every row filter."""
    samples = 3 if color == 2 else 1
    rows = []
    for line in values:
        if depth < 8:
            bits = "".join(format(v, f"0{depth}b") for v in line)
            bits += "0" * (-len(bits) % 8)
            rows.append(int(bits, 2).to_bytes(len(bits) // 8, "big"))
        else:
            rows.append(b"".join(v.to_bytes(depth // 8, "big") * samples for v in line))
    header = struct.pack(">IIBBBBB", len(values[0]), len(values), depth, color, 0, 0, 0)
    data = _filtered(rows, max(1, samples * depth // 8))
    extra = b"".join(_chunk(kind.encode(), body) for kind, body in chunks.items())
    body = _chunk(b"IHDR", header) + extra + _chunk(b"IDAT", zlib.compress(data))
    path.write_bytes(PNG_SIGNATURE + body + _chunk(b"IEND", b""))
    return path


def _assert_same(lab: Lab, client: segq.Client, cases: list[tuple[tuple[str, ...], str]]) -> None:
    for argv, words in cases:
        python, cli = refusals(lab, client, "train", *argv)
        assert python == cli and words in python, (argv, python, cli)


def test_bad_images_are_refused_in_the_clis_words(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    image = _image(tmp_path / "polyp.png", (32, 24), "RGB")
    text = tmp_path / "notes.png"
    text.write_text("hello")
    cut = tmp_path / "cut.png"
    cut.write_bytes(b"\x89PN")
    grey = _image(tmp_path / "grey.png", (32, 24), "L")
    other = _image(tmp_path / "m.png", (30, 24), "L")
    _assert_same(
        lab,
        client,
        [
            (("--image", str(text), "--mask", str(image)), "not a PNG or JPEG image (starts with"),
            # a file is named as it was given
            (("--image", f"{tmp_path}/./notes.png", "--mask", str(image)), "/./notes.png: not a"),
            (("--image", str(cut), "--mask", str(image)), "file ends inside the image signature"),
            (("--image", str(image), "--mask", str(other)), "is 32x24 but"),
            (
                ("--image", str(grey), "--mask-from-alpha", "true"),
                "needs an image with an alpha channel, this one has 1 channel",
            ),
        ],
    )


def test_images_that_do_not_decode_whole_are_refused_in_the_clis_words(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    mask = _image(tmp_path / "mask.png", (40, 32), "L")
    good = _image(tmp_path / "polyp.png", (40, 32), "RGB").read_bytes()
    good_jpeg = _image(tmp_path / "polyp.jpg", (40, 32), "RGB").read_bytes()
    progressive = _image(tmp_path / "p.jpg", (40, 32), "RGB", progressive=True).read_bytes()
    last_scan = progressive.rindex(b"\xff\xda")  # then its data, then EOI
    idat = good.index(b"IDAT")
    flipped = bytearray(good)  # the IDAT's CRC
    flipped[idat + 4 + int.from_bytes(good[idat - 4 : idat], "big")] ^= 0x10
    row = bytes(1 + 40 * 3)
    bad = {
        "cut.png": good[: len(good) * 3 // 4],
        "no-iend.png": good[:-12],
        "flipped.png": bytes(flipped),
        "header.png": good[:20],
        "cut.jpg": good_jpeg[: len(good_jpeg) // 2],
        "no-eoi.jpg": good_jpeg[:-2],
        "no-scan.jpg": good_jpeg[: good_jpeg.index(b"\xff\xda")] + b"\xff\xd9",
        # libjpeg only warns of a scan repeated; each is one more pass
        "scans.jpg": progressive[:last_scan] + progressive[last_scan:-2] * 300 + b"\xff\xd9",
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    _png(tmp_path / "short.png", (40, 32), row * 31)
    _png(tmp_path / "filter.png", (40, 32), (b"\x07" + row[1:]) * 32)
    _image(tmp_path / "cmyk.jpg", (40, 32), "CMYK")
    huge = _png(tmp_path / "huge.png", (5000, 4000), row)
    cases = [
        ("cut.png", "truncated PNG: file ends early"),
        ("no-iend.png", "truncated PNG: file ends early"),
        ("flipped.png", "corrupt PNG: IDAT: CRC error"),
        ("header.png", "PNG ends before its header (20 bytes)"),
        ("short.png", "corrupt PNG: Not enough image data"),
        ("filter.png", "corrupt PNG: bad adaptive filter value"),
        ("cut.jpg", "truncated JPEG: file ends early"),
        ("no-eoi.jpg", "truncated JPEG: file ends early"),
        ("no-scan.jpg", "corrupt JPEG: Invalid JPEG file structure: missing SOS marker"),
        ("cmyk.jpg", "CMYK JPEG is not supported: convert it to RGB"),
        ("scans.jpg", "corrupt JPEG: more than 256 progressive scans"),
        ("huge.png", "declared size 5000x4000 is above the limit (16384 per side, 16777216"),
    ]
    argv = [(("--image", str(tmp_path / name), "--mask", str(mask)), says) for name, says in cases]
    # the limit is max_size x max_size where that is more than 16M pixels
    argv.append((("--image", str(huge), "--mask", str(huge), "--max-size", "4500"), "Not enough"))
    _assert_same(lab, client, argv)


def test_each_cut_of_a_png_and_a_jpeg_is_refused_in_the_clis_words(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    mask = _image(tmp_path / "mask.png", (40, 32), "L")
    for name, save in (("i.png", {}), ("i.jpg", {}), ("p.jpg", {"progressive": True})):
        data = _image(tmp_path / name, (40, 32), "RGB", **save).read_bytes()
        for n in range(1, 6):
            cut = tmp_path / f"{n}-{name}"
            cut.write_bytes(data[: len(data) * n // 6])
            python, cli = refusals(lab, client, "train", "--image", str(cut), "--mask", str(mask))
            assert python == cli and "truncated" in python, (python, cli)


def test_images_too_small_or_too_large_for_the_pyramid_are_refused_in_the_clis_words(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    small = str(_image(tmp_path / "small.png", (20, 20), "RGB"))
    wide = str(_image(tmp_path / "wide.png", (64, 48), "RGB"))
    _assert_same(
        lab,
        client,
        [
            (
                ("--image", small, "--mask", small),
                f"{small}: pyramid: a 20x20 image is not larger than min_size 25, so there is "
                "no scale to train; give a larger image",
            ),
            (
                ("--image", wide, "--mask", wide, "--max-size", "30"),
                "pyramid: a 64x48 image resized to 30x23 (max_size 30)",
            ),
            (
                ("--image", wide, "--mask", wide, "--min-size", "11", "--scale-factor", "0.99"),
                f"{wide}: pyramid: 149 scales needed, at most 64 supported; raise --min-size",
            ),
        ],
    )


def test_stylize_and_evaluate_images_that_do_not_decode_whole_are_refused_in_the_clis_words(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    good = _image(tmp_path / "good.png", (40, 32), "RGB").read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(good[: len(good) // 2])
    content = tmp_path / "content"
    (content / "images").mkdir(parents=True)
    (content / "masks").mkdir()
    (content / "images" / "s0.png").write_bytes(cut.read_bytes())
    _image(content / "masks" / "s0.png", (40, 32), "L")
    real = tmp_path / "real"
    (real / "images").mkdir(parents=True)
    (real / "masks").mkdir()
    _image(real / "images" / "p0.png", (40, 32), "RGB")
    _image(real / "masks" / "p0.png", (40, 30), "L")
    truncated = "truncated PNG: file ends early"
    cases = [
        (
            ["stylize", "--content", str(content), "--style", str(cut), "--vgg19", "000a"],
            f"{content}/images/s0.png: {truncated}",
        ),
        (["stylize", "--content", "000a", "--style", str(cut), "--vgg19", "000a"], truncated),
        (
            ["evaluate", "--real", str(real)],
            f"{real}/images/p0.png is 40x32 but {real}/masks/p0.png is 40x30: image and mask "
            "must have the same size",
        ),
    ]
    for (kind, *argv), words in cases:
        python, cli = refusals(lab, client, kind, *argv)
        assert python == cli and python.endswith(words), (python, cli)


def test_label_masks_are_refused_in_the_clis_words(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    image = _image(tmp_path / "polyp.png", (41, 32), "RGB")
    # four classes at random, so that Paeth's predictor picks each neighbour
    labels = np.random.default_rng(3).integers(0, 4, (32, 41)).tolist()
    ones = [[min(v, 1) for v in line] for line in labels]
    palette = bytes([0, 0, 0, 1, 1, 1, 2, 2, 2, 4, 3, 2])  # index 3: luminance 3 (Rec. 601)
    masks = {
        "grey8.png": (_label_png(tmp_path / "grey8.png", labels, 0, 8), 3, 127),
        "grey16.png": (_label_png(tmp_path / "grey16.png", labels, 0, 16), 3, 32767),
        "rgb8.png": (_label_png(tmp_path / "rgb8.png", labels, 2, 8), 3, 127),
        "rgb16.png": (_label_png(tmp_path / "rgb16.png", labels, 2, 16), 3, 32767),
        # 2-bit grey is scaled to 8 bits: 1 is 85
        "grey2.png": (_label_png(tmp_path / "grey2.png", ones, 0, 2), 85, 127),
        "palette4.png": (_label_png(tmp_path / "palette4.png", labels, 3, 4, PLTE=palette), 3, 127),
    }
    cases = []
    for name, (mask, largest, half) in masks.items():
        full = 2 * half + 1
        says = (
            f"{mask}: the mask's largest value is {largest}, so it would read as empty: masks are "
            f"binarised at > {half}; scale it to 0/{full} (a 0/1 mask times {full})"
        )
        cases.append((("--image", str(image), "--mask", str(mask)), says))
    _assert_same(lab, client, cases)
    # 1-bit grey is scaled to 8 bits (1 is 255); one pixel above half, in the
    # last row behind every filter: masks, accepted
    train = client.kind("train").with_defaults({})
    check_train(train, {"image": image, "mask": _label_png(tmp_path / "b.png", ones, 0, 1)})
    labels[-1][-1] = 200
    check_train(train, {"image": image, "mask": _label_png(tmp_path / "m.png", labels, 2, 8)})


def _interlaced_rgb(path: Path, size: tuple[int, int]) -> Path:
    """An Adam7 PNG (Pillow writes none): each pass's rows, unfiltered."""
    width, height = size
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
    rows = b""
    for x0, y0, dx, dy in (*passes, (0, 1, 1, 2)):
        columns, count = max(0, -(-(width - x0) // dx)), max(0, -(-(height - y0) // dy))
        if columns:  # bright enough to be a mask too
            rows += (b"\x00" + bytes(i * 7 % 256 for i in range(3 * columns))) * count
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    data = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows))
    path.write_bytes(PNG_SIGNATURE + data + _chunk(b"IEND", b""))
    return path


def test_good_images_pass(client: segq.Client, tmp_path: Path) -> None:
    train = client.kind("train")
    names = sorted((DATA / "images").iterdir())[:20]
    for image in names:
        check_train(train.with_defaults({}), {"image": image, "mask": DATA / "masks" / image.name})
    orig = DATA.parent / "kvasir-seg-orig"
    for image in sorted((orig / "images").iterdir()):
        check_train(train.with_defaults({}), {"image": image, "mask": orig / "masks" / image.name})
    alpha = train.with_defaults({"mask_from_alpha": True})
    check_train(alpha, {"image": orig / "polyp_with_4_channels.png"})
    check_train(alpha, {"image": _image(tmp_path / "a.png", (40, 40), "LA")})
    palette = tmp_path / "p.png"
    Image.new("P", (40, 40)).save(palette, transparency=0)
    check_train(alpha, {"image": palette})
    deep = tmp_path / "deep.png"
    Image.fromarray(np.arange(40 * 30, dtype=np.uint16).reshape(30, 40) * 50).save(deep)
    check_train(train.with_defaults({}), {"image": deep, "mask": deep})
    laced = _interlaced_rgb(tmp_path / "laced.png", (41, 37))
    check_train(train.with_defaults({}), {"image": laced, "mask": laced})
    progressive = _image(tmp_path / "p.jpg", (40, 40), "RGB", progressive=True)
    check_train(train.with_defaults({}), {"image": progressive, "mask": progressive})


def test_a_mask_given_by_reference_leaves_the_image_checked(
    client: segq.Client, tmp_path: Path
) -> None:
    train = client.kind("train").with_defaults({})
    small = _image(tmp_path / "small.png", (20, 20), "RGB")
    with pytest.raises(segq.InvalidArgument, match="pyramid: a 20x20 image"):
        check_train(train, {"image": small, "mask": "000a"})
    check_train(train, {"image": _image(tmp_path / "ok.png", (40, 40), "RGB"), "mask": "000a"})
