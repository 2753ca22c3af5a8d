"""safetensors files for tests, written as the format says (8-byte
little-endian header length, compact JSON padded with spaces to a
multiple of 8, the tensors' bytes one after the other)."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from pathlib import Path

DTYPE_SIZES = {"F16": 2, "F32": 4, "F64": 8, "I32": 4, "I64": 8}

# (dtype, shape, bytes); bytes None: zeros, left as a hole in the file, so
# that a weights file has its size without its bytes being written
Tensor = tuple[str, tuple[int, ...], bytes | None]
Tensors = Mapping[str, Tensor]


def _header(tensors: Tensors, metadata: Mapping[str, str] | None) -> bytes:
    """The header: its length, then its JSON."""
    header: dict[str, object] = {} if metadata is None else {"__metadata__": dict(metadata)}
    at = 0
    for name, (dtype, shape, _) in tensors.items():
        size = math.prod(shape) * DTYPE_SIZES[dtype]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [at, at + size]}
        at += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def write_safetensors(
    path: Path, tensors: Tensors, metadata: Mapping[str, str] | None = None
) -> Path:
    with open(path, "wb") as f:
        f.write(_header(tensors, metadata))
        for dtype, shape, data in tensors.values():
            size = math.prod(shape) * DTYPE_SIZES[dtype]
            if data is None:
                f.seek(size, 1)
            else:
                f.write(data)
        f.truncate()
    return path
