"""Building a submission without a broker: parameter types and ranges, how
each input value is laid out (client/segq_job_spec.c's rules), resources."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import segq
from segq._submit import (
    check_needed_inputs,
    named_inputs,
    parse_size,
    resolve_inputs,
    resources,
)
from segq.kinds import Kind, KindInput, KindParam


def param(
    name: str,
    type_: str,
    lo: float = 0,
    hi: float = 0,
    choices: tuple[str, ...] = (),
    default: Any = None,
) -> KindParam:
    return KindParam(name, type_, lo, hi, choices, default, default is None, "")


def given(name: str, required: bool = False, many: bool = False, **flags: Any) -> KindInput:
    return KindInput(
        name,
        required,
        flags.get("unless"),
        many,
        flags.get("sets", False),
        flags.get("catalogue", False),
        "",
    )


TRAIN = Kind(
    "train",
    "",
    False,
    "model.safetensors",
    (
        param("niter", "int", 1, 1e9, default=2000),
        param("lr", "float", 0, 1, default=0.0005),
        param("mask_from_alpha", "bool", default=False),
        param("precision", "choice", choices=("fp32", "bf16"), default="fp32"),
        param("name", "string", default=""),
    ),
    (given("image", required=True), given("mask", unless="mask_from_alpha")),
)
ECHO = Kind("echo", "", True, "*", (), (given("files", many=True),))
GENERATE = Kind(
    "generate",
    "",
    False,
    "*",
    (param("count", "int", 1, 1e7, default=50),),
    (given("model", required=True, catalogue=True),),
)
EVALUATE = Kind(
    "evaluate",
    "",
    False,
    "*",
    (),
    (given("real", required=True, many=True), given("synthetic", many=True, sets=True)),
)
NEEDY = Kind("needy", "", True, "*", (param("level", "int", 0, 9),), ())


@pytest.mark.parametrize(
    "name, value, typed",
    [
        ("niter", 15, 15),
        ("niter", 15.0, 15),
        ("niter", np.int64(7), 7),
        ("lr", 1, 1.0),
        ("lr", np.float32(0.5), 0.5),
        ("mask_from_alpha", True, True),
        ("precision", "bf16", "bf16"),
        ("name", "polyp-2", "polyp-2"),
    ],
)
def test_parameters_are_typed_as_the_table_says(name: str, value: Any, typed: Any) -> None:
    checked = TRAIN.check_params({name: value})[name]
    assert checked == typed and type(checked) is type(typed)


@pytest.mark.parametrize(
    "fields, says",
    [
        ({"niter": True}, "'niter': expected an integer, got bool True"),
        ({"niter": 1.5}, "'niter': expected an integer, got float 1.5"),
        ({"niter": 0}, "'niter': 0 is out of range (expected 1..1000000000)"),
        ({"lr": float("nan")}, "'lr': expected a number"),
        ({"lr": 2}, "'lr': 2.0 is out of range (expected 0..1)"),
        ({"mask_from_alpha": 1}, "'mask_from_alpha': expected True or False, got int 1"),
        ({"precision": "fp16"}, "'precision': 'fp16' is not one of fp32|bf16"),
        ({"name": 3}, "'name': expected a string"),
        ({"nitre": 1}, "kind 'train' has no parameter or input 'nitre' (did you mean 'niter'?)"),
        (
            {"cpu": 1},
            "kind 'train' has no parameter or input 'cpu' (did you mean cpu_slots=, what "
            "`segq submit --cpu` is here?)",
        ),
        (
            {"cpu_slot": 1},
            "kind 'train' has no parameter or input 'cpu_slot' (did you mean 'cpu_slots'?)",
        ),
    ],
)
def test_wrong_parameters_are_named(fields: dict[str, Any], says: str) -> None:
    with pytest.raises(segq.InvalidArgument) as caught:
        TRAIN.check_params(fields)
    assert says in str(caught.value)


def test_a_parameter_without_default_is_required() -> None:
    with pytest.raises(segq.InvalidArgument, match="kind 'needy' needs parameter 'level'"):
        NEEDY.check_params({})
    assert TRAIN.with_defaults({"niter": 3})["precision"] == "fp32"


def resolve(kind: Kind, values: dict[str, Any]) -> list[Any]:
    return resolve_inputs(kind, named_inputs(kind, values))


def test_needed_inputs_follow_unless() -> None:
    image = named_inputs(TRAIN, {"image": "abcd"})
    with pytest.raises(
        segq.InvalidArgument, match="needs input 'mask', unless parameter mask_from_alpha is true"
    ):
        check_needed_inputs(TRAIN, TRAIN.with_defaults({}), image)
    check_needed_inputs(TRAIN, TRAIN.with_defaults({"mask_from_alpha": True}), image)
    both = named_inputs(TRAIN, {"image": "abcd", "mask": "ef01"})
    with pytest.raises(
        segq.InvalidArgument, match="takes input 'mask' or parameter mask_from_alpha, not both"
    ):
        check_needed_inputs(TRAIN, TRAIN.with_defaults({"mask_from_alpha": True}), both)


def laid(kind: Kind, values: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, what) of each input: the local file, the job, the hash or the model."""
    out = []
    for wire in resolve(kind, values):
        what = str(wire.path) if wire.path else wire.job or wire.hash or wire.model
        out.append((wire.name, what or "", wire.out or ""))
    return out


