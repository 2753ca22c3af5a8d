"""The codec: round trips of every message type field by field, the C
encoder's messages (tests/fuzz/corpus/proto, written by
tests/proto/make_fuzz_seeds.c from tests/proto/fixtures.c), SPEC.md's
tables and worked examples, and the refusal of malformed messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgpack
import pytest

from segq import _spec
from segq import _wire as w
from segq import errors

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "fuzz" / "corpus" / "proto"
SPEC = (REPO / "proto" / "SPEC.md").read_text()
HASHES = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
]


def seed_frames(path: Path) -> list[bytes]:
    """A seed in tests/fuzz/fuzz_proto.c's layout: flags, header, body length, body, data."""
    raw = path.read_bytes()
    flags = raw[0]
    header_size = (flags >> 2) & 7 if flags & 2 else 4
    header = raw[1 : 1 + header_size]
    at = 1 + header_size
    length = int.from_bytes(raw[at : at + 2], "little")
    body = raw[at + 2 : at + 2 + length]
    data = raw[at + 2 + length :]
    return [header, body] + ([data] if flags & 1 else [])


def seed(name: str) -> w.Message:
    return w.decode(seed_frames(CORPUS / name))


NAMED_SEEDS = sorted(
    p.name for p in CORPUS.iterdir() if re.fullmatch(r"[A-Z_]+-(full|min)", p.name)
)


def test_the_corpus_has_every_type_full_and_minimal() -> None:
    # the corpus was written before MODEL and MODEL_REPLY (types 59, 60) came
    older = {t for t in _spec.MsgType if t not in (_spec.MsgType.MODEL, _spec.MsgType.MODEL_REPLY)}
    assert set(NAMED_SEEDS) >= {f"{t.name}-{form}" for t in older for form in ("full", "min")}
    assert {name.rsplit("-", 1)[0] for name in NAMED_SEEDS} <= {t.name for t in _spec.MsgType}


@pytest.mark.parametrize("name", NAMED_SEEDS)
def test_c_encoded_messages_decode_and_encode_to_the_same_bytes(name: str) -> None:
    frames = seed_frames(CORPUS / name)
    msg = w.decode(frames)
    assert msg.type.name == name.rsplit("-", 1)[0]
    assert msg.version == 2
    again = w.encode(msg)
    assert again[0] == frames[0]
    assert again[1] == frames[1], "the body the C encoder wrote is the one this codec writes"
    assert again[2:] == frames[2:]


@pytest.mark.parametrize("path", sorted(CORPUS.iterdir()), ids=lambda p: p.name)
def test_any_seed_decodes_or_is_refused_with_a_protocol_error(path: Path) -> None:
    frames = seed_frames(path)
    try:
        msg = w.decode(frames)
    except (errors.ProtocolError, errors.TooBig, errors.VersionError) as refused:
        assert str(refused)
        return
    assert w.decode(w.encode(msg)) == msg


def test_c_submit_fields() -> None:
    body = seed("SUBMIT-full").body
    assert body["req"] == 42 and body["user"] == "alice" and body["kind"] == "sleep"
    assert body["params"] == {"niter": -1234567890123, "lr": 0.0005, "flip": True, "dtype": "bf16"}
    assert [type(v) for v in body["params"].values()] == [int, float, bool, str]
    assert body["inputs"] == [
        {
            "name": "image.png",
            "hash": HASHES[1],
            "size": 4096,
            "job": None,
            "out": None,
            "model": None,
        },
        {
            "name": "checkpoint",
            "hash": None,
            "size": 0,
            "job": "j7k2",
            "out": "model.safetensors",
            "model": None,
        },
        {"name": "all", "hash": None, "size": 0, "job": "j7k3", "out": None, "model": None},
        {
            "name": "model",
            "hash": HASHES[2],
            "size": 123456789,
            "job": None,
            "out": None,
            "model": "m-j7k2",
        },
    ]
    assert body["after"] == ["a0", "a1", "a2"]
    assert (body["prio"], body["gmem"], body["cpus"], body["tlim"], body["maxa"]) == (
        -5,
        3 << 30,
        2,
        600,
        5,
    )
    minimal = seed("SUBMIT-min").body
    assert minimal["params"] == {} and minimal["inputs"] == [] and minimal["prio"] == 0


