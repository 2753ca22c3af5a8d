"""evaluate's k-fold checked at submit, as `segq submit` checks it
(pipeline/segq_folds_check.c, with the same words): segq-run evaluate trains a
synthetic set, in each fold, only on the pairs made from that fold's real
training pairs, and fails when a fold has none, hours into a job. With
evaluate's own dealing (base/segq_folds.c) and matching (a synthetic pair's
source image by sha256, else by name), a fold like that is found before
anything is sent. Only what is local, or a job the broker describes, is
checked; anything else is left to the broker and segq-run.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import errors
from ._manifest import ManifestError
from ._manifest import read as read_manifest

_IMAGE_EXTS = (".png", ".jpg", ".jpeg")
_SEED_SEARCH = 1000
_M64 = (1 << 64) - 1


@dataclass(frozen=True)
class PairRef:
    """A pair as evaluate matches it: a real pair's image, or a synthetic
    pair's source image (its manifest row)."""

    name: str
    sha: str = ""


class Unknown(Exception):
    """What a set holds cannot be known here (not a dataset folder as
    segq_dataset reads one, a job the broker does not describe)."""


def stem(file: str) -> str:
    """A source image's name as evaluate matches it: the base name without
    its last extension (segq_dataset_stem)."""
    base = os.path.basename(file)
    dot = base.rfind(".")
    return base[:dot] if dot > 0 else base


def _image_base(entry: str) -> str | None:
    if entry.startswith("."):
        return None
    low = entry.lower()
    for ext in _IMAGE_EXTS:
        if len(entry) > len(ext) and low.endswith(ext):
            return entry[: -len(ext)]
    return None


def _scan(folder: Path, keep: int) -> dict[str, Path]:
    """Image files of folder by base name; keep 1: only "-mask" ones (the
    suffix taken off), -1: only the others, 0: all."""
    found: dict[str, Path] = {}
    for entry in os.listdir(folder):
        base = _image_base(entry)
        if base is None:
            continue
        mask = len(base) > 5 and base.endswith("-mask")
        if (keep == 1 and not mask) or (keep == -1 and mask):
            continue
        name = base[:-5] if keep == 1 else base
        if name in found:
            raise Unknown(f"{folder}: two files named {name}")
        found[name] = folder / entry
    return found


def dataset_pairs(folder: Path) -> list[tuple[str, Path, Path]]:
    """(name, image, mask) of a dataset folder's pairs, sorted by name as
    bytes (segq_dataset_open's layouts: images/ + masks/, or NAME +
    NAME-mask)."""
    images, masks = folder / "images", folder / "masks"
    if images.is_dir() and masks.is_dir():
        found, partners = _scan(images, 0), _scan(masks, 0)
    else:
        found, partners = _scan(folder, -1), _scan(folder, 1)
    if not found or found.keys() != partners.keys():
        raise Unknown(f"{folder}: not image/mask pairs")
    pairs = ((n, p, partners[n]) for n, p in found.items())
    return sorted(pairs, key=lambda pair: pair[0].encode())


def dataset_parts(folder: Path) -> list[Path]:
    """The folder, or its parts (subfolders with images/, in name order)
    when it has no images/ of its own (segq_dataset_parts)."""
    if (folder / "images").is_dir():
        return [folder]
    parts = sorted(
        (folder / e for e in os.listdir(folder) if not e.startswith(".")),
        key=lambda p: p.name.encode(),
    )
    parts = [p for p in parts if (p / "images").is_dir()]
    return parts or [folder]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(folder: Path) -> dict[str, dict[str, str]]:
    try:
        rows = read_manifest(folder)
    except ManifestError as e:
        raise Unknown(str(e)) from e
    if rows is None:
        raise Unknown(f"{folder}: no manifest.csv")
    return rows


def local_set(folder: Path, synthetic: bool) -> list[PairRef]:
    """A set folder's pairs as evaluate matches them: real pairs by their
    images, synthetic ones by the source images their manifests name."""
    refs: list[PairRef] = []
    for part in dataset_parts(folder):
        manifest = _manifest(part) if synthetic else None
        for name, image, _ in dataset_pairs(part):
            if manifest is None:
                refs.append(PairRef(name, _sha256(image)))
            else:
                row = manifest.get(name, {})
                refs.append(
                    PairRef(
                        stem(row.get("source_image") or ""), row.get("source_image_sha256") or ""
                    )
                )
    return refs