def test_files_keep_their_names(tmp_path: Path) -> None:
    image = tmp_path / "polyp 1.png"
    image.write_bytes(b"png")
    assert laid(TRAIN, {"image": image}) == [("image/polyp 1.png", str(image), "")]
    assert laid(ECHO, {"files": str(image)}) == [("files/polyp 1.png", str(image), "")]
    odd = tmp_path / "bad\\name.png"  # no valid artifact name: laid out as the input's name
    odd.write_bytes(b"png")
    assert laid(TRAIN, {"image": odd})[0][0] == "image"
    with pytest.raises(segq.InvalidArgument, match="input image takes one file, not 2"):
        resolve(TRAIN, {"image": [image, image]})


def test_a_folder_is_every_file_under_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "b").mkdir(parents=True)
    for name in ("z.txt", "a.txt", "b/c.txt", ".hidden", "b/.hidden"):
        (data / name).write_text(name)
    (data / "link.txt").symlink_to(data / "a.txt")
    assert laid(ECHO, {"files": data}) == [
        ("files/a.txt", str(data / "a.txt"), ""),
        ("files/b/c.txt", str(data / "b" / "c.txt"), ""),
        ("files/link.txt", str(data / "a.txt"), ""),
        ("files/z.txt", str(data / "z.txt"), ""),
    ]
    (data / "out.txt").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "outside.txt").write_text("x")
    with pytest.raises(segq.InvalidArgument, match="not a regular file inside the folder"):
        resolve(ECHO, {"files": data})
    (tmp_path / "empty").mkdir()
    with pytest.raises(segq.InvalidArgument, match="has no files"):
        resolve(ECHO, {"files": tmp_path / "empty"})
    with pytest.raises(segq.InvalidArgument, match="takes one file, not a folder"):
        resolve(TRAIN, {"image": data})