def test_c_status_reply_fields() -> None:
    body = seed("STATUS_REPLY-full").body
    full, bare = body["jobs"]
    assert body["cursor"] == "j1"
    assert (full["id"], full["owner"], full["kind"], full["state"]) == ("j0", "alice", "train", 3)
    assert (full["prio"], full["att"], full["maxa"], full["gmem"]) == (-7, 2, 3, 8 << 30)
    assert (full["cpus"], full["tlim"], full["worker"], full["gpu"]) == (4, 7200, "gpu-node-1", 3)
    assert (full["frac"], full["phase"], full["msg"]) == (0.75, "scale 5/8", "training")
    assert (full["reason"], full["exit"], full["sig"]) == ("worker lost 1 times", 2, 9)
    assert (full["ctime"], full["stime"], full["ftime"]) == (
        1764000000.25,
        1764000001.5,
        1764000002.75,
    )
    assert full["metrics"] == {"loss": 0.125, "psnr": 31.5}
    assert full["outs"][1] == {"name": "out/images/1.png", "hash": HASHES[1], "size": 1000000000001}
    assert full["hist"] == [
        {"state": 2, "time": 1764000000.25, "reason": None},
        {"state": 3, "time": 1764000001.5, "reason": "assigned"},
    ]
    # absent keys read as SPEC's "absent means": gpu and exit -1, not 0
    assert (bare["gpu"], bare["exit"], bare["sig"], bare["worker"], bare["hist"]) == (
        -1,
        -1,
        0,
        None,
        [],
    )


def test_c_kinds_fields() -> None:
    train, noop = seed("KINDS_REPLY-full").body["kinds"]
    assert train["params"][0] == {
        "name": "niter",
        "type": 1,
        "min": 1.0,
        "max": 1e9,
        "choices": [],
        "help": "iterations per scale",
    }
    assert train["params"][1]["min"] == -0.5 and train["params"][1]["help"] is None
    assert train["params"][2]["choices"] == ["fp0", "fp1"] and train["params"][3]["type"] == 3
    assert train["defs"] == {"niter": 2000, "lr": 0.0005, "precision": "fp0"}
    image, synthetic, model = train["inputs"]
    assert image["required"] and not image["many"] and image["help"] == "one image"
    assert synthetic["many"] and synthetic["sets"] and not synthetic["required"]
    assert synthetic["unless"] == "from_alpha" and model["catalogue"] and model["required"]
    assert train["out"] == "model.safetensors" and train["test"]
    assert noop["out"] == "*" and noop["params"] == [] and noop["defs"] == {}


def test_c_transfer_and_error_fields() -> None:
    chunk = seed("CHUNK-full")
    assert chunk.body == {"xfer": 100, "off": 1 << 40, "last": True, "hash": HASHES[1]}
    assert chunk.data == bytes((i * 13) & 0xFF for i in range(4096))  # the seed keeps 4096 bytes
    assert seed("CHUNK-min").data == b""
    logs = seed("LOGS_REPLY-full").body
    assert logs["data"] == bytes((i * 7) & 0xFF for i in range(300)) and logs["done"]
    error = seed("ERROR-full").body
    assert error == {
        "req": 2**64 - 1,
        "code": errors.EVERSION,
        "msg": "peer speaks protocol version 9",
        "vers": [1, 2],
    }
    assert seed("CANCEL-min").body["jobs"] == []  # required, sent empty
    assert seed("CREDIT-full").body == {"xfer": 100, "n": 4000000000}
    assert (
        seed("GET-min").body["hash"] == HASHES[2]
        and seed("GET-full").body["name"] == "out/mask.png"
    )


# ---- round trips of every type, field by field ----

SAMPLES: dict[_spec.T, Any] = {
    _spec.T.U64: 2**64 - 2,
    _spec.T.U32: 2**32 - 1,
    _spec.T.NUMBER: -1.5e300,
    _spec.T.UNIT: 0.25,
    _spec.T.BOOL: True,
    _spec.T.TEXT: "tëxt, ünïcode ✓",
    _spec.T.ID: "id-ünï",
    _spec.T.NAME: "out/images/a b.png",
    _spec.T.HASH: HASHES[0],
    _spec.T.BIN: bytes(range(256)) * 3,
    _spec.T.TEXTS: ["a", "", "ç"],
    _spec.T.U32S: [0, 1, 2**32 - 1],
    _spec.T.PARAMS: {"i": -(2**63), "f": 0.5, "b": False, "s": "bf16"},
    _spec.T.METRICS: {"loss": 0.125, "psnr": 31.0},
}
# structs whose fields exclude each other: a valid full value of each
OVERRIDES: dict[str, dict[str, Any]] = {
    "input": {"hash": None, "size": 0, "model": None},  # a job's output
    "GET": {"hash": None},
    "ARRAY": {"array": None},
    "MODEL": {"op": 7, "value": None, "lab": False},  # SHARE with users
}


