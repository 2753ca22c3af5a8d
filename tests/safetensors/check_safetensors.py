#!/usr/bin/python3
"""Independent safetensors checker and writer (standard library only).

Run with /usr/bin/python3. Python's `safetensors` package is not installable
here, so this re-states what it requires and what its writer does:

  check FILE [--values] [--torch]
      Validates FILE: 8-byte little-endian header length N, N a multiple of 8
      (the reference pads with spaces), UTF-8 JSON object, known dtypes,
      shape x dtype size == data_offsets span, tensors contiguous from 0 to the
      end of the file (no gap, no overlap), each tensor aligned to its element
      size, the reference layout order (descending dtype, then name), and a
      string-to-string __metadata__. Prints a JSON summary.
      --values compares every element against the FIXTURE pattern below;
      --torch also rebuilds each tensor with torch.frombuffer and compares it
      (proves PyTorch interprets the bytes as intended).
  write FILE
      Writes the FIXTURE tensors and metadata the way the reference
      implementation serializes them, for the C reader to read.

Exit status 0 when everything holds; 1 with a message otherwise.
"""
import json
import struct
import sys

# dtype -> (size, rank in the reference enum, struct code or special)
DTYPES = {
    "BOOL": (1, 0, "?"),
    "U8": (1, 1, "B"),
    "I8": (1, 2, "b"),
    "F8_E5M2": (1, 3, None),
    "F8_E4M3": (1, 4, None),
    "I16": (2, 5, "h"),
    "U16": (2, 6, "H"),
    "F16": (2, 7, "e"),
    "BF16": (2, 8, "bf16"),
    "I32": (4, 9, "i"),
    "U32": (4, 10, "I"),
    "F32": (4, 11, "f"),
    "F64": (8, 12, "d"),
    "I64": (8, 13, "q"),
    "U64": (8, 14, "Q"),
}

# The tensors both sides agree on (tests/safetensors/test_safetensors.c has
# the same table): name, dtype, shape.
FIXTURE = [
    ("conv.weight", "F32", [4, 3, 3, 3]),
    ("conv.bias", "F32", [4]),
    ("a.z", "F32", [1]),
    ("bn.running_var", "F64", [5]),
    ("step", "I64", []),
    ("idx", "I32", [2, 3]),
    ("half", "F16", [7]),
    ("brain", "BF16", [3, 2]),
    ("mask", "U8", [3, 5]),
    ("flags", "BOOL", [4]),
    ("small", "I16", [3]),
    ("u16", "U16", [2]),
    ("u32", "U32", [2]),
    ("u64", "U64", [2]),
    ("i8", "I8", [3]),
    ("f8", "F8_E4M3", [2]),
    ("empty", "F32", [0, 3]),
]
FIXTURE_META = {
    "format": "pt",
    "source": "cju0qkwl35piu0993l0dewei2.jpg",
    "note": "caf\u00e9 \"quoted\" \\ slash/",
}


def pattern(dtype, i):
    """Element i of a FIXTURE tensor; exactly representable in its dtype."""
    size = DTYPES[dtype][0]
    if dtype in ("F32", "F64", "F16", "BF16"):
        return (i % 97) * 0.25 - 5.0
    if dtype == "BOOL":
        return i % 3 == 0
    if dtype.startswith("F8"):
        return (i * 37 + 1) % 256  # raw byte
    bits = 8 * size
    v = (i * 2654435761 + 12345) % (1 << bits)
    if dtype.startswith("I") and v >= 1 << (bits - 1):
        v -= 1 << bits
    return v


def encode(dtype, values):
    code = DTYPES[dtype][2]
    if code is None:
        return bytes(values)
    if code == "bf16":
        return b"".join(struct.pack("<f", v)[2:] for v in values)
    return struct.pack("<%d%s" % (len(values), code), *values)


def decode(dtype, raw, n):
    code = DTYPES[dtype][2]
    if code is None:
        return list(raw)
    if code == "bf16":
        return [struct.unpack("<f", b"\0\0" + raw[2 * k:2 * k + 2])[0] for k in range(n)]
    return list(struct.unpack("<%d%s" % (n, code), raw))


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def fail(msg):
    print("check_safetensors: " + msg, file=sys.stderr)
    sys.exit(1)


def serialize(tensors, metadata):
    """The reference serializer: descending dtype then name, contiguous,
    compact JSON with __metadata__ first, padded with spaces to 8."""
    order = sorted(tensors, key=lambda t: (-DTYPES[t[1]][1], t[0]))
    header = {}
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    offset = 0
    for name, dtype, shape, data in order:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in order)


