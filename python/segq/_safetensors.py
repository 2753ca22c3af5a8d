"""A local safetensors file's header read and checked as
segq_st_open_header does (pipeline/safetensors/segq_safetensors.c), with
its words: the header length within the file, a JSON object of tensor
entries {dtype, shape, data_offsets} and string metadata, the tensors
tiling the byte buffer to the end of the file. The tensors' bytes are
not read (a weights file is large), but one small tensor's can be.

Not word for word: a header that is no JSON as jansson reads it
(duplicate keys, NaN, integers beyond 64 bits included): jansson's words
are not Python's."""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from typing import Any

from . import errors

_MAX_HEADER = 100_000_000  # SEGQ_ST_MAX_HEADER
_SIZE_MAX = (1 << 64) - 1  # C's size_t
_DTYPE_SIZES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "F64": 8,
    "I64": 8,
    "U64": 8,
}


@dataclass(frozen=True)
class Tensor:
    """A tensor's entry in the header."""

    dtype: str
    shape: tuple[int, ...]
    begin: int  # in the byte buffer
    end: int


@dataclass(frozen=True)
class Header:
    """A file's tensors by name and its metadata; data_start: where the
    byte buffer begins in the file."""

    file: str  # its name, as given
    tensors: dict[str, Tensor]
    metadata: dict[str, str]
    data_start: int

    def read(self, name: str) -> bytes:
        """The bytes of tensor `name` (one of tensors)."""
        tensor = self.tensors[name]
        with open(self.file, "rb") as f:
            f.seek(self.data_start + tensor.begin)
            return f.read(tensor.end - tensor.begin)


def _size(value: Any) -> int | None:
    """A JSON integer that is not negative (a bool is none), else None."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


# jansson's JSON: no duplicate keys, no NaN or Infinity, integers of 64 bits
def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("duplicate object key")
    return found


def _integer(text: str) -> int:
    value = int(text)
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f"too big integer near '{text}'")
    return value


def _constant(text: str) -> None:
    raise ValueError(f"invalid token near '{text}'")


def _metadata(name: str, meta: Any) -> dict[str, str]:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise errors.InvalidArgument(f"{name}: __metadata__ is not a JSON object of strings")
    for key, value in meta.items():
        if not isinstance(value, str):
            raise errors.InvalidArgument(f'{name}: __metadata__ value of "{key}" is not a string')
    return meta


def _shape(name: str, key: str, shape: list[Any]) -> tuple[tuple[int, ...], int]:
    """The dimensions and their product (segq_st_open's overflow checks)."""
    dims, numel = [], 1
    for d, value in enumerate(shape):
        dim = _size(value)
        if dim is None:
            raise errors.InvalidArgument(
                f'{name}: tensor "{key}": shape[{d}] is not a non-negative integer'
            )
        if dim and numel > _SIZE_MAX // dim:
            raise errors.InvalidArgument(f'{name}: tensor "{key}": shape overflows')
        dims.append(dim)
        numel *= dim
    return tuple(dims), numel


def _entry(name: str, key: str, entry: Any) -> Tensor:
    if not isinstance(entry, dict):
        raise errors.InvalidArgument(f'{name}: entry "{key}" is not a JSON object')
    for field in entry:
        if field not in ("dtype", "shape", "data_offsets"):
            raise errors.InvalidArgument(
                f'{name}: tensor "{key}" has an unexpected field "{field}"'
            )
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or not isinstance(shape, list) or not isinstance(offsets, list):
        raise errors.InvalidArgument(
            f'{name}: tensor "{key}" needs a string "dtype", an array "shape" and an array '
            '"data_offsets"'
        )
    if dtype not in _DTYPE_SIZES:
        raise errors.InvalidArgument(f'{name}: tensor "{key}" has unknown dtype "{dtype}"')
    span = [_size(v) for v in offsets]
    if len(span) != 2 or span[0] is None or span[1] is None:
        raise errors.InvalidArgument(
            f'{name}: tensor "{key}": data_offsets must be [begin, end] of non-negative integers'
        )
    begin, end = span
    dims, numel = _shape(name, key, shape)
    if numel > _SIZE_MAX // _DTYPE_SIZES[dtype]:
        raise errors.InvalidArgument(f'{name}: tensor "{key}": size overflows')
    nbytes = numel * _DTYPE_SIZES[dtype]
    if end < begin or end - begin != nbytes:
        raise errors.InvalidArgument(
            f'{name}: tensor "{key}": data_offsets [{begin}, {end}] do not hold {numel} {dtype} '
            f"elements ({nbytes} bytes)"
        )
    return Tensor(dtype, dims, begin, end)


def _check_tiling(name: str, tensors: dict[str, Tensor], data_len: int) -> None:
    """The spec's layout: the tensors' spans tile [0, data_len) exactly."""
    at = 0
    for key, t in sorted(tensors.items(), key=lambda item: (item[1].begin, item[1].end)):
        if t.begin != at:
            why = "gap in the byte buffer" if t.begin > at else "overlaps the previous tensor"
            raise errors.InvalidArgument(
                f'{name}: tensor "{key}" starts at {t.begin}, expected {at} ({why})'
            )
        at = t.end
    if at != data_len:
        why = "file truncated" if at > data_len else "trailing bytes not covered"
        raise errors.InvalidArgument(
            f"{name}: tensors cover {at} bytes but the byte buffer has {data_len} ({why})"
        )


def _parse(name: str, text: bytes, data_len: int) -> tuple[dict[str, Tensor], dict[str, str]]:
    if not text.startswith(b"{"):
        raise errors.InvalidArgument(
            f"{name}: header does not start with '{{': not a safetensors file"
        )
    try:
        root = json.loads(
            text.decode("utf-8"),
            object_pairs_hook=_object,
            parse_int=_integer,
            parse_constant=_constant,
        )
    except (UnicodeError, ValueError) as e:
        raise errors.InvalidArgument(f"{name}: header is not valid JSON: {e}") from e
    if not isinstance(root, dict):
        raise errors.InvalidArgument(f"{name}: header is not a JSON object")
    tensors, metadata = {}, {}
    for key, value in root.items():
        if key == "__metadata__":
            metadata = _metadata(name, value)
        else:
            tensors[key] = _entry(name, key, value)
    _check_tiling(name, tensors, data_len)
    return tensors, metadata


def read_header(name: str) -> Header:
    """The header of local safetensors file `name`, checked;
    InvalidArgument, in segq-run's words, when it is none."""
    total = os.path.getsize(name)
    if total < 8:
        raise errors.InvalidArgument(
            f"{name}: {total} bytes, shorter than the 8-byte header length"
        )
    with open(name, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        if length > _MAX_HEADER:
            raise errors.InvalidArgument(
                f"{name}: header length {length} is above the {_MAX_HEADER}-byte limit: not a "
                "safetensors file"
            )
        if length > total - 8:
            raise errors.InvalidArgument(
                f"{name}: header length {length} but only {total - 8} bytes follow: file "
                "truncated"
            )
        text = f.read(length)
    tensors, metadata = _parse(name, text, total - 8 - length)
    return Header(name, tensors, metadata, 8 + length)