def sample(struct: _spec.Struct) -> dict[str, Any]:
    """A body of struct with a present, in-range value in every field."""
    body: dict[str, Any] = {}
    for f in struct.fields:
        if f.type is _spec.T.INT:
            body[f.key] = f.hi if f.absent != f.hi else f.lo
        elif f.sub is not None:
            body[f.key] = [sample(f.sub), sample(f.sub)]
        else:
            body[f.key] = SAMPLES[f.type]
    body.update(OVERRIDES.get(struct.name, {}))
    return body


# what the bodies with a cross-field rule need beyond their required fields
MINIMAL_EXTRA: dict[str, dict[str, Any]] = {
    "GET": {"hash": HASHES[0]},
    "ARRAY": {"array": "a-1"},
    "MODEL": {"op": _spec.MODEL_LIST},
}


def minimal(struct: _spec.Struct) -> dict[str, Any]:
    """A body of struct with its required fields only, or as few as its rule allows."""
    required = {k: v for k, v in sample(struct).items() if struct.keys[k].required}
    return {**required, **MINIMAL_EXTRA.get(struct.name, {})}


@pytest.mark.parametrize("mtype", list(_spec.MsgType), ids=lambda t: t.name)
def test_round_trip_every_field(mtype: _spec.MsgType) -> None:
    struct = _spec.BODIES[mtype]
    body = sample(struct)
    data = b"\x00chunk\xff" if mtype is _spec.MsgType.CHUNK else None
    frames = w.encode(w.Message(mtype, body, data))
    assert frames[0] == b"SQ" + bytes((2, mtype))
    back = w.decode(frames)
    assert back.type is mtype and back.data == data
    for f in struct.fields:
        expected = body[f.key] if body[f.key] is not None else f.absent_value()
        assert back.body[f.key] == expected, f"{mtype.name}.{f.key}"
        assert type(back.body[f.key]) is type(expected), f"{mtype.name}.{f.key}"
    assert set(back.body) == set(struct.keys)


@pytest.mark.parametrize("mtype", list(_spec.MsgType), ids=lambda t: t.name)
def test_round_trip_required_fields_only(mtype: _spec.MsgType) -> None:
    struct = _spec.BODIES[mtype]
    body = minimal(struct)
    data = b"" if mtype is _spec.MsgType.CHUNK else None
    frames = w.encode(w.Message(mtype, body, data))
    assert len(msgpack.unpackb(frames[1])) == len(body), "absent keys are left out"
    back = w.decode(frames).body
    for f in struct.fields:
        assert back[f.key] == body.get(f.key, f.absent_value()), f.key


def test_optional_keys_at_their_absent_value_are_left_out() -> None:
    frames = w.encode(
        w.Message(_spec.MsgType.SUBMITTED, {"req": 1, "job": "j1", "gmem": 0, "cpus": 0})
    )
    assert msgpack.unpackb(frames[1]) == {"req": 1, "job": "j1"}
    frames = w.encode(
        w.Message(_spec.MsgType.ASSIGN, {"job": "j", "att": 1, "kind": "k", "gpu": 0})
    )
    assert msgpack.unpackb(frames[1])["gpu"] == 0, "gpu 0 is a GPU: only -1 is absent"


# ---- SPEC.md ----


