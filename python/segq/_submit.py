"""A submission built and checked before anything is sent, as `segq submit`
builds it (client/cli/cli_submit.c, client/segq_job_spec.c): which input
each value is and how it is laid out in the job's directory, the
resources, and the rules the CLI checks them by.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import errors
from ._spec import HASH_RE, name_valid
from .job import Artifact, Job
from .kinds import Kind, KindInput
from .models import Model

_JOB_ID_MAX = 64
_MODEL_REF_MAX = 64 + 256
_SET_NAME = re.compile(r"[A-Za-z0-9_-]+")
_SIZE = re.compile(r"(\d+)(\.\d+)?(?:([KMGT])(?:i?B)?|B)?", re.IGNORECASE)


@dataclass
class WireInput:
    """One input as SUBMIT carries it; ``path``: a local file to upload first."""

    name: str
    path: Path | None = None
    hash: str | None = None
    size: int = 0
    job: str | None = None
    out: str | None = None
    model: str | None = None

    def wire(self) -> dict[str, Any]:
        """The input structure of SPEC section 5."""
        return {
            "name": self.name,
            "hash": self.hash,
            "size": self.size,
            "job": self.job,
            "out": self.out,
            "model": self.model,
        }


def parse_size(value: int | str) -> int:
    """Bytes from an int or a size as people type it: "8G", "512M", "1.5GiB"
    (powers of 1024, SPEC section 16 decision 8)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if not match or (match[2] and not match[3]):
        raise errors.InvalidArgument(
            f"gpu_mem {value!r}: expected bytes or a size such as 8G or 512M"
        )
    shift = 10 * ("KMGT".index(match[3].upper()) + 1) if match[3] else 0
    return int(float(match[1] + (match[2] or "")) * (1 << shift))


def local_file(value: Any) -> str | None:
    """The local regular file a value names, as given (messages name it so,
    as the CLI's do), or None (a folder, a reference for the broker): what
    submit's checks of local files read."""
    if not isinstance(value, (str, os.PathLike)):
        return None
    name = os.fspath(value)
    return name if os.path.isfile(name) else None


def _file_input(kind: Kind, spec: KindInput, name: str, path: Path) -> WireInput:
    """A local file keeps its own name in the job directory: each file of a
    `many` input as NAME/FILE, a one-file input's as NAME/FILE too where the
    kind runs segq-run (which records the source's name), test kinds' as NAME."""
    laid = f"{name}/{path.name}"
    if not spec.many and (kind.test or not name_valid(laid)):
        laid = name
    if not os.access(path, os.R_OK):
        raise errors.NotFound(f"input {name}: cannot read file '{path}'")
    return WireInput(laid, path=path)


def _walk(root: Path, folder: Path, rel: str) -> Iterator[tuple[str, Path]]:
    """The regular files under folder (sorted; hidden ones are no data) as
    (path relative to root, file). A symbolic link counts as the file it
    leads to when that lies inside root; any other link is refused."""
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        sub = f"{rel}/{entry.name}" if rel else entry.name
        if entry.is_symlink():
            target = Path(os.path.realpath(entry.path))
            if not target.is_relative_to(root) or target == root or not target.is_file():
                raise errors.InvalidArgument(
                    f"'{entry.path}' is a symbolic link to '{os.readlink(entry.path)}', which is "
                    f"not a regular file inside the folder {root}: refused (copy the file in if "
                    "it belongs there)"
                )
            yield sub, target
        elif entry.is_dir(follow_symlinks=False):
            yield from _walk(root, Path(entry.path), sub)
        elif entry.is_file(follow_symlinks=False):
            yield sub, Path(entry.path)


def _folder_input(spec: KindInput, name: str, folder: Path) -> list[WireInput]:
    if not spec.many:
        raise errors.InvalidArgument(f"input {name} takes one file, not a folder ('{folder}')")
    inputs = []
    for sub, path in _walk(folder.resolve(), folder, ""):
        laid = f"{name}/{sub}"
        if not name_valid(laid):
            raise errors.InvalidArgument(
                f"input {name}: '{folder / sub}' cannot be an artifact name (too long, or odd "
                "characters)"
            )
        inputs.append(WireInput(laid, path=path))
    if not inputs:
        raise errors.InvalidArgument(f"input {name}: folder '{folder}' has no files")
    return inputs


