"""Transfers against a scripted broker: credit paces an upload, and a
download that does not check out leaves nothing behind."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import segq
from segq._transfer import Transfers
from segq._spec import MsgType
from segq._wire import Message


class ScriptedBroker:
    """Stands in for the Transport: records what is sent, answers from a script."""

    def __init__(self, replies: list[Message]) -> None:
        self.replies = replies
        self.sent: list[Message] = []
        self.next_req = 7
        self.most_gets = 0  # GETs and PUTs not yet ended (a last CHUNK, PUT_DONE), at most
        self.taken: list[Message] = []

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def send_request(self, mtype: MsgType, body: dict[str, Any]) -> int:
        self.sent.append(Message(mtype, body))
        self.next_req += 1
        return self.next_req - 1

    def reply(self, mtype: MsgType, req: int) -> Message:
        return self.wait(req)

    def send(self, msg: Message) -> None:
        self.sent.append(msg)

    def wait(self, req: int = 0, xfer: int = 0) -> Message:
        if not self.replies:
            raise AssertionError(f"waits for a reply the script lacks; sent so far: {self.sent}")
        return self.replies.pop(0)

    def wait_any(self, reqs: set[int], xfers: set[int]) -> Message:
        asked = sum(m.type in (MsgType.GET, MsgType.PUT) for m in self.sent)
        ended = sum(
            (m.type is MsgType.CHUNK and m.body["last"]) or m.type is MsgType.PUT_DONE
            for m in self.taken
        )
        self.most_gets = max(self.most_gets, asked - ended)
        msg = self.wait()
        self.taken.append(msg)
        if msg.type is MsgType.ERROR:  # as the transport turns one into its error
            raise segq.errors.error(msg.body["code"], msg.body["msg"])
        return msg


def transfers(replies: list[Message]) -> tuple[Transfers, ScriptedBroker]:
    broker = ScriptedBroker(replies)
    return Transfers(broker, None), broker  # type: ignore[arg-type]


def chunks(sent: list[Message]) -> list[tuple[int, int, bool]]:
    return [
        (m.body["off"], len(m.data or b""), m.body["last"]) for m in sent if m.type is MsgType.CHUNK
    ]


@pytest.fixture
def file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 10)  # 2560 bytes: 3 chunks of 1000
    yield path


def test_an_upload_waits_for_credit_and_names_its_hash_at_the_end(file: Path) -> None:
    data = file.read_bytes()
    done = Message(MsgType.PUT_DONE, {"req": 7, "xfer": 5, "code": 0, "msg": None})
    ready = Message(
        MsgType.PUT_READY, {"req": 7, "xfer": 5, "have": False, "credit": 1, "chunk": 1000}
    )
    credit = Message(MsgType.CREDIT, {"xfer": 5, "n": 1})
    t, broker = transfers([ready, credit, credit, done])
    assert t.upload(file) == (hashlib.sha256(data).hexdigest(), 2560)
    put, *rest = broker.sent
    assert put.body == {"size": 2560, "name": "data.bin"}, "hash at the end: PUT names none"
    assert chunks(rest) == [(0, 1000, False), (1000, 1000, False), (2000, 560, True)]
    assert "hash" not in rest[0].body and rest[-1].body["hash"] == hashlib.sha256(data).hexdigest()
    assert b"".join(m.data or b"" for m in rest) == data and t.bytes_uploaded == 2560


def test_a_file_the_broker_has_is_not_sent(file: Path) -> None:
    sha = hashlib.sha256(file.read_bytes()).hexdigest()
    t, broker = transfers(
        [Message(MsgType.PUT_READY, {"req": 7, "xfer": 0, "have": True, "credit": 0, "chunk": 0})]
    )
    assert t.upload(file, sha) == (sha, 2560)
    assert [m.type for m in broker.sent] == [MsgType.PUT] and broker.sent[0].body["hash"] == sha
    assert t.bytes_uploaded == 0


def test_a_refused_upload_says_why(file: Path) -> None:
    ready = Message(
        MsgType.PUT_READY, {"req": 7, "xfer": 5, "have": False, "credit": 8, "chunk": 0}
    )
    done = Message(MsgType.PUT_DONE, {"req": 7, "xfer": 5, "code": -12, "msg": "sha256 mismatch"})
    t, _ = transfers([ready, done])
    with pytest.raises(segq.HashMismatch, match="data.bin' refused by the broker: sha256 mismatch"):
        t.upload(file, "0" * 64)


def get_ready(data: bytes, sha: str | None = None) -> Message:
    body = {
        "req": 7,
        "xfer": 9,
        "hash": sha or hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "name": None,
        "chunk": 4,
    }
    return Message(MsgType.GET_READY, body)


def chunk(offset: int, data: bytes, last: bool) -> Message:
    return Message(MsgType.CHUNK, {"xfer": 9, "off": offset, "last": last, "hash": None}, data)


def test_a_download_credits_each_chunk_and_lands_whole(tmp_path: Path) -> None:
    t, broker = transfers([get_ready(b"abcdefg"), chunk(0, b"abcd", False), chunk(4, b"efg", True)])
    target = tmp_path / "out" / "x.txt"
    t.fetch("j1", "x.txt", target)
    assert target.read_bytes() == b"abcdefg" and list(target.parent.iterdir()) == [target]
    get, credit = broker.sent
    assert get.body == {"job": "j1", "name": "x.txt", "credit": 8}
    assert (credit.type, credit.body) == (
        MsgType.CREDIT,
        {"xfer": 9, "n": 1},
    ), "none after the last"


def test_an_empty_file_is_one_empty_chunk(tmp_path: Path) -> None:
    t, broker = transfers([get_ready(b""), chunk(0, b"", True)])
    t.fetch("j1", "empty", tmp_path / "empty")
    assert (tmp_path / "empty").read_bytes() == b"" and broker.replies == [], "its CHUNK is taken"
    empty = tmp_path / "up"
    empty.write_bytes(b"")
    ready = Message(
        MsgType.PUT_READY, {"req": 7, "xfer": 5, "have": False, "credit": 8, "chunk": 4}
    )
    t, broker = transfers(
        [ready, Message(MsgType.PUT_DONE, {"req": 7, "xfer": 5, "code": 0, "msg": None})]
    )
    assert t.upload(empty) == (hashlib.sha256(b"").hexdigest(), 0)
    assert chunks(broker.sent) == [(0, 0, True)]


@pytest.mark.parametrize(
    "replies, error, says",
    [
        (
            [get_ready(b"abcdefg", "0" * 64), chunk(0, b"abcd", False), chunk(4, b"efg", True)],
            segq.HashMismatch,
            "is not the artifact's 000",
        ),
        (
            [get_ready(b"abcdefg"), chunk(4, b"efg", True)],
            segq.ProtocolError,
            "chunk at offset 4 does not follow 0",
        ),
        ([get_ready(b"abcdefg"), chunk(0, b"abcd", True)], segq.ProtocolError, "does not follow"),
        ([get_ready(b"abc"), chunk(0, b"abcd", True)], segq.ProtocolError, "does not follow"),
    ],
)
def test_a_bad_download_leaves_nothing(
    tmp_path: Path, replies: list[Message], error: type, says: str
) -> None:
    t, _ = transfers(replies)
    target = tmp_path / "x.txt"
    target.write_bytes(b"what was there")
    with pytest.raises(error, match=says):
        t.fetch("j1", "x.txt", target)
    assert list(tmp_path.iterdir()) == [target] and target.read_bytes() == b"what was there"


def output(k: int) -> bytes:
    return bytes((i * 7 + k) % 256 for i in range(1000 + 150 * k))


def served(req: int, k: int) -> list[Message]:
    """GET_READY and the one CHUNK of output k, answering request req."""
    data = output(k)
    body = {"req": req, "xfer": 100 + req, "hash": hashlib.sha256(data).hexdigest()}
    ready = Message(MsgType.GET_READY, {**body, "size": len(data), "name": None, "chunk": 8000})
    return [ready, Message(MsgType.CHUNK, {"xfer": 100 + req, "off": 0, "last": True}, data)]


def test_many_outputs_come_eight_at_a_time(tmp_path: Path) -> None:
    """Requests 7..14 are answered last first, then 15 and 16: the script
    holds while eight are in flight, and every file lands whole."""
    order = [*range(14, 6, -1), 15, 16]
    t, broker = transfers([m for req in order for m in served(req, req - 7)])
    wanted = [(f"f{k:02d}", tmp_path / "out" / f"f{k:02d}", 2000) for k in range(10)]
    shas = t.fetch_outputs("j1", wanted)
    assert broker.most_gets == 8 and broker.replies == []
    for k, (_, path, _) in enumerate(wanted):
        assert path.read_bytes() == output(k) and shas[k] == hashlib.sha256(output(k)).hexdigest()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"f{k:02d}" for k in range(10)]


def test_a_refused_output_leaves_nothing_of_those_in_flight(tmp_path: Path) -> None:
    """Request 14 is served, then 10 refused: the six others in flight
    leave no file, the one in place stays."""
    refused = Message(MsgType.ERROR, {"req": 10, "code": -2, "msg": "job j1 has no output 'f03'"})
    t, _ = transfers([*served(14, 7), refused])
    wanted = [(f"f{k:02d}", tmp_path / f"f{k:02d}", 2000) for k in range(10)]
    with pytest.raises(segq.SegqError, match="no output 'f03'"):
        t.fetch_outputs("j1", wanted)
    assert [p.name for p in tmp_path.iterdir()] == ["f07"]


def test_a_submits_files_go_eight_at_a_time(tmp_path: Path) -> None:
    """PUTs 7..14 are answered last first, then 15 and 16; each file is
    sent whole and its hash named in its last CHUNK."""
    paths = []
    for k in range(10):
        paths.append(tmp_path / f"f{k:02d}")
        paths[-1].write_bytes(output(k))
    script = []
    for req in [*range(14, 6, -1), 15, 16]:
        body = {"req": req, "xfer": 100 + req}
        script.append(Message(MsgType.PUT_READY, {**body, "have": False, "credit": 8, "chunk": 0}))
        script.append(Message(MsgType.PUT_DONE, {**body, "code": 0, "msg": None}))
    t, broker = transfers(script)
    stored = t.upload_all(paths)
    assert broker.most_gets == 8 and broker.replies == []
    for k, (sha, size) in enumerate(stored):
        assert (sha, size) == (hashlib.sha256(output(k)).hexdigest(), len(output(k)))
    sent = {m.body["xfer"]: m for m in broker.sent if m.type is MsgType.CHUNK}
    assert len(sent) == 10 and all(m.body["last"] and m.body["hash"] for m in sent.values())