def spec_rows(name: str) -> list[str]:
    """The rows of SPEC's table after `<!-- fields: NAME -->`, as "key | type | req | absent"."""
    lines = SPEC[SPEC.index(f"<!-- fields: {name} -->\n") :].splitlines()[1:]
    rows = []
    for line in lines[2:] if lines[0].startswith("| key |") else []:
        if not line.startswith("| `"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append(" | ".join([cells[0].strip("`"), *cells[1:4]]))
    return rows


def spec_absent(f: _spec.Field) -> str:
    """The "absent means" column of a field."""
    value = f.absent_value()
    if f.required:
        return ""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "false"
    if isinstance(value, (list, dict, bytes)):
        return "empty"
    return str(int(value))


def codec_rows(struct: _spec.Struct) -> list[str]:
    return [
        " | ".join([f.key, f.spec_type(), "yes" if f.required else "no", spec_absent(f)])
        for f in struct.fields
    ]


def all_structs() -> list[_spec.Struct]:
    seen: dict[str, _spec.Struct] = {}

    def visit(struct: _spec.Struct) -> None:
        seen.setdefault(struct.name, struct)
        for f in struct.fields:
            if f.sub is not None:
                visit(f.sub)

    for struct in _spec.BODIES.values():
        visit(struct)
    return list(seen.values())


@pytest.mark.parametrize("struct", all_structs(), ids=lambda s: s.name)
def test_field_tables_are_specs(struct: _spec.Struct) -> None:
    assert spec_rows(struct.name) == codec_rows(struct)


def test_type_table_and_replies_are_specs() -> None:
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in SPEC.splitlines()
        if re.match(r"\| \d+ \| [A-Z_]+ \|", line)
    ]
    assert {int(row[0]): row[1] for row in rows} == {t.value: t.name for t in _spec.MsgType}
    answered = {
        _spec.MsgType[row[1]]: _spec.MsgType[row[3].removesuffix(" or ERROR")]
        for row in rows
        if row[2].startswith("client") and row[3].endswith(" or ERROR")
    }
    assert answered == {request: reply for request, (reply, _) in _spec.REQUESTS.items()}


def test_error_codes_and_states_are_specs() -> None:
    for code, (name, _) in errors.CODES.items():
        assert f"| {code} | {name} |" in SPEC
    assert len(re.findall(r"^\| -\d+ \| E[A-Z]+ \|", SPEC, re.M)) == len(errors.CODES)
    for value, state in enumerate(_spec.JOB_STATES, 1):
        assert f"| {value} | {state} |" in SPEC


def spec_example_hex() -> str:
    """The hexadecimal frames of SPEC section 3's worked examples, one stream."""
    section = SPEC[SPEC.index("Worked example") : SPEC.index("## 4. Encoding rules")]
    tokens: list[str] = []
    for line in section.splitlines():
        match = re.fullmatch(r"\s*(?:frame \d+[^:]*:)?\s*((?:[0-9a-f]{2} ?)+)", line)
        if match:
            tokens += match[1].split()
    return " ".join(tokens)


def test_worked_examples_are_what_the_codec_writes() -> None:
    stream = spec_example_hex()
    submit = w.Message(
        _spec.MsgType.SUBMIT,
        {"req": 1, "user": "alice", "kind": "sleep", "params": {"seconds": 0.5}},
    )
    submitted = w.Message(_spec.MsgType.SUBMITTED, {"req": 1, "job": "1"})
    chunk = w.Message(_spec.MsgType.CHUNK, {"xfer": 7, "off": 0, "last": True}, b"abc")
    for msg in (submit, submitted, chunk):
        for frame in w.encode(msg):
            assert (
                frame.hex(" ") in stream
            ), f"{msg.type.name}: {frame.hex(' ')} is not in SPEC section 3"
    assert w.decode(w.encode(submit)).body["params"] == {"seconds": 0.5}
    heartbeat = w.encode(w.Message(_spec.MsgType.HEARTBEAT, {}))
    assert f"`{heartbeat[0].hex(' ')}` then `{heartbeat[1].hex(' ')}`" in SPEC


# ---- malformed messages ----


def body(**fields: Any) -> bytes:
    return msgpack.packb(fields, use_bin_type=True)


def refused(frames: list[bytes], kind: type[errors.SegqError] = errors.ProtocolError) -> str:
    with pytest.raises(kind) as caught:
        w.decode(frames)
    return str(caught.value)


GOOD_SUBMITTED = body(req=1, job="j1")