def _reference(spec: KindInput, name: str, ref: str) -> WireInput:
    """A value that is no local path: JOB or JOB:OUTPUT, a sha256 of an
    uploaded file, or, where the input takes one, a model (NAME, OWNER/NAME,
    m-ID; the broker takes one spelt like a job id that names no model as
    that job), as segq_job_spec_input_ref decides."""
    job, colon, output = ref.partition(":")
    model_like = not colon and "." not in ref and ref.count("/") <= 1
    if spec.catalogue and model_like:
        if not ref or len(ref) > _MODEL_REF_MAX:
            raise errors.InvalidArgument(f"input {name}: '{ref}' is not a model name or id")
        return WireInput(name, model=ref)
    if HASH_RE.fullmatch(ref):
        return WireInput(name, hash=ref)
    if ref.startswith("m-"):
        raise errors.InvalidArgument(
            f"input {name}: '{ref}' names a trained model, and {name} takes a file or a job's "
            "output (a model goes to generate's model input)"
        )
    # job ids have neither '/' nor '.': such a value was meant as a missing file
    # (an output's name may have both: "JOB:images/x.png")
    if "/" in job or "." in job or not job or len(job) >= _JOB_ID_MAX:
        what = ", model" if spec.catalogue else ", and not a job id"
        raise errors.NotFound(f"input {name}: cannot read '{ref}' (no such file or folder{what})")
    if spec.many and output and output != "*":
        # one output of a job among the files of a `many` input goes under its
        # own name, as a file of a folder would (the CLI lays it out as NAME)
        return WireInput(f"{name}/{output.rsplit('/', 1)[-1]}", job=job, out=output)
    return WireInput(name, job=job, out=output or None)


def _check_value(spec: KindInput, name: str, value: Any) -> None:
    """What a value's type says of it against the kind table, before any file is looked at."""
    if isinstance(value, (Job, Artifact)):
        return
    if isinstance(value, Model):
        if not spec.catalogue:
            raise errors.InvalidArgument(
                f"input {name} takes a file or a job's output, not a model"
            )
        return
    if not isinstance(value, (str, os.PathLike)) or value == "":
        raise errors.InvalidArgument(
            f"input {name}: {type(value).__name__} {value!r:.60} is not a file, folder, job "
            "or model"
        )


def _one_value(kind: Kind, spec: KindInput, name: str, value: Any) -> list[WireInput]:
    if isinstance(value, Job):
        return [WireInput(name, job=value.id)]
    if isinstance(value, Model):
        return [WireInput(name, model=value.id)]
    if isinstance(value, Artifact):
        laid = f"{name}/{value.name}" if spec.many else name
        return [WireInput(laid, hash=value.sha256, size=value.size)]
    path = Path(value)
    if path.is_dir():
        return _folder_input(spec, name, path)
    if path.exists():
        return [_file_input(kind, spec, name, path)]
    if isinstance(value, os.PathLike):
        raise errors.NotFound(f"input {name}: no such file or folder '{path}'")
    return [_reference(spec, name, value)]


@dataclass(frozen=True)
class NamedValue:
    """One value given for an input, and where it goes (NAME, or NAME/SET)."""

    spec: KindInput
    name: str
    value: Any


def named_inputs(kind: Kind, given: Mapping[str, Any]) -> list[NamedValue]:
    """The values given by input name, checked against the kind table alone
    (no file is read yet): each name one of the kind's inputs, lists and
    sets where the input takes them, each value of a type an input takes."""
    named = []
    for input_name, value in given.items():
        spec = kind.input(input_name)
        if spec is None:
            raise kind.unknown(input_name)
        for name, item in _named_values(spec, value):
            _check_value(spec, name, item)
            named.append(NamedValue(spec, name, item))
    return named


def resolve_inputs(kind: Kind, named: Sequence[NamedValue]) -> list[WireInput]:
    """The inputs for the values named_inputs() checked: a local file or
    folder (path), a Job, "JOB" or "JOB:OUTPUT", an uploaded Artifact, a
    model (a Model, or its name where the input takes one); a list of those
    for an input that takes many files, and {SET: value} for one in sets."""
    inputs: list[WireInput] = []
    for given in named:
        inputs.extend(_one_value(kind, given.spec, given.name, given.value))
    _check_inputs(kind, inputs)
    return inputs