def shuffle(n: int, seed: int) -> list[int]:
    """segq_folds_shuffle: Fisher-Yates over splitmix64."""
    perm, state = list(range(n)), seed & _M64
    for i in range(n, 1, -1):
        state = (state + 0x9E3779B97F4A7C15) & _M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        j = (z ^ (z >> 31)) % i
        perm[i - 1], perm[j] = perm[j], perm[i - 1]
    return perm


def training(perm: Sequence[int], folds: int, f: int, limit: int) -> set[int]:
    """segq_folds_training: the real pairs that train in fold f."""
    chosen: set[int] = set()
    for k, r in enumerate(perm):
        if limit and len(chosen) >= limit:
            break
        if folds == 0 or k % folds != f:
            chosen.add(r)
    return chosen


class _Index:
    """Where a source image is among pairs: by sha256, else by name, the
    first such pair, as segq-run evaluate matches them; len(pairs) when
    none."""

    def __init__(self, pairs: Sequence[PairRef]) -> None:
        self.n = len(pairs)
        self.by_sha: dict[str, int] = {}
        self.by_name: dict[str, int] = {}
        for r, pair in enumerate(pairs):
            if pair.sha:
                self.by_sha.setdefault(pair.sha, r)
            self.by_name.setdefault(pair.name, r)

    def __call__(self, src: PairRef) -> int:
        if src.sha and src.sha in self.by_sha:
            return self.by_sha[src.sha]
        return self.by_name.get(src.name, self.n)


@dataclass
class Plan:
    """What evaluate would be given (segq_folds_plan_t)."""

    real: list[PairRef]
    test: list[PairRef]
    folds: int
    seed: int
    real_limit: int
    sets: dict[str, list[PairRef]]

    def __post_init__(self) -> None:
        self.test_index = _Index(self.test)


class _Deal:
    def __init__(self, plan: Plan, seed: int) -> None:
        self.plan = plan
        self.folds = 0 if plan.test else plan.folds
        self.perm = shuffle(len(plan.real), seed)
        self.fold_of = [0] * len(plan.real)
        for k, r in enumerate(self.perm):
            self.fold_of[r] = k % self.folds if self.folds else -1

    def tested(self, src: PairRef, r: int, f: int) -> bool:
        if r < len(self.plan.real):
            return self.fold_of[r] == f
        return self.plan.test_index(src) < len(self.plan.test)

    def trains(self, pairs: list[PairRef], src_of: list[int], f: int) -> int:
        allowed = training(self.perm, self.folds, f, self.plan.real_limit)
        return sum(
            1 for src, r in zip(pairs, src_of) if r in allowed and not self.tested(src, r, f)
        )

    def empty_fold(self, src_of: Mapping[str, list[int]]) -> tuple[str, int] | None:
        for name, pairs in self.plan.sets.items():
            for f in range(self.folds or 1):
                if self.trains(pairs, src_of[name], f) == 0:
                    return name, f
        return None


def _refusal(plan: Plan, deal: _Deal, name: str, f: int, src_of: list[int], other: int) -> str:
    pairs = plan.sets[name]
    seen: set[Any] = set()
    tested, others, named = 0, 0, []
    for src, r in zip(pairs, src_of):
        key = r if r < len(plan.real) else ("name", src.name)
        if key in seen:
            continue
        seen.add(key)
        if deal.tested(src, r, f):
            if tested < 3:
                named.append(src.name)
            tested += 1
        else:
            others += 1
    where = f"in fold {f + 1} of {deal.folds} (--seed {plan.seed})" if deal.folds else "with --test"
    limit = f" (within --real-limit {plan.real_limit})" if plan.real_limit else ""
    if other >= 0:
        offer = f"--seed {other} deals the pairs so that every fold trains"
    else:
        offer = (
            "make the set from --real's own images, from two folds or more (manifest.csv "
            "names each pair's source image)"
            + (", or evaluate on a fixed --test set" if deal.folds else "")
        )
    names = f" ({', '.join(named)}{', ...' if tested > 3 else ''})" if tested else ""
    return (
        f"--synthetic {name}: {where} no synthetic pair would train: they come from {tested} "
        f"image{'' if tested == 1 else 's'} {'that fold tests' if deal.folds else 'in --test'}"
        f"{names} and {others} not among --real's training pairs{limit}. evaluate would fail "
        f"there, after training what comes before it: {offer}"
    )


