"""The SEGQ/2 codec (proto/SPEC.md sections 3 and 4).

A message is ZeroMQ frames: a 4-byte header ``'S' 'Q' version type``, a
msgpack map body with short keys, and a data frame in CHUNK only. Encoding
and decoding both walk the body's table of fields (_spec.py), so they check
the same rules: a bad message fails at its sender. Decoded bodies are plain
dicts holding every field of the table, absent ones as SPEC's "absent means".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from . import errors
from ._spec import (
    BODIES,
    EMPTY,
    HASH_RE,
    MAX_ARRAY,
    MAX_NAME,
    MAX_PARAMS,
    MAX_STRING,
    VERSION,
    Field,
    MsgType,
    Struct,
    T,
    name_valid,
)

_SURROGATES = re.compile("[\ud800-\udfff]")  # bytes that were not UTF-8, escaped
_U64_MAX = 2**64 - 1
_U32_MAX = 2**32 - 1
_I64 = (-(2**63), 2**63 - 1)


@dataclass
class Message:
    """A decoded (or to be encoded) message: its type, body fields by key,
    and a CHUNK's data."""

    type: MsgType
    body: dict[str, Any] = field(default_factory=dict)
    data: bytes | None = None
    version: int = VERSION

    @property
    def req(self) -> int:
        """The request id it carries (0: none)."""
        return int(self.body.get("req") or 0)


# ---- values ----


class _Bad(Exception):
    """A value that breaks a rule: where, what, and whether it is too big."""

    def __init__(self, path: Sequence[str | int], text: str, too_big: bool = False) -> None:
        where = ""
        for step in path:
            where += f"[{step}]" if isinstance(step, int) else f".{step}" if where else step
        super().__init__(f"'{where}' {text}" if where else text)
        self.too_big = too_big


class _Map(list):  # type: ignore[type-arg]
    """A msgpack map as the (key, value) pairs it holds, duplicates kept."""


_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a float",
    str: "a string",
    bytes: "binary data",
    list: "an array",
    type(None): "nil",
}


def _type_name(value: Any) -> str:
    if isinstance(value, _Map):
        return "a map"
    return _TYPE_NAMES.get(type(value), "an extension type")


def _integer(raw: Any, lo: int, hi: int, path: list[str | int]) -> int:
    if type(raw) is not int:
        raise _Bad(path, f"is {_type_name(raw)}, expected an integer")
    if not lo <= raw <= hi:
        raise _Bad(path, f"is {raw}, outside {lo}..{hi}")
    return raw


def _number(raw: Any, unit: bool, path: list[str | int]) -> float:
    if type(raw) not in (int, float):
        raise _Bad(path, f"is {_type_name(raw)}, expected a number")
    value = float(raw)
    if not math.isfinite(value) or (unit and not 0 <= value <= 1):
        raise _Bad(path, f"is {value:g}, " + ("outside 0..1" if unit else "not finite"))
    return value


def _string(raw: Any, limit: int, kind: T, path: list[str | int]) -> str:
    """A str field's value; in `text` a byte that was not UTF-8 becomes '?'
    (SPEC section 4 rule 6), elsewhere it is refused."""
    if type(raw) is not str:
        raise _Bad(path, f"is {_type_name(raw)}, expected a string")
    if _SURROGATES.search(raw):
        if kind is not T.TEXT:
            raise _Bad(path, "is not valid UTF-8")
        raw = _SURROGATES.sub("?", raw)
    size = len(raw.encode())
    if size > limit:
        raise _Bad(path, f"is {size} bytes, over the limit of {limit}", too_big=True)
    if "\0" in raw:
        raise _Bad(path, "contains a NUL byte")
    if kind is T.HASH and not HASH_RE.fullmatch(raw):
        raise _Bad(path, "is not 64 lowercase hex digits")
    if kind is T.NAME and not name_valid(raw):
        raise _Bad(path, f"'{raw[:64]}' is not a safe relative path")
    return raw