def test_references(tmp_path: Path) -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    assert laid(ECHO, {"files": "j7k2"}) == [("files", "j7k2", "")]
    assert laid(ECHO, {"files": "j7k4:*"}) == [("files", "j7k4", "*")]
    assert laid(ECHO, {"files": sha}) == [("files", sha, "")]
    assert laid(ECHO, {"files": ["j7k3:model.safetensors", "j7k3:out/x.png"]}) == [
        ("files/model.safetensors", "j7k3", "model.safetensors"),
        ("files/x.png", "j7k3", "out/x.png"),
    ]
    with pytest.raises(segq.InvalidArgument, match="input 'files' is given twice"):
        resolve(ECHO, {"files": ["j7k2", "j7k4"]})
    assert laid(GENERATE, {"model": "polypA"}) == [("model", "polypA", "")]
    assert laid(GENERATE, {"model": "alice/polypA"}) == [("model", "alice/polypA", "")]
    assert laid(GENERATE, {"model": "0042:model.safetensors"}) == [
        ("model", "0042", "model.safetensors")
    ]
    with pytest.raises(segq.InvalidArgument, match="'m-0042' names a trained model"):
        resolve(ECHO, {"files": "m-0042"})
    with pytest.raises(
        segq.NotFound,
        match=r"cannot read 'pics/a.png' \(no such file or folder, and not a job id\)",
    ):
        resolve(ECHO, {"files": "pics/a.png"})
    with pytest.raises(segq.NotFound, match="no such file or folder"):
        resolve(ECHO, {"files": tmp_path / "missing"})


def test_objects_as_inputs() -> None:
    job = segq.Job(None, "j9")  # type: ignore[arg-type]
    artifact = segq.Artifact("a.txt", "ab" * 32, 3)
    assert laid(ECHO, {"files": [job, artifact]}) == [
        ("files", "j9", ""),
        ("files/a.txt", "ab" * 32, ""),
    ]
    assert laid(GENERATE, {"model": job}) == [("model", "j9", "")]
    with pytest.raises(segq.InvalidArgument, match="is not a file, folder, job or model"):
        resolve(ECHO, {"files": 3})
    with pytest.raises(segq.InvalidArgument, match="str '' is not a file"):
        resolve(ECHO, {"files": ""})


def test_named_sets_and_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"png")
    inputs = laid(EVALUATE, {"real": tmp_path / "a.png", "synthetic": {"gen": "j1", "sty-2": "j2"}})
    assert inputs == [
        ("real/a.png", str(tmp_path / "a.png"), ""),
        ("synthetic/gen", "j1", ""),
        ("synthetic/sty-2", "j2", ""),
    ]
    with pytest.raises(segq.InvalidArgument, match="comes in named sets"):
        resolve(EVALUATE, {"real": "j1", "synthetic": "j2"})
    with pytest.raises(segq.InvalidArgument, match="set name 'a b'"):
        resolve(EVALUATE, {"real": "j1", "synthetic": {"a b": "j2"}})
    with pytest.raises(segq.InvalidArgument, match="input 'real/a.png' is given twice"):
        resolve(EVALUATE, {"real": [tmp_path / "a.png", tmp_path / "a.png"]})


@pytest.mark.parametrize(
    "text, size",
    [
        ("8G", 8 << 30),
        ("512M", 512 << 20),
        ("1.5GiB", 3 << 29),
        ("3GB", 3 << 30),
        ("2k", 2048),
        ("100", 100),
        ("7B", 7),
        (4096, 4096),
    ],
)
def test_sizes_as_people_type_them(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "1.5", "-1", "8X", "8Gi", "1e9", True])
def test_sizes_that_are_not(text: Any) -> None:
    with pytest.raises(segq.InvalidArgument, match="expected bytes or a size"):
        parse_size(text)


def test_resources() -> None:
    assert resources(None, None, 0, None, None) == {"prio": 0}
    assert resources("1G", None, -5, 60, 2) == {"prio": -5, "gmem": 1 << 30, "tlim": 60, "maxa": 2}
    assert resources(None, 4, 1_000_000, None, None) == {"prio": 1_000_000, "cpus": 4}
    with pytest.raises(segq.InvalidArgument, match="time_limit 0: expected whole seconds"):
        resources(None, None, 0, 0, None)
    with pytest.raises(segq.InvalidArgument, match="cpu_slots 5000"):
        resources(None, 5000, 0, None, None)
