"""evaluate's folds checked at submit by the Python client as `segq submit`
checks them (segq/_folds.py mirrors client/cli/cli_folds.c): the same
refusal, word for word, from both, for the same sets: too few real pairs
for the folds, a synthetic set made from images one fold tests (with the
seed that deals them apart, which depends on evaluate's whole dealing),
from pairs --real-limit leaves out, from no real pair, or only from --test
images, and a set given as a job,
whose training image the broker names before the job has run."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segq
from segq import _folds

from .conftest import Lab

NAMES = [f"p{i}" for i in range(6)]


def _png(path: Path, seed: int, channels: int = 3) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (32, 32, channels) if channels > 1 else (32, 32)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)


def _pairs(root: Path, names: list[str], seed: int) -> Path:
    for i, name in enumerate(names):
        _png(root / "images" / f"{name}.png", seed + i)
        _png(root / "masks" / f"{name}.png", seed + 100 + i, channels=1)
    return root


def _synthetic(root: Path, sources: list[str]) -> Path:
    """A generate output whose pairs were made from these images (by name)."""
    rows = ["name,source_image,source_image_sha256"]
    for i, source in enumerate(sources):
        _png(root / "images" / f"s{i}.png", 1000 + i)
        _png(root / "masks" / f"s{i}.png", 2000 + i, channels=1)
        rows.append(f"s{i},{source}.jpg,")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def _cli_refusal(lab: Lab, args: list[str], broker: bool = False) -> str:
    """What `segq submit evaluate ARGS` says refusing it: without the
    broker where every set is local (an accepted job would fail to send)."""
    if broker:
        done = lab.cli("submit", "evaluate", *args, check=False)
    else:
        argv = ["--broker", "tcp://127.0.0.1:1", "--timeout", "500", "submit", "evaluate", *args]
        done = lab.cli(*argv, check=False)
    assert done.returncode == 2, f"exit {done.returncode}: {done.stdout} {done.stderr}"
    match = re.fullmatch(r"segq submit: (.*) \(see `segq submit --help`\)\n", done.stderr, re.S)
    assert match, done.stderr
    return match[1]


def _python_refusal(client: segq.Client, **fields: object) -> str:
    with pytest.raises(segq.InvalidArgument) as refused:
        client.submit("evaluate", epochs=1, **fields)
    return str(refused.value).removesuffix(" [EINVAL]")


def test_local_sets_refused_as_the_cli_refuses_them(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    real = _pairs(tmp_path / "real", NAMES, 1)
    test = _pairs(tmp_path / "test", ["t0", "t1"], 50)
    cases: list[tuple[list[str], dict[str, object]]] = [
        (["--real", str(real), "--folds", "7"], {"real": str(real), "folds": 7}),
    ]
    for seed in range(4):
        # positions 0 and 2 of evaluate's order: both in fold 1 of 2
        order = _folds.shuffle(len(NAMES), seed)
        one_fold = _synthetic(tmp_path / f"fold-{seed}", [NAMES[order[0]], NAMES[order[2]]])
        cases.append(
            (
                ["--real", str(real), "--folds", "2", "--seed", str(seed)]
                + ["--synthetic", f"gen={one_fold}"],
                {"real": str(real), "folds": 2, "seed": seed, "synthetic": {"gen": str(one_fold)}},
            )
        )
    # --real-limit 1: a fold trains on the first real pair it may; a set
    # made from every pair but the first two of evaluate's order has none
    order = _folds.shuffle(len(NAMES), 0)
    late = _synthetic(tmp_path / "late", [NAMES[r] for r in order[2:]])
    cases.append(
        (
            ["--real", str(real), "--folds", "2", "--real-limit", "1"]
            + ["--synthetic", f"gen={late}"],
            {"real": str(real), "folds": 2, "real_limit": 1, "synthetic": {"gen": str(late)}},
        )
    )
    stranger = _synthetic(tmp_path / "stranger", ["x", "y"])
    cases.append(
        (
            ["--real", str(real), "--synthetic", f"gen={stranger}"],
            {"real": str(real), "synthetic": {"gen": str(stranger)}},
        )
    )
    tested = _synthetic(tmp_path / "tested", ["t0"])
    cases.append(
        (
            ["--real", str(real), "--test", str(test), "--synthetic", f"gen={tested}"],
            {"real": str(real), "test": str(test), "synthetic": {"gen": str(tested)}},
        )
    )
    for args, fields in cases:
        assert _python_refusal(client, **fields) == _cli_refusal(lab, args + ["--epochs", "1"])
    said = _python_refusal(client, **cases[1][1])
    assert "deals the pairs so that every fold trains" in said, said
    said = _python_refusal(client, **cases[5][1])
    assert "(within --real-limit 1)" in said, said


def test_a_job_set_is_checked_by_its_training_image(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    real = _pairs(tmp_path / "real", NAMES, 1)
    # jobs that never run here (no worker has a petabyte of GPU memory)
    never = {"gpu_mem": 1 << 50}
    train = client.submit(
        "train", image=real / "images" / "p3.png", mask=real / "masks" / "p3.png", **never
    )
    generate = client.submit("generate", model=train, **never)
    try:
        fields = {"real": str(real), "synthetic": {"gen": generate}}
        said = _python_refusal(client, **fields)
        assert "they come from 1 image that fold tests (p3)" in said, said
        args = ["--real", str(real), "--synthetic", f"gen={generate.id}", "--epochs", "1"]
        assert said == _cli_refusal(lab, args, broker=True)
        digest = hashlib.sha256((real / "images" / "p3.png").read_bytes()).hexdigest()
        sources = _folds.job_sources(client._job_status, client.model, generate.id)
        assert sources == [_folds.PairRef("p3", digest)]
    finally:
        generate.cancel()
        train.cancel()
