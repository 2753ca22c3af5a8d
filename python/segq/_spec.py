"""SEGQ/2's tables (proto/SPEC.md sections 5 and 6) as data: the message
types, and for each body and each struct inside one its fields in order,
with their type, whether they are required and what an absent key means.
The codec (_wire.py) walks these; the tests check them against SPEC.md's
tables row by row, and the requests against the C route table.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

VERSION = 2
MAX_STRING = 4096  # `text`, bytes
MAX_NAME = 1024  # `id` and `name`, bytes
MAX_ARRAY = 1_000_000
MAX_PARAMS = 256
HASH_RE = re.compile(r"[0-9a-f]{64}")
I32 = (-(2**31), 2**31 - 1)


class MsgType(enum.IntEnum):
    """Message types (SPEC section 6)."""

    ERROR = 1
    HEARTBEAT = 2
    BYE = 3
    SUBMIT = 10
    SUBMITTED = 11
    STATUS = 12
    STATUS_REPLY = 13
    CANCEL = 14
    CANCEL_REPLY = 15
    LOGS = 16
    LOGS_REPLY = 17
    WORKERS = 18
    WORKERS_REPLY = 19
    DRAIN = 20
    DRAIN_REPLY = 21
    PURGE = 22
    PURGE_REPLY = 23
    BACKUP = 24
    BACKUP_REPLY = 25
    PRIORITY = 26
    PRIORITY_REPLY = 27
    ARRAY = 28
    ARRAY_REPLY = 29
    REGISTER = 30
    WELCOME = 31
    ASSIGN = 32
    PROGRESS = 33
    LOG = 34
    RESULT = 35
    RESULT_ACK = 36
    ABORT = 37
    DRAIN_WORKER = 38
    CHECKPOINT = 39
    CHECKPOINT_ACK = 40
    PUT = 50
    PUT_READY = 51
    PUT_DONE = 52
    GET = 53
    GET_READY = 54
    CHUNK = 55
    CREDIT = 56
    KINDS = 57
    KINDS_REPLY = 58
    MODEL = 59
    MODEL_REPLY = 60
    HOLD = 61
    HOLD_REPLY = 62
    USAGE = 63
    USAGE_REPLY = 64


class T(enum.Enum):
    """Value types of SPEC section 4 (the table's `type` column)."""

    U64 = "uint64"
    U32 = "uint32"
    INT = "int"  # int32, or a narrower range
    NUMBER = "number"
    UNIT = "number 0..1"
    BOOL = "bool"
    TEXT = "text"
    ID = "id"
    NAME = "name"
    HASH = "hash"
    BIN = "bin"
    TEXTS = "array of text"
    U32S = "array of uint32"
    STRUCTS = "array of"
    PARAMS = "params"
    METRICS = "metrics"


EMPTY: dict[T, Callable[[], Any]] = {
    T.BIN: bytes,
    T.TEXTS: list,
    T.U32S: list,
    T.STRUCTS: list,
    T.PARAMS: dict,
    T.METRICS: dict,
}


@dataclass(frozen=True)
class Field:
    """One row of a SPEC table."""

    key: str
    type: T
    required: bool = False
    lo: int = I32[0]  # INT: the range
    hi: int = I32[1]
    absent: Any = None  # INT: the value an absent key means
    sub: Struct | None = None  # STRUCTS: the element

    def absent_value(self) -> Any:
        """What an absent key means: SPEC's "absent means" column."""
        if self.type in EMPTY:
            return EMPTY[self.type]()
        if self.type is T.INT:
            return self.absent
        if self.type in (T.U64, T.U32):
            return 0
        if self.type in (T.NUMBER, T.UNIT):
            return 0.0
        if self.type is T.BOOL:
            return False
        return None

    def spec_type(self) -> str:
        """The type as SPEC's tables write it."""
        if self.type is T.INT and (self.lo, self.hi) != I32:
            return f"int {self.lo}..{self.hi}"
        if self.type is T.INT:
            return "int32"
        if self.sub is not None:
            return f"array of {self.sub.name}"
        return str(self.type.value)


@dataclass(frozen=True)
class Struct:
    """A body or a nested struct: its fields in order and a cross-field rule."""

    name: str
    fields: tuple[Field, ...]
    # returns what is wrong with a body (its fields by key), or None
    check: Callable[[Mapping[str, Any]], str | None] | None = None
    keys: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", {f.key: f for f in self.fields})


def _f(key: str, type_: T, required: bool = False, **extra: Any) -> Field:
    return Field(key, type_, required, **extra)


def _int(key: str, lo: int, hi: int, required: bool = False, absent: int = 0) -> Field:
    return Field(key, T.INT, required, lo, hi, absent)


def _structs(key: str, sub: Struct, required: bool = False) -> Field:
    return Field(key, T.STRUCTS, required, sub=sub)


R = True  # required


def name_valid(name: str) -> bool:
    """An artifact name (SPEC section 4 rule 8): a safe relative path."""
    if not name or name.startswith("/") or len(name.encode("utf-8", "replace")) > MAX_NAME:
        return False
    if any(c < " " or c in "\x7f\\" for c in name):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


# ---- cross-field rules ----


def _input_check(m: Mapping[str, Any]) -> str | None:
    # a stored job's model input shows its checkpoint's hash beside the model's id
    forms = sum(m.get(k) is not None for k in ("hash", "job", "model"))
    if forms != 1 and not (forms == 2 and m.get("model") and m.get("hash")):
        return f"input '{m.get('name')}': give exactly one of 'hash', 'job' and 'model'"
    if m.get("out") is not None and m.get("job") is None:
        return f"input '{m.get('name')}': 'out' only goes with 'job'"
    return None


def _array_check(m: Mapping[str, Any]) -> str | None:
    if bool(m.get("jobs")) == (m.get("array") is not None):
        return "ARRAY: give exactly one of 'jobs' (to make one) and 'array'"
    return None


def _get_check(m: Mapping[str, Any]) -> str | None:
    if (m.get("hash") is not None) == (m.get("job") is not None):
        return "GET: give exactly one of 'hash' and 'job'"
    if m.get("job") is not None and m.get("name") is None:
        return "GET: 'job' needs 'name' (the output to fetch)"
    return None


def _chunk_check(m: Mapping[str, Any]) -> str | None:
    if m.get("hash") is not None and not m.get("last"):
        return "CHUNK: 'hash' only goes with 'last' (the file's sha256 is known at its end)"
    return None


MODEL_LIST, MODEL_SHOW = 1, 2
_MODEL_VALUE_OPS = {3, 4, 5, 6}  # RENAME, TAG, UNTAG, NOTE
_MODEL_SHARE_OPS = {7, 8}  # SHARE, UNSHARE


def _model_check(m: Mapping[str, Any]) -> str | None:
    op = m.get("op")
    shares = op in _MODEL_SHARE_OPS
    if (op == MODEL_LIST) == (m.get("model") is not None):
        return "MODEL: 'model' goes with every op but LIST"
    if (op in _MODEL_VALUE_OPS) != (m.get("value") is not None):
        return "MODEL: 'value' goes with RENAME, TAG, UNTAG and NOTE only"
    if shares and bool(m.get("users")) == bool(m.get("lab")):
        return "MODEL: SHARE and UNSHARE take either 'users' or 'lab'"
    if not shares and (m.get("users") or m.get("lab")):
        return "MODEL: 'users' and 'lab' go with SHARE and UNSHARE only"
    return None


# ---- the tables (SPEC sections 5 and 6, in their order) ----

JOB_STATES = ("waiting", "queued", "running", "succeeded", "failed", "cancelled")

ARTIFACT = Struct("artifact", (_f("name", T.NAME, R), _f("hash", T.HASH, R), _f("size", T.U64, R)))
INPUT = Struct(
    "input",
    (
        _f("name", T.NAME, R),
        _f("hash", T.HASH),
        _f("size", T.U64),
        _f("job", T.ID),
        _f("out", T.ID),
        _f("model", T.ID),
    ),
    _input_check,
)
GPU = Struct(
    "gpu",
    (
        _f("idx", T.U32, R),
        _f("name", T.ID, R),
        _f("mem", T.U64, R),
        _f("used", T.U64),
        _f("dev", T.ID),
    ),
)
HELD_JOB = Struct("held job", (_f("job", T.ID, R), _f("att", T.U32, R)))
TRANSITION = Struct(
    "transition", (_int("state", 1, 6, R), _f("time", T.NUMBER, R), _f("reason", T.TEXT))
)
JOB = Struct(
    "job",
    (
        _f("id", T.ID, R),
        _f("owner", T.ID, R),
        _f("kind", T.ID, R),
        _int("state", 1, 6, R),
        _int("prio", *I32),
        _f("att", T.U32),
        _f("maxa", T.U32),
        _f("gmem", T.U64),
        _f("cpus", T.U32),
        _f("tlim", T.U32),
        _f("worker", T.ID),
        _int("gpu", *I32, absent=-1),
        _f("frac", T.UNIT),
        _f("phase", T.TEXT),
        _f("msg", T.TEXT),
        _f("reason", T.TEXT),
        _int("exit", *I32, absent=-1),
        _int("sig", *I32),
        _f("ctime", T.NUMBER),
        _f("stime", T.NUMBER),
        _f("ftime", T.NUMBER),
        _f("params", T.PARAMS),
        _f("metrics", T.METRICS),
        _structs("inputs", INPUT),
        _f("after", T.TEXTS),
        _structs("outs", ARTIFACT),
        _structs("hist", TRANSITION),
        _f("held", T.BOOL),
    ),
)
WORKER = Struct(
    "worker",
    (
        _f("node", T.ID, R),
        _int("state", 1, 3, R),
        _structs("gpus", GPU),
        _f("cpus", T.U32),
        _f("cused", T.U32),
        _f("kinds", T.TEXTS),
        _f("running", T.TEXTS),
        _f("seen", T.NUMBER),
        _f("ver", T.U32),
    ),
)
CANCEL_RESULT = Struct(
    "cancel result", (_f("job", T.ID, R), _int("code", *I32, R), _f("msg", T.TEXT))
)
PURGE_RESULT = Struct(
    "purge result",
    (
        _f("job", T.ID, R),
        _int("code", *I32, R),
        _f("msg", T.TEXT),
        _f("files", T.U32),
        _f("bytes", T.U64),
    ),
)
USAGE_ROW = Struct(
    "usage row",
    (
        _f("key", T.ID, R),
        _f("runs", T.U64),
        _f("jobs", T.U64),
        _f("run_s", T.NUMBER),
        _f("slot_s", T.NUMBER),
        _f("gmem_s", T.NUMBER),
        _f("cpu_s", T.NUMBER),
        _f("rss", T.U64),
        _f("gpeak", T.U64),
        _f("fair", T.NUMBER),
    ),
)
HOT_MODEL = Struct("hot model", (_int("gpu", *I32, R), _f("hash", T.HASH, R)))
KIND_PARAM = Struct(
    "kind parameter",
    (
        _f("name", T.ID, R),
        _int("type", 1, 5, R),
        _f("min", T.NUMBER),
        _f("max", T.NUMBER),
        _f("choices", T.TEXTS),
        _f("help", T.TEXT),
    ),
)
KIND_INPUT = Struct(
    "kind input",
    (
        _f("name", T.NAME, R),
        _f("required", T.BOOL),
        _f("unless", T.ID),
        _f("many", T.BOOL),
        _f("sets", T.BOOL),
        _f("help", T.TEXT),
        _f("catalogue", T.BOOL),
    ),
)
KIND = Struct(
    "kind",
    (
        _f("name", T.ID, R),
        _f("help", T.TEXT),
        _structs("params", KIND_PARAM),
        _f("defs", T.PARAMS),
        _structs("inputs", KIND_INPUT),
        _f("out", T.ID, R),
        _f("test", T.BOOL),
    ),
)
MODEL = Struct(
    "model",
    (
        _f("id", T.ID, R),
        _f("name", T.ID, R),
        _f("owner", T.ID, R),
        _f("job", T.ID, R),
        _f("ctime", T.NUMBER),
        _f("image", T.TEXT),
        _f("image_hash", T.HASH),
        _f("mask", T.TEXT),
        _f("mask_hash", T.HASH),
        _f("ckpt", T.HASH),
        _f("size", T.U64),
        _f("scales", T.U32),
        _f("h", T.U32),
        _f("w", T.U32),
        _f("params", T.PARAMS),
        _f("tags", T.TEXTS),
        _f("note", T.TEXT),
        _f("shared", T.TEXTS),
        _f("lab", T.BOOL),
        _f("pinned", T.BOOL),
        _f("purged", T.BOOL),
        _f("samples", T.ID),
    ),
)

_REQ = _f("req", T.U64, R)
_M = MsgType


def _body(mtype: MsgType, *fields: Field, check: Callable[..., str | None] | None = None) -> Struct:
    return Struct(mtype.name, fields, check)


BODIES: dict[MsgType, Struct] = {
    MsgType[s.name]: s
    for s in (
        _body(
            _M.ERROR,
            _f("req", T.U64),
            _int("code", *I32, R),
            _f("msg", T.TEXT, R),
            _f("vers", T.U32S),
        ),
        _body(_M.HEARTBEAT),
        _body(_M.BYE, _f("reason", T.TEXT)),
        _body(
            _M.SUBMIT,
            _REQ,
            _f("user", T.ID, R),
            _f("kind", T.ID, R),
            _f("params", T.PARAMS),
            _structs("inputs", INPUT),
            _f("after", T.TEXTS),
            _int("prio", *I32),
            _f("gmem", T.U64),
            _f("cpus", T.U32),
            _f("tlim", T.U32),
            _f("maxa", T.U32),
            _f("retry", T.ID),
        ),
        _body(_M.SUBMITTED, _REQ, _f("job", T.ID, R), _f("gmem", T.U64), _f("cpus", T.U32)),
        _body(
            _M.STATUS,
            _REQ,
            _f("jobs", T.TEXTS),
            _f("user", T.ID),
            _int("state", 0, 6),
            _f("cursor", T.ID),
            _f("limit", T.U32),
            _f("detail", T.BOOL),
            _f("caller", T.ID),
            _f("newest", T.BOOL),
            _int("wait", 0, 60000),
        ),
        _body(_M.STATUS_REPLY, _REQ, _structs("jobs", JOB), _f("cursor", T.ID)),
        _body(_M.CANCEL, _REQ, _f("user", T.ID, R), _f("jobs", T.TEXTS, R)),
        _body(_M.CANCEL_REPLY, _REQ, _structs("results", CANCEL_RESULT)),
        _body(
            _M.LOGS,
            _REQ,
            _f("user", T.ID),
            _f("job", T.ID, R),
            _f("off", T.U64),
            _f("max", T.U32),
        ),
        _body(
            _M.LOGS_REPLY,
            _REQ,
            _f("job", T.ID, R),
            _f("off", T.U64, R),
            _f("data", T.BIN),
            _f("done", T.BOOL),
        ),
        _body(_M.WORKERS, _REQ),
        _body(_M.WORKERS_REPLY, _REQ, _structs("workers", WORKER)),
        _body(_M.DRAIN, _REQ, _f("user", T.ID), _f("node", T.ID, R)),
        _body(_M.DRAIN_REPLY, _REQ, _f("node", T.ID, R)),
        _body(_M.PURGE, _REQ, _f("user", T.ID), _f("jobs", T.TEXTS, R)),
        _body(_M.PURGE_REPLY, _REQ, _structs("results", PURGE_RESULT)),
        _body(_M.BACKUP, _REQ, _f("user", T.ID), _f("path", T.TEXT, R)),
        _body(_M.BACKUP_REPLY, _REQ, _f("path", T.TEXT, R), _f("size", T.U64), _f("jobs", T.U64)),
        _body(_M.PRIORITY, _REQ, _f("user", T.ID), _f("job", T.ID, R), _int("prio", *I32, R)),
        _body(
            _M.PRIORITY_REPLY,
            _REQ,
            _f("job", T.ID, R),
            _int("prio", *I32, R),
            _int("was", *I32, R),
        ),
        _body(
            _M.ARRAY,
            _REQ,
            _f("user", T.ID),
            _f("jobs", T.TEXTS),
            _f("array", T.ID),
            check=_array_check,
        ),
        _body(
            _M.ARRAY_REPLY,
            _REQ,
            _f("array", T.ID, R),
            _f("owner", T.ID, R),
            _f("ctime", T.NUMBER),
            _f("jobs", T.TEXTS),
        ),
        _body(
            _M.REGISTER,
            _f("node", T.ID, R),
            _f("inst", T.ID),
            _structs("gpus", GPU),
            _f("cpus", T.U32),
            _f("kinds", T.TEXTS),
            _structs("held", HELD_JOB),
            _f("drain", T.BOOL),
        ),
        _body(
            _M.WELCOME,
            _f("hb", T.U32, R),
            _f("exp", T.U32, R),
            _f("maxmsg", T.U32, R),
            _f("chunk", T.U32, R),
        ),
        _body(
            _M.ASSIGN,
            _f("job", T.ID, R),
            _f("att", T.U32, R),
            _f("kind", T.ID, R),
            _f("params", T.PARAMS),
            _structs("inputs", ARTIFACT),
            _int("gpu", *I32, absent=-1),
            _f("gmem", T.U64),
            _f("cpus", T.U32),
            _f("tlim", T.U32),
            _f("resume", T.NAME),
        ),
        _body(
            _M.PROGRESS,
            _f("job", T.ID, R),
            _f("att", T.U32, R),
            _f("frac", T.UNIT),
            _f("phase", T.TEXT),
            _f("msg", T.TEXT),
            _f("metrics", T.METRICS),
        ),
        _body(
            _M.LOG,
            _f("job", T.ID, R),
            _f("att", T.U32, R),
            _f("off", T.U64, R),
            _f("data", T.BIN),
        ),
        _body(
            _M.RESULT,
            _f("job", T.ID, R),
            _f("att", T.U32, R),
            _f("ok", T.BOOL, R),
            _int("exit", *I32, R, absent=-1),
            _int("sig", *I32),
            _f("reason", T.TEXT),
            _structs("outs", ARTIFACT),
            _structs("hot", HOT_MODEL),
            _f("cpu_s", T.NUMBER),
            _f("rss", T.U64),
            _f("gpeak", T.U64),
        ),
        _body(
            _M.RESULT_ACK,
            _f("job", T.ID, R),
            _f("att", T.U32, R),
            _int("code", *I32, R),
            _f("msg", T.TEXT),
        ),
        _body(_M.ABORT, _f("job", T.ID, R), _f("att", T.U32, R), _f("reason", T.TEXT)),
        _body(_M.DRAIN_WORKER),
        _body(
            _M.CHECKPOINT,
            _f("job", T.ID, R),
            _f("att", T.U32, R),
            _f("name", T.NAME, R),
            _f("hash", T.HASH, R),
            _f("size", T.U64, R),
            _f("step", T.U32),
        ),
        _body(
            _M.CHECKPOINT_ACK,
            _f("job", T.ID, R),
            _f("att", T.U32, R),
            _f("step", T.U32),
            _int("code", *I32, R),
            _f("msg", T.TEXT),
        ),
        _body(
            _M.PUT,
            _REQ,
            _f("hash", T.HASH),
            _f("size", T.U64, R),
            _f("name", T.TEXT),
            _f("user", T.ID),
        ),
        _body(
            _M.PUT_READY,
            _REQ,
            _f("xfer", T.U64),
            _f("have", T.BOOL),
            _f("credit", T.U32),
            _f("chunk", T.U32),
        ),
        _body(_M.PUT_DONE, _REQ, _f("xfer", T.U64), _int("code", *I32, R), _f("msg", T.TEXT)),
        _body(
            _M.GET,
            _REQ,
            _f("hash", T.HASH),
            _f("job", T.ID),
            _f("name", T.NAME),
            _f("user", T.ID),
            _f("credit", T.U32),
            check=_get_check,
        ),
        _body(
            _M.GET_READY,
            _REQ,
            _f("xfer", T.U64, R),
            _f("hash", T.HASH, R),
            _f("size", T.U64, R),
            _f("name", T.NAME),
            _f("chunk", T.U32, R),
        ),
        _body(
            _M.CHUNK,
            _f("xfer", T.U64, R),
            _f("off", T.U64, R),
            _f("last", T.BOOL),
            _f("hash", T.HASH),
            check=_chunk_check,
        ),
        _body(_M.CREDIT, _f("xfer", T.U64, R), _f("n", T.U32, R)),
        _body(_M.KINDS, _REQ),
        _body(_M.KINDS_REPLY, _REQ, _structs("kinds", KIND)),
        _body(
            _M.MODEL,
            _REQ,
            _f("user", T.ID),
            _int("op", 1, 11, R),
            _f("model", T.ID),
            _f("value", T.TEXT),
            _f("users", T.TEXTS),
            _f("lab", T.BOOL),
            _f("owner", T.ID),
            _f("tag", T.ID),
            _f("cursor", T.ID),
            check=_model_check,
        ),
        _body(_M.MODEL_REPLY, _REQ, _structs("models", MODEL), _f("next", T.ID)),
        _body(
            _M.HOLD, _REQ, _f("user", T.ID, R), _f("jobs", T.TEXTS, R), _f("release", T.BOOL)
        ),
        _body(_M.HOLD_REPLY, _REQ, _structs("results", CANCEL_RESULT)),
        _body(
            _M.USAGE,
            _REQ,
            _f("user", T.ID),
            _f("of", T.ID),
            _f("since", T.NUMBER),
            _f("until", T.NUMBER),
            _int("by", 1, 3, R),
        ),
        _body(
            _M.USAGE_REPLY, _REQ, _structs("rows", USAGE_ROW), _f("half_life", T.NUMBER)
        ),
    )
}

# The requests a client sends (SPEC section 6, "answered by"; the C route
# table, proto/segq_msg_route.c): the reply each gets, and the field that
# names the user it acts for.
REQUESTS: dict[MsgType, tuple[MsgType, str | None]] = {
    _M.SUBMIT: (_M.SUBMITTED, "user"),
    _M.STATUS: (_M.STATUS_REPLY, "caller"),
    _M.CANCEL: (_M.CANCEL_REPLY, "user"),
    _M.LOGS: (_M.LOGS_REPLY, "user"),
    _M.WORKERS: (_M.WORKERS_REPLY, None),
    _M.DRAIN: (_M.DRAIN_REPLY, "user"),
    _M.PURGE: (_M.PURGE_REPLY, "user"),
    _M.BACKUP: (_M.BACKUP_REPLY, "user"),
    _M.PRIORITY: (_M.PRIORITY_REPLY, "user"),
    _M.ARRAY: (_M.ARRAY_REPLY, "user"),
    _M.PUT: (_M.PUT_READY, "user"),
    _M.GET: (_M.GET_READY, "user"),
    _M.KINDS: (_M.KINDS_REPLY, None),
    _M.MODEL: (_M.MODEL_REPLY, "user"),
    _M.HOLD: (_M.HOLD_REPLY, "user"),
    _M.USAGE: (_M.USAGE_REPLY, "user"),
}
