"""generate's local --model, checked at submit by the Python client from
its header (segq/_ckpt.py over segq/_safetensors.py) as `segq submit
generate` checks it: the same refusal, word for word, for a file that is
no safetensors file, a header that does not add up, a checkpoint of
another format, a number missing, malformed or out of range, the
pyramid's tensors missing or impossible, an unfinished training, and a
--gen-start-scale the model does not have; a finished model is accepted.
The checkpoints are written here as tests/common/test_files.c and
tests/pipeline/test_ckpt_header.c write theirs (CHECKPOINT.md)."""

from __future__ import annotations

import struct
from pathlib import Path

import segq

from .conftest import Lab, refusals
from .safetensors_files import write_safetensors

# a finished two-scale model of a 30x40 image
META = {
    "format": "segq-singan-seg",
    "format_version": "1",
    "scales_trained": "2",
    "num_scales": "2",
    "num_layer": "5",
    "ker_size": "3",
    "pad": "5",
    "height": "30",
    "width": "40",
    "nfc": "32",
    "nfc_max": "32",
    "r": "0.8",
    "scale1": "1",
}
SIZES = ((24, 32), (30, 40))


def _checkpoint(
    path: Path,
    sizes: tuple[tuple[int, int], ...] = SIZES,
    amps: tuple[float, ...] = (1.0, 0.1),
    **meta: str | None,
) -> Path:
    """A checkpoint's header and pyramid (no networks: the check reads
    none); meta replaces entries of META, None leaves one out."""
    metadata = {k: v for k, v in {**META, **meta}.items() if v is not None}
    flat = [side for size in sizes for side in size]
    tensors = {
        "noise_amp": ("F64", (len(amps),), struct.pack(f"<{len(amps)}d", *amps)),
        "pyramid_sizes": ("I64", (len(sizes), 2), struct.pack(f"<{len(flat)}q", *flat)),
    }
    return write_safetensors(path, tensors, metadata)


def test_bad_models_are_refused_in_the_clis_words(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    text = tmp_path / "notes.safetensors"
    text.write_text("not a model at all")
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(b"\x05\x00")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(_checkpoint(tmp_path / "whole.safetensors").read_bytes()[:-8])
    odd = tmp_path / "odd.safetensors"
    odd.write_bytes(b"\x08" + bytes(7) + b"[1,2,3]\n")
    unfinished = _checkpoint(tmp_path / "u.safetensors", scales_trained="1", amps=(1.0,))
    cases = [
        (text, {}, "header length 8029109312199880558 is above the 100000000-byte limit"),
        (tiny, {}, "2 bytes, shorter than the 8-byte header length"),
        (cut, {}, "tensors cover 48 bytes but the byte buffer has 40 (file truncated)"),
        (odd, {}, "header does not start with '{': not a safetensors file"),
        (
            _checkpoint(tmp_path / "f.safetensors", format=None),
            {},
            "not a SinGAN-Seg checkpoint (metadata format is 'missing', expected "
            "'segq-singan-seg')",
        ),
        (_checkpoint(tmp_path / "e.safetensors", format=""), {}, "(metadata format is '',"),
        (
            _checkpoint(tmp_path / "s.safetensors", scales_trained="65"),
            {},
            "metadata 'scales_trained' is malformed (expected an integer in 0..64)",
        ),
        (_checkpoint(tmp_path / "k.safetensors", ker_size=" 3x"), {}, "'ker_size' is malformed"),
        (_checkpoint(tmp_path / "n.safetensors", nfc_max=None), {}, "'nfc_max' is missing"),
        (
            _checkpoint(tmp_path / "r.safetensors", r=None),
            {},
            "r, scale1, pyramid_sizes or noise_amp missing or malformed",
        ),
        (_checkpoint(tmp_path / "a.safetensors", amps=(1.0,)), {}, "or noise_amp missing"),
        (_checkpoint(tmp_path / "r2.safetensors", r="1.5"), {}, "metadata r is not in (0, 1)"),
        (
            _checkpoint(tmp_path / "z.safetensors", sizes=((0, 32), (30, 40))),
            {},
            "pyramid_sizes holds an impossible size",
        ),
        (
            unfinished,
            {},
            f"--model {unfinished}: only 1 of its 2 scales are trained (an unfinished training, "
            "or one stopped early with --stop-after-scale: train it to its last scale; "
            "segq-run train --resume goes on from its checkpoint)",
        ),
        (
            _checkpoint(tmp_path / "g.safetensors"),
            {"--gen-start-scale": "2"},
            "--gen-start-scale 2: the model has scales 0..1",
        ),
        (
            _checkpoint(tmp_path / "h.safetensors"),
            {"--gen-start-scale": "1", "--scale-h": "2"},
            "gen_start_scale 1 keeps the real image's layout and so its size",
        ),
    ]
    for model, flags, words in cases:
        argv = ["--model", str(model), *(x for pair in flags.items() for x in pair)]
        python, cli = refusals(lab, client, "generate", *argv)
        assert python == cli and words in python, (python, cli)


def test_json_that_is_no_header_is_refused(lab: Lab, client: segq.Client, tmp_path: Path) -> None:
    """Refused by both, in words of their own: jansson's and Python's."""
    for text in (b'{"a":1,"a":2}', b'{"x":NaN}', b'{"x":'):
        model = tmp_path / "m.safetensors"
        model.write_bytes(struct.pack("<Q", len(text)) + text)
        python, cli = refusals(lab, client, "generate", "--model", str(model))
        prefix = f"{model}: header is not valid JSON: "
        assert python.startswith(prefix) and cli.startswith(prefix), (python, cli)


def test_a_finished_model_is_accepted(client: segq.Client, tmp_path: Path) -> None:
    model = _checkpoint(tmp_path / "model.safetensors", scale1="0.5")
    # held off every worker (a petabyte of GPU memory), then cancelled
    job = client.generate(str(model), count=1, gen_start_scale=1, gpu_mem=1 << 50)
    job.cancel()


def test_a_count_whose_pairs_would_not_fit_is_refused_by_the_broker(
    client: segq.Client, tmp_path: Path
) -> None:
    """The broker reads the training image's name from the uploaded file's
    header: 14,893 pairs of a.png fit a RESULT of the default max_msg with a
    seed it draws, one more does not (as from a catalogue model: the CLI's
    test in tests/client/test_cli_broker.c)."""
    model = _checkpoint(tmp_path / "model.safetensors", source_image="a.png")
    try:
        client.generate(str(model), count=14894, gpu_mem=1 << 50)
    except segq.TooBig as refused:
        assert "count 14894: " in str(refused) and "at most 14893 pairs" in str(refused), refused
    else:
        raise AssertionError("a generate of 14894 pairs was accepted")
    client.generate(str(model), count=14893, gpu_mem=1 << 50).cancel()