def _array(raw: Any, path: list[str | int]) -> list[Any]:
    if type(raw) is not list:
        raise _Bad(path, f"is {_type_name(raw)}, expected an array")
    if len(raw) > MAX_ARRAY:
        raise _Bad(path, f"has {len(raw)} elements, over the limit of {MAX_ARRAY}", too_big=True)
    return raw


def _pairs(raw: Any, decoding: bool, path: list[str | int]) -> list[tuple[Any, Any]]:
    """A map's entries: the pairs read off the wire, or a Mapping's items."""
    if decoding and isinstance(raw, _Map):
        return list(raw)
    if not decoding and isinstance(raw, Mapping):
        return list(raw.items())
    raise _Bad(path, f"is {_type_name(raw)}, expected a map")


def _params(raw: Any, metrics: bool, decoding: bool, path: list[str | int]) -> dict[str, Any]:
    pairs = _pairs(raw, decoding, path)
    if len(pairs) > MAX_PARAMS:
        raise _Bad(path, f"has {len(pairs)} entries, over the limit of {MAX_PARAMS}", too_big=True)
    out: dict[str, Any] = {}
    for name, value in pairs:
        name = _string(name, MAX_NAME, T.ID, path)
        if not name or name in out:
            raise _Bad(path, f"has {'a duplicate' if name else 'an empty'} name '{name[:64]}'")
        where = [*path, name]
        if metrics or type(value) is float:
            out[name] = _number(value, False, where)
        elif type(value) is int:
            out[name] = _integer(value, *_I64, where)
        elif type(value) is bool:
            out[name] = value
        elif type(value) is str:
            out[name] = _string(value, MAX_STRING, T.ID, where)
        else:
            raise _Bad(
                where, f"is {_type_name(value)}, expected an integer, float, boolean or string"
            )
    return out


def _value(f: Field, raw: Any, decoding: bool, path: list[str | int]) -> Any:
    """A field's value checked (and normalised) as its type says."""
    t = f.type
    if t is T.U64:
        return _integer(raw, 0, _U64_MAX, path)
    if t is T.U32:
        return _integer(raw, 0, _U32_MAX, path)
    if t is T.INT:
        return _integer(raw, f.lo, f.hi, path)
    if t in (T.NUMBER, T.UNIT):
        return _number(raw, t is T.UNIT, path)
    if t is T.BOOL:
        if type(raw) is not bool:
            raise _Bad(path, f"is {_type_name(raw)}, expected a boolean")
        return raw
    if t in (T.TEXT, T.ID, T.NAME, T.HASH):
        return _string(raw, MAX_STRING if t is T.TEXT else MAX_NAME, t, path)
    if t is T.BIN:
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise _Bad(path, f"is {_type_name(raw)}, expected binary data")
        return bytes(raw)
    if t is T.TEXTS:
        items = _array(raw, path)
        return [_string(s, MAX_STRING, T.ID, [*path, i]) for i, s in enumerate(items)]
    if t is T.U32S:
        return [_integer(v, 0, _U32_MAX, [*path, i]) for i, v in enumerate(_array(raw, path))]
    if t is T.STRUCTS:
        assert f.sub is not None
        walk = _decode_struct if decoding else _encode_struct
        return [walk(f.sub, item, [*path, i]) for i, item in enumerate(_array(raw, path))]
    return _params(raw, t is T.METRICS, decoding, path)