@pytest.mark.parametrize(
    "frames, says",
    [
        ([b"SQ\x02\x0b"], "1 frames"),
        ([b"SQ\x02\x0b", GOOD_SUBMITTED, b"x", b"y"], "4 frames"),
        ([b"SQ\x02", GOOD_SUBMITTED], "header frame is 3 bytes"),
        ([b"XQ\x02\x0b", GOOD_SUBMITTED], "expected 'SQ'"),
        ([b"SQ\x02\x09", GOOD_SUBMITTED], "unknown message type 9"),
        ([b"SQ\x02\x37", body(xfer=1, off=0)], "missing its data frame"),
        ([b"SQ\x02\x0b", GOOD_SUBMITTED, b"data"], "has a data frame"),
        ([b"SQ\x02\x0b", GOOD_SUBMITTED + b"\xc0"], "1 bytes follow the body map"),
        ([b"SQ\x02\x0b", GOOD_SUBMITTED[:-1]], "not one msgpack value"),
        ([b"SQ\x02\x0b", msgpack.packb([1, 2])], "expected a map"),
        ([b"SQ\x02\x0b", b"\x83\xa3req\x01\xa3job\xa1a\xa3req\x02"], "'req' appears twice"),
        ([b"SQ\x02\x0b", body(req=1)], "'job' is required but missing"),
        ([b"SQ\x02\x0b", body(req=1, job=None)], "'job' is required but missing"),
        ([b"SQ\x02\x0b", body(req=-1, job="j")], "outside 0..18446744073709551615"),
        ([b"SQ\x02\x0b", body(req="1", job="j")], "'req' is a string, expected an integer"),
        ([b"SQ\x02\x0b", body(req=1, job="j", cpus=2**32)], "'cpus' is 4294967296, outside"),
        ([b"SQ\x02\x0b", body(req=1, job=b"j")], "'job' is binary data, expected a string"),
        ([b"SQ\x02\x0b", body(req=1, job="a\x00b")], "contains a NUL byte"),
        ([b"SQ\x02\x0b", b"\x82\xa3req\x01\xa3job\xa2\xc3\x28"], "'job' is not valid UTF-8"),
        ([b"SQ\x02\x01", body(code=True, msg="m")], "'code' is a boolean, expected an integer"),
        (
            [b"SQ\x02\x35", body(req=1, hash="AB" * 32, size=1)],
            "'hash' is not 64 lowercase hex digits",
        ),
        ([b"SQ\x02\x37", body(xfer=1, off=0, hash="a" * 64), b""], "'hash' only goes with 'last'"),
        (
            [b"SQ\x02\x36", body(req=1, xfer=1, hash="a" * 64, size=1, chunk=1, name="../x")],
            "not a safe relative path",
        ),
        (
            [b"SQ\x02\x36", body(req=1, xfer=1, hash="a" * 64, size=1, chunk=1, name="a//b")],
            "not a safe relative path",
        ),
        (
            [b"SQ\x02\x36", body(req=1, xfer=1, hash="a" * 64, size=1, chunk=1, name="/etc/x")],
            "not a safe relative path",
        ),
        (
            [b"SQ\x02\x0d", body(req=1, jobs=[{"id": "j", "owner": "o", "kind": "k", "state": 7}])],
            "'jobs[0].state' is 7, outside 1..6",
        ),
        (
            [
                b"SQ\x02\x0d",
                body(req=1, jobs=[{"id": "j", "owner": "o", "kind": "k", "state": 1, "frac": 1.5}]),
            ],
            "outside 0..1",
        ),
        (
            [
                b"SQ\x02\x0d",
                body(
                    req=1,
                    jobs=[{"id": "j", "owner": "o", "kind": "k", "state": 1, "params": {"": 1}}],
                ),
            ],
            "an empty name",
        ),
        (
            [
                b"SQ\x02\x0d",
                body(
                    req=1,
                    jobs=[
                        {"id": "j", "owner": "o", "kind": "k", "state": 1, "metrics": {"x": "1"}}
                    ],
                ),
            ],
            "expected a number",
        ),
        (
            [
                b"SQ\x02\x0a",
                body(
                    req=1, user="u", kind="k", inputs=[{"name": "a", "hash": "a" * 64, "job": "j"}]
                ),
            ],
            "exactly one of 'hash', 'job' and 'model'",
        ),
        (
            [
                b"SQ\x02\x0a",
                body(
                    req=1, user="u", kind="k", inputs=[{"name": "a", "hash": "a" * 64, "out": "o"}]
                ),
            ],
            "'out' only goes with 'job'",
        ),
        ([b"SQ\x02\x3b", body(req=1, op=1, model="m")], "'model' goes with every op but LIST"),
    ],
)
def test_malformed_messages_are_refused_saying_why(frames: list[bytes], says: str) -> None:
    assert says in refused(frames)