def fixture_tensors():
    out = []
    for name, dtype, shape in FIXTURE:
        values = [pattern(dtype, i) for i in range(numel(shape))]
        out.append((name, dtype, shape, encode(dtype, values)))
    return out


def check(path, values, use_torch):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("%s: %d bytes, no header length" % (path, len(blob)))
    (n,) = struct.unpack("<Q", blob[:8])
    if n % 8:
        fail("%s: header length %d is not a multiple of 8" % (path, n))
    if 8 + n > len(blob):
        fail("%s: header length %d beyond the end of the file" % (path, n))
    raw = blob[8:8 + n]
    text = raw.rstrip(b" ")
    if not text.startswith(b"{"):
        fail("%s: header does not start with '{'" % path)
    try:
        pairs = json.loads(text.decode("utf-8"), object_pairs_hook=lambda p: p)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        fail("%s: header is not UTF-8 JSON: %s" % (path, e))
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        fail("%s: duplicate keys in header" % path)
    header = dict(pairs)
    meta = dict(header.pop("__metadata__", []) or [])
    for k, v in meta.items():
        if not isinstance(v, str):
            fail("%s: metadata %r is not a string" % (path, k))
    buf = blob[8 + n:]
    entries = []
    for name, info in header.items():
        info = dict(info)
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail("%s: %s has fields %s" % (path, name, sorted(info)))
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPES:
            fail("%s: %s has unknown dtype %s" % (path, name, dtype))
        size = DTYPES[dtype][0]
        if end - begin != numel(shape) * size:
            fail("%s: %s spans %d bytes, shape %s x %d" % (path, name, end - begin, shape, size))
        if begin % size:
            fail("%s: %s at offset %d is not aligned to %d" % (path, name, begin, size))
        entries.append((begin, end, name, dtype, shape))
    # The reference writes entries in layout order, and lays them out
    # contiguously in that order: one walk checks order, gaps and overlaps.
    info = {e[2]: e for e in entries}
    expected = sorted(info, key=lambda k: (-DTYPES[info[k][3]][1], k))
    if list(header) != expected:
        fail("%s: entries %s are not in the reference order %s" % (path, list(header), expected))
    at = 0
    for name in expected:
        begin, end = info[name][0], info[name][1]
        if begin != at:
            fail("%s: %s starts at %d, expected %d (gap or overlap)" % (path, name, begin, at))
        at = end
    if at != len(buf):
        fail("%s: tensors cover %d bytes, buffer has %d" % (path, at, len(buf)))
    if values:
        fixture = {name: (dtype, shape) for name, dtype, shape in FIXTURE}
        if set(fixture) != set(header):
            fail("%s: tensors %s, expected %s" % (path, sorted(header), sorted(fixture)))
        if meta != FIXTURE_META:
            fail("%s: metadata %r, expected %r" % (path, meta, FIXTURE_META))
        for begin, end, name, dtype, shape in entries:
            if (dtype, shape) != fixture[name]:
                fail("%s: %s is %s %s, expected %s" % (path, name, dtype, shape, fixture[name]))
            got = decode(dtype, buf[begin:end], numel(shape))
            want = [pattern(dtype, i) for i in range(numel(shape))]
            if got != want:
                fail("%s: %s values differ: %s... != %s..." % (path, name, got[:4], want[:4]))
            if use_torch:
                check_torch(path, name, dtype, shape, buf[begin:end], want)
    print(json.dumps({"tensors": len(entries), "header_bytes": n, "buffer_bytes": len(buf),
                      "metadata": meta}, ensure_ascii=False))


def check_torch(path, name, dtype, shape, raw, want):
    import torch  # Debian's python3-torch, only for --torch
    tdtypes = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16,
               "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
               "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
    if dtype not in tdtypes:
        return  # torch 1.13 has no U16/U32/U64/F8
    if len(raw):
        t = torch.frombuffer(bytearray(raw), dtype=tdtypes[dtype]).reshape(shape)
    else:
        t = torch.empty(shape, dtype=tdtypes[dtype])
    ref = torch.tensor(want, dtype=tdtypes[dtype]).reshape(shape)
    if not torch.equal(t, ref):
        fail("%s: torch reads %s differently" % (path, name))


def main(argv):
    if len(argv) >= 2 and argv[0] == "check":
        check(argv[1], "--values" in argv[2:], "--torch" in argv[2:])
    elif len(argv) == 2 and argv[0] == "write":
        with open(argv[1], "wb") as f:
            f.write(serialize(fixture_tensors(), FIXTURE_META))
    else:
        fail("usage: check FILE [--values] [--torch] | write FILE")


if __name__ == "__main__":
    main(sys.argv[1:])