def check(plan: Plan) -> None:
    """Raises InvalidArgument when evaluate would fail in a fold."""
    if not plan.test and len(plan.real) < plan.folds:
        n = len(plan.real)
        raise errors.InvalidArgument(
            f"--real: {n} real pair{'' if n == 1 else 's'} cannot make {plan.folds} folds "
            "(fewer folds, or more pairs: images/NAME + masks/NAME)"
        )
    # whether a fold trains depends only on the images the pairs come
    # from: one pair per image, as the refusal counts them
    real_index = _Index(plan.real)
    src_of: dict[str, list[int]] = {}
    for name, pairs in list(plan.sets.items()):
        firsts: dict[Any, tuple[PairRef, int]] = {}
        for src in pairs:
            r = real_index(src)
            firsts.setdefault(r if r < len(plan.real) else ("name", src.name), (src, r))
        plan.sets[name] = [src for src, _ in firsts.values()]
        src_of[name] = [r for _, r in firsts.values()]
    deal = _Deal(plan, plan.seed)
    empty = deal.empty_fold(src_of)
    if empty is None:
        return
    other = next(
        (
            s
            for s in range(plan.seed + 1, plan.seed + _SEED_SEARCH + 1)
            # a --test set and no --real-limit: the seed changes nothing
            if (deal.folds or plan.real_limit) and _Deal(plan, s).empty_fold(src_of) is None
        ),
        -1,
    )
    name, f = empty
    raise errors.InvalidArgument(_refusal(plan, deal, name, f, src_of[name], other))


def _input(status: Any, name: str) -> Any:
    """A job's input `name` (or one laid out under name/), or None."""
    return next((i for i in status.inputs if i.name == name or i.name.startswith(name + "/")), None)


def job_sources(
    status: Callable[[str], Any], model: Callable[[str], Any], ref: str, depth: int = 0
) -> list[PairRef]:
    """The training images the pairs of job ref ("JOB" or "JOB:OUTPUT")
    come from: a generate job's, its model's (as the catalogue shows it,
    model(id), or its training job's input); a stylize job's, its
    content's. status(id) is the broker's JobStatus. Raises Unknown where
    that cannot be known (an array, a model given as a file, another kind,
    a job the caller is not shown)."""
    job_id = ref.split(":", 1)[0]
    try:
        job = status(job_id)
        source = _input(job, "model") if job.kind == "generate" else None
        if source is not None and source.model:
            shown = model(source.model)
            if shown.image:
                return [PairRef(stem(shown.image), shown.image_sha256 or "")]
        elif source is not None and source.job:
            train = status(source.job)
            image = _input(train, "image") if train.kind == "train" else None
            file = image and (image.name.split("/", 1)[1] if "/" in image.name else image.output)
            if file:
                return [PairRef(stem(file), image.sha256 or "")]
        content = _input(job, "content") if job.kind == "stylize" and depth == 0 else None
        if content is not None and content.job:
            return job_sources(status, model, content.job, depth + 1)
    except errors.SegqError as e:
        raise Unknown(str(e)) from e
    raise Unknown(f"job {job_id}: its pairs' training images are not known here")


def check_evaluate(
    params: Mapping[str, Any],
    inputs: Mapping[str, Any],
    status: Callable[[str], Any],
    model: Callable[[str], Any],
) -> None:
    """An evaluate submission's folds (params with their defaults; inputs as
    given to Client.submit; status(id), model(id): the broker's JobStatus
    and Model, for the jobs a synthetic set names)."""
    real, test = inputs.get("real"), inputs.get("test")
    if not isinstance(real, (str, os.PathLike)) or not Path(real).is_dir():
        return
    if test is not None and (not isinstance(test, (str, os.PathLike)) or not Path(test).is_dir()):
        return
    sets: dict[str, list[PairRef]] = {}
    for name, value in (inputs.get("synthetic") or {}).items():
        try:
            if isinstance(value, (str, os.PathLike)) and Path(value).is_dir():
                sets[name] = local_set(Path(value), True)
            else:
                sets[name] = job_sources(status, model, str(value))
        except Unknown:
            continue
    try:
        plan = Plan(
            local_set(Path(real), False),
            local_set(Path(test), False) if test is not None else [],
            int(params["folds"]),
            int(params["seed"]),
            int(params["real_limit"]),
            sets,
        )
    except Unknown:
        return
    check(plan)