def test_another_version_is_refused_as_such() -> None:
    assert "version 3" in refused([b"SQ\x03\x0b", GOOD_SUBMITTED], errors.VersionError)


def test_limits_are_too_big() -> None:
    refused([b"SQ\x02\x0b", body(req=1, job="j" * 1025)], errors.TooBig)
    refused([b"SQ\x02\x01", body(code=-1, msg="m" * 4097)], errors.TooBig)
    refused([b"SQ\x02\x0c", body(req=1, jobs=["j"] * (_spec.MAX_ARRAY + 1))], errors.TooBig)
    many = {f"p{i}": i for i in range(_spec.MAX_PARAMS + 1)}
    refused([b"SQ\x02\x0a", body(req=1, user="u", kind="k", params=many)], errors.TooBig)
    assert w.decode([b"SQ\x02\x0b", body(req=1, job="j" * 1024)]).body["job"] == "j" * 1024


def test_lenient_where_spec_says_so() -> None:
    # unknown keys skipped whatever they hold, nil read as absent
    msg = w.decode([b"SQ\x02\x0b", body(req=1, job="j", newer={"x": [1, None]}, cpus=None)])
    assert msg.body == {"req": 1, "job": "j", "gmem": 0, "cpus": 0}
    # any integer width; numbers as float32 or integers
    wide = b"\x82\xa3req\xcf" + (5).to_bytes(8, "big") + b"\xa3job\xa1j"
    assert w.decode([b"SQ\x02\x0b", wide]).body["req"] == 5
    progress = msgpack.packb({"job": "j", "att": 1, "frac": 1}, use_single_float=True)
    assert w.decode([b"SQ\x02\x21", progress]).body["frac"] == 1.0
    half = b"\x83\xa3job\xa1j\xa3att\x01\xa4frac\xca" + bytes.fromhex("3f000000")
    assert w.decode([b"SQ\x02\x21", half]).body["frac"] == 0.5


def test_invalid_utf8_in_text_becomes_question_marks() -> None:
    raw = b"\x83\xa3req\x01\xa4code\xfb\xa3msg\xa7ab\xe2\x82cd\xff"
    assert w.decode([b"SQ\x02\x01", raw]).body["msg"] == "ab??cd?"


@pytest.mark.parametrize(
    "mtype, fields, says",
    [
        (_spec.MsgType.SUBMITTED, {"req": 1}, "'job' is required but missing"),
        (
            _spec.MsgType.SUBMITTED,
            {"req": 1, "job": "j", "color": 1},
            "keys ['color'] that SUBMITTED lacks",
        ),
        (
            _spec.MsgType.PUT,
            {"req": 1, "size": 1, "hash": "xyz"},
            "'hash' is not 64 lowercase hex digits",
        ),
        (_spec.MsgType.STATUS, {"req": 1, "state": 9}, "'state' is 9, outside 0..6"),
        (_spec.MsgType.GET, {"req": 1, "job": "j"}, "'job' needs 'name'"),
        (
            _spec.MsgType.SUBMIT,
            {"req": 1, "user": "u", "kind": "k", "params": {"x": [1]}},
            "'params.x' is an array",
        ),
    ],
)
def test_encoding_refuses_what_decoding_would(
    mtype: _spec.MsgType, fields: dict[str, Any], says: str
) -> None:
    with pytest.raises(errors.InvalidArgument, match=re.escape(says)):
        w.encode(w.Message(mtype, fields))


def test_encoding_refuses_a_misplaced_data_frame() -> None:
    with pytest.raises(errors.InvalidArgument, match="data frame"):
        w.encode(w.Message(_spec.MsgType.SUBMITTED, {"req": 1, "job": "j"}, b"x"))


def test_names() -> None:
    for good in ("a", "out/images/x.png", "a b/ç", "..a", "a.."):
        assert _spec.name_valid(good), good
    for bad in (
        "",
        "/a",
        "a/",
        "a//b",
        "./a",
        "a/./b",
        "a/../b",
        "..",
        "a\\b",
        "a\x01",
        "a\x7f",
        "x" * 1025,
    ):
        assert not _spec.name_valid(bad), bad