def _named_values(spec: KindInput, value: Any) -> Iterator[tuple[str, Any]]:
    """(where it goes, value) for each value given for spec."""
    if spec.sets:
        if not isinstance(value, Mapping):
            raise errors.InvalidArgument(
                f"input {spec.name} comes in named sets: give {{NAME: folder or job, ...}}"
            )
        for set_name, item in value.items():
            if not isinstance(set_name, str) or not _SET_NAME.fullmatch(set_name):
                raise errors.InvalidArgument(
                    f"input {spec.name}: set name {set_name!r}: expected letters, digits, - or _"
                )
            yield from ((f"{spec.name}/{set_name}", v) for v in _listed(spec, item))
        return
    yield from ((spec.name, v) for v in _listed(spec, value))


def _listed(spec: KindInput, value: Any) -> Sequence[Any]:
    if isinstance(value, (list, tuple)):
        if not spec.many and len(value) != 1:
            raise errors.InvalidArgument(f"input {spec.name} takes one file, not {len(value)}")
        return value
    return [value]


def _owner(kind: Kind, laid: str) -> KindInput | None:
    """The kind input a laid-out name belongs to ("files" for "files/a.txt")."""
    return kind.input(laid) or kind.input(laid.split("/", 1)[0])


def _check_inputs(kind: Kind, inputs: Sequence[WireInput]) -> None:
    seen: set[str] = set()
    for wire in inputs:
        owner = _owner(kind, wire.name)
        # a one-file input is one input however its file is laid out
        key = owner.name if owner is not None and not owner.many else wire.name
        if key in seen:
            raise errors.InvalidArgument(f"input '{key}' is given twice")
        seen.add(key)


def check_needed_inputs(kind: Kind, params: Mapping[str, Any], named: Sequence[NamedValue]) -> None:
    """Every input the kind needs with these parameters (defaults filled) is given, and none
    that they exclude: the names alone say it, before any file is read."""
    given = {value.spec for value in named}
    for spec in kind.inputs:
        if spec.excluded(params) and spec in given:
            raise errors.InvalidArgument(
                f"kind '{kind.name}' takes input '{spec.name}' or parameter {spec.unless}, not both"
            )
        if spec.needed(params) and spec not in given:
            unless = f", unless parameter {spec.unless} is true" if spec.unless else ""
            raise errors.InvalidArgument(f"kind '{kind.name}' needs input '{spec.name}'{unless}")


def _whole(name: str, value: Any, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise errors.InvalidArgument(f"{name} {value!r}: expected {what}")
    return value


def resources(
    gpu_mem: int | str | None,
    cpu_slots: int | None,
    priority: int,
    time_limit: int | None,
    max_attempts: int | None,
) -> dict[str, int]:
    """SUBMIT's resource fields, checked as `segq submit` checks its options."""
    if gpu_mem is not None and cpu_slots is not None:
        raise errors.InvalidArgument(
            "gpu_mem and cpu_slots exclude each other (a GPU or a CPU job)"
        )
    fields = {
        # the band is the broker's to enforce: above it, an admin's job goes ahead of fair share
        "prio": _whole(
            "priority",
            priority,
            -(2**31),
            2**31 - 1,
            "an integer (-1000000..1000000 orders your own jobs; above, an admin's go ahead)",
        )
    }
    if gpu_mem is not None:
        fields["gmem"] = _whole("gpu_mem", parse_size(gpu_mem), 1, 2**64 - 1, "a size such as 8G")
    if cpu_slots is not None:
        fields["cpus"] = _whole("cpu_slots", cpu_slots, 1, 4096, "a number of CPU slots 1..4096")
    if time_limit is not None:
        fields["tlim"] = _whole("time_limit", time_limit, 1, 2**32 - 1, "whole seconds (> 0)")
    if max_attempts is not None:
        fields["maxa"] = _whole("max_attempts", max_attempts, 1, 1000, "1..1000")
    return fields