def _decode_struct(struct: Struct, raw: Any, path: list[str | int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    seen: set[Any] = set()
    for key, value in _pairs(raw, True, path):
        if type(key) is not str:
            raise _Bad(path, f"has a key that is {_type_name(key)}, expected a string")
        if key in seen:
            raise _Bad([*path, key], "appears twice")
        seen.add(key)
        f = struct.keys.get(key)
        if f is not None and value is not None:  # unknown keys are skipped; nil is absent
            out[key] = _value(f, value, True, [*path, key])
    for f in struct.fields:
        if f.key not in out:
            if f.required:
                raise _Bad([*path, f.key], "is required but missing")
            out[f.key] = f.absent_value()
    _check(struct, out, path)
    return out


def _is_absent(f: Field, value: Any) -> bool:
    if f.type in EMPTY:
        return len(value) == 0
    return bool(value == f.absent_value())


def _encode_struct(struct: Struct, raw: Any, path: list[str | int]) -> dict[str, Any]:
    values = dict(_pairs(raw, False, path))
    unknown = set(values) - set(struct.keys)
    if unknown:
        raise _Bad(path, f"has keys {sorted(unknown)} that {struct.name} lacks")
    out: dict[str, Any] = {}
    for f in struct.fields:
        value = values.get(f.key)
        if value is None and f.required:
            raise _Bad([*path, f.key], "is required but missing")
        if value is not None and (f.required or not _is_absent(f, value)):
            out[f.key] = _value(f, value, False, [*path, f.key])
    _check(struct, values, path)
    return out


def _check(struct: Struct, values: Mapping[str, Any], path: list[str | int]) -> None:
    text = struct.check(values) if struct.check else None
    if text:
        raise _Bad(path, text)


# ---- messages ----


def encode(msg: Message) -> list[bytes]:
    """The frames of a message; a value that breaks SPEC's rules raises
    InvalidArgument (TooBig for one over a limit) naming the field."""
    struct = BODIES[msg.type]
    if (msg.type is MsgType.CHUNK) != (msg.data is not None):
        raise errors.InvalidArgument(
            f"cannot encode {struct.name}: a data frame goes with CHUNK only"
        )
    try:
        body = _encode_struct(struct, msg.body, [])
    except _Bad as bad:
        code = errors.ETOOBIG if bad.too_big else errors.EINVAL
        raise errors.error(code, f"cannot encode {struct.name}: {bad}") from None
    frames = [b"SQ" + bytes((msg.version, msg.type)), msgpack.packb(body, use_bin_type=True)]
    if msg.data is not None:
        frames.append(msg.data)
    return frames


def decode(frames: Sequence[bytes]) -> Message:
    """A message from its frames; a malformed one raises ProtocolError
    (TooBig over a limit, VersionError for another version) saying why."""
    if not 2 <= len(frames) <= 3:
        raise errors.ProtocolError(f"message has {len(frames)} frames, expected 2 (3 for CHUNK)")
    header = bytes(frames[0])
    if len(header) != 4:
        raise errors.ProtocolError(f"header frame is {len(header)} bytes, expected 4")
    if header[:2] != b"SQ":
        raise errors.ProtocolError(
            f"not a segq message: header starts 0x{header[0]:02x} 0x{header[1]:02x}, expected 'SQ'"
        )
    if header[2] != VERSION:
        raise errors.VersionError(
            f"peer speaks protocol version {header[2]}; this side speaks {VERSION} to {VERSION}"
        )
    try:
        mtype = MsgType(header[3])
    except ValueError:
        raise errors.ProtocolError(f"unknown message type {header[3]}") from None
    has_data = len(frames) == 3
    if has_data != (mtype is MsgType.CHUNK):
        what = "has a data frame it should not have" if has_data else "is missing its data frame"
        raise errors.ProtocolError(f"{mtype.name}: {what}")
    try:
        body = _decode_struct(BODIES[mtype], _unpack(bytes(frames[1])), [])
    except _Bad as bad:
        code = errors.ETOOBIG if bad.too_big else errors.EPROTO
        raise errors.error(code, f"{mtype.name}: {bad}") from None
    return Message(mtype, body, bytes(frames[2]) if has_data else None, header[2])


def _unpack(body: bytes) -> Any:
    """One msgpack object filling the frame. msgpack's unpackb bounds every
    declared length by the frame's size before it allocates (SPEC section 4
    rule 10); maps come as their pairs so that duplicate keys show."""
    try:
        return msgpack.unpackb(
            body,
            raw=False,
            unicode_errors="surrogateescape",
            object_pairs_hook=_Map,
            strict_map_key=False,
            use_list=True,
        )
    except msgpack.ExtraData as extra:
        raise _Bad([], f"{len(extra.extra)} bytes follow the body map") from None
    except (ValueError, TypeError, msgpack.UnpackException) as failure:
        raise _Bad([], f"body is not one msgpack value: {failure}") from None
