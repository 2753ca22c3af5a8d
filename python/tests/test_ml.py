"""A tiny real training and generation (segq-run, libtorch on the CPU) through
the queue: train on a 256x256 Kvasir-SEG image at 12..24 pixels, a few
iterations a scale (tests/e2e/test_train_queue.c's settings), then generate
from the model by its catalogue name and read the pairs as arrays."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import segq

from .conftest import DATA, Lab, binary

SAMPLE = "cju0qkwl35piu0993l0dewei2.jpg"
TINY: dict[str, Any] = {
    "max_size": 24,
    "min_size": 12,
    "niter": 15,
    "previews": 0,
    "nfc": 8,
    "nfc_max": 8,
    "seed": 3,
}


@pytest.fixture(scope="module")
def trained(lab: Lab) -> Iterator[tuple[segq.Client, segq.Job]]:
    binary("segq-run")  # what the worker runs train and generate with
    image, mask = DATA / "images" / SAMPLE, DATA / "masks" / SAMPLE
    if not image.exists() or not mask.exists():
        pytest.fail(f"{image} or its mask is missing: the shared test data is expected at {DATA}")
    with lab.client() as client:
        job = client.submit(
            "train", image=image, mask=mask, name="pytest-polyp", cpu_slots=1, **TINY
        )
        job.wait(progress=False, timeout=300)
        yield client, job


def test_training_registers_a_model(trained: tuple[segq.Client, segq.Job]) -> None:
    client, train = trained
    status = train.status()
    assert "model.safetensors" in [o.name for o in status.outputs]
    assert [i.name for i in status.inputs] == [f"image/{SAMPLE}", f"mask/{SAMPLE}"]
    model = client.model("pytest-polyp")
    assert (model.job, model.owner, model.image, model.mask) == (train.id, "tester", SAMPLE, SAMPLE)
    assert (model.height, model.width) == (24, 24) and model.scales >= 2
    checkpoint = next(o for o in status.outputs if o.name == "model.safetensors")
    assert model.checkpoint_sha256 == checkpoint.sha256
    assert model.params["niter"] == 15 and model.params["name"] == "pytest-polyp"
    assert model.id in [m.id for m in client.models()]
    assert client.models(tag="no-such-tag") == []


def test_generate_by_model_name_gives_pairs(
    trained: tuple[segq.Client, segq.Job], tmp_path: Path
) -> None:
    client, _ = trained
    model = client.model("pytest-polyp")
    sleeper = client.submit("sleep", seconds=60)
    waiting = client.generate("pytest-polyp", count=1, cpu_slots=1, after=[sleeper])
    with pytest.raises(segq.StateError, match="its pairs exist once it has succeeded"):
        next(waiting.pairs())
    waiting.cancel()
    sleeper.cancel()
    job = client.generate("pytest-polyp", count=2, cpu_slots=1)
    status = job.wait(progress=False, timeout=180)
    (model_input,) = status.inputs
    assert (model_input.model, model_input.sha256) == (model.id, model.checkpoint_sha256)
    pairs = list(job.pairs())
    assert len(pairs) == 2
    for image, mask in pairs:
        assert image.shape == (model.height, model.width, 3) and image.dtype == np.uint8
        assert mask.shape == (model.height, model.width) and mask.dtype == np.uint8
        assert set(np.unique(mask)) <= {0, 255}
        # the caller's own arrays: torch.from_numpy takes them without a warning
        assert image.flags.writeable and mask.flags.writeable
    (manifest,) = job.fetch(tmp_path, names=["manifest.csv"])
    rows = list(csv.DictReader(manifest.open()))
    assert [r["model_name"] for r in rows] == ["pytest-polyp"] * 2
    # pairs() come in the manifest's (sample) order
    with Image.open(io.BytesIO(job.read(rows[0]["image"]))) as first:
        assert np.array_equal(np.asarray(first.convert("RGB")), pairs[0][0])


def test_evaluate_of_a_model_s_pairs_checked_by_its_catalogue_image(
    lab: Lab, trained: tuple[segq.Client, segq.Job], tmp_path: Path
) -> None:
    """The pairs of a generation from a catalogue model come from the image
    the catalogue shows (segq/_folds.py, client/cli/cli_folds.c): evaluated
    in 3 folds against real pairs that hold it, the fold testing it would
    have nothing to train on; Python and the CLI refuse it alike."""
    client, _ = trained
    # a generation that never runs here: no worker has a petabyte of GPU memory
    generate = client.generate("pytest-polyp", count=2, gpu_mem=1 << 50)
    real = tmp_path / "real"
    names = [SAMPLE] + sorted(n for n in os.listdir(DATA / "images") if n != SAMPLE)[:2]
    for sub in ("images", "masks"):
        (real / sub).mkdir(parents=True)
        for name in names:
            (real / sub / name).write_bytes((DATA / sub / name).read_bytes())
    try:
        with pytest.raises(segq.InvalidArgument) as refused:
            client.submit("evaluate", real=str(real), synthetic={"gen": generate}, epochs=1)
        said = str(refused.value).removesuffix(" [EINVAL]")
        assert f"they come from 1 image that fold tests ({SAMPLE[:-4]})" in said, said
        done = lab.cli(
            "submit",
            "evaluate",
            "--real",
            str(real),
            "--synthetic",
            f"gen={generate.id}",
            "--epochs",
            "1",
            check=False,
        )
        assert done.returncode == 2 and said in done.stderr, done.stderr
    finally:
        generate.cancel()
