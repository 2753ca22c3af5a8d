"""What the broker lists: the catalogue of trained models (SPEC section 6,
MODEL; every train job that succeeds registers one) and its workers, named
as `segq --json models` and `segq --json workers` name them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Model:
    """A trained model. Name it as an input of generate by ``id``
    (``m-JOB``), ``OWNER/NAME`` or, yours or shared with you, ``name``."""

    id: str
    name: str
    owner: str
    job: str  # the training job
    created: float
    image: str | None  # the training image's file name ...
    image_sha256: str | None  # ... and its sha256
    mask: str | None  # None: taken from the image's alpha channel
    mask_sha256: str | None
    checkpoint_sha256: str | None
    checkpoint_bytes: int
    scales: int  # 0: not reported
    height: int  # the finest scale's, pixels; 0: not reported
    width: int
    params: dict[str, Any]  # the training's (model() only)
    tags: tuple[str, ...]
    note: str | None
    shared_with: tuple[str, ...]  # shown to its owner and admins only
    lab: bool  # shared with everyone on the broker
    pinned: bool
    purged: bool  # its training's files are gone: it generates no more
    samples: str | None  # model(): the newest generate job from it you may read

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> Model:
        return cls(
            m["id"],
            m["name"],
            m["owner"],
            m["job"],
            m["ctime"],
            m["image"],
            m["image_hash"],
            m["mask"],
            m["mask_hash"],
            m["ckpt"],
            m["size"],
            m["scales"],
            m["h"],
            m["w"],
            m["params"],
            tuple(m["tags"]),
            m["note"],
            tuple(m["shared"]),
            m["lab"],
            m["pinned"],
            m["purged"],
            m["samples"],
        )


@dataclass(frozen=True)
class Gpu:
    """A GPU of a worker."""

    index: int  # the worker's CUDA device number
    device: str | None  # what its jobs get as CUDA_VISIBLE_DEVICES; None: index
    name: str
    mem_total: int  # bytes
    mem_used: int  # reserved by running jobs


@dataclass(frozen=True)
class Worker:
    """A worker daemon the broker knows."""

    node: str
    state: str  # active, draining, lost
    gpus: tuple[Gpu, ...]
    cpu_slots: int
    cpu_used: int
    kinds: tuple[str, ...]
    running: tuple[str, ...]  # job ids
    last_seen: float
    version: int  # protocol version it speaks

    @classmethod
    def from_wire(cls, w: dict[str, Any]) -> Worker:
        gpus = tuple(Gpu(g["idx"], g["dev"], g["name"], g["mem"], g["used"]) for g in w["gpus"])
        state = ("active", "draining", "lost")[w["state"] - 1]
        return cls(
            w["node"],
            state,
            gpus,
            w["cpus"],
            w["cused"],
            tuple(w["kinds"]),
            tuple(w["running"]),
            w["seen"],
            w["ver"],
        )
