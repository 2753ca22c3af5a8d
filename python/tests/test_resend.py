"""A PUT or GET refused with ELIMIT is sent again (SPEC 10.5): the
bookkeeping with given times, the transport against a scripted broker, and
an upload that waits out a user's full share of a real segqd's transfers."""

from __future__ import annotations

import hashlib
import itertools
import math
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

import segq
from segq import _resend
from segq._resend import Resend
from segq._spec import MsgType
from segq._transport import Transport
from segq._wire import Message, decode, encode

from .conftest import USER, Lab
from .test_transport import FakeBroker

FRAMES = [b"SQ", b"put"]


# ---- the bookkeeping ----


def test_the_pause_doubles_up_to_two_seconds() -> None:
    r = Resend()
    r.keep(7, FRAMES)
    assert r.due() == math.inf, "nothing is due before a refusal"
    now, pauses = 100.0, []
    for _ in range(8):
        assert r.refused(7, now)
        pauses.append(r.due() - now)
        assert r.take_due(r.due() - 0.001) == [], "not before its time"
        now = r.due()
        assert r.take_due(now) == [FRAMES]
        assert r.due() == math.inf and r.take_due(now) == [], "sent once a refusal"
    assert pauses == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])
    assert 7 in r, "kept until its answer"


def test_a_refusal_reaches_the_caller_after_two_minutes() -> None:
    r = Resend()
    r.keep(7, FRAMES)
    assert r.refused(7, 1000.0)
    assert r.refused(7, 1000.0 + 119.9)
    assert not r.refused(7, 1000.0 + 120.0)
    assert 7 not in r and r.due() == math.inf, "given up: its copy dropped"
    assert not r.refused(7, 1000.0 + 120.1)


def test_an_answer_forgets_the_copy() -> None:
    r = Resend()
    r.keep(7, FRAMES)
    r.keep(8, [b"SQ", b"get"])
    assert r.refused(7, 10.0) and r.refused(8, 10.0)
    r.forget(7)
    r.forget(99)  # never kept: nothing happens
    assert 7 not in r and not r.refused(7, 10.1), "not sent again once answered"
    assert r.take_due(20.0) == [[b"SQ", b"get"]]


def test_at_most_64_are_kept_the_oldest_dropped() -> None:
    r = Resend()
    for req in range(1, 71):
        r.keep(req, [str(req).encode()])
    assert len(r) == _resend.KEPT == 64
    assert 6 not in r and not r.refused(6, 1.0), "the oldest went"
    assert all(r.refused(req, 1.0) for req in range(7, 71))
    assert len(r.take_due(2.0)) == 64


# ---- the transport, against a scripted broker ----


@pytest.fixture
def pair() -> Iterator[tuple[Transport, FakeBroker]]:
    broker = FakeBroker()
    transport = Transport(broker.endpoint, "alice", None, 1.0)
    yield transport, broker
    transport.close()
    broker.sock.close()


def _answering(
    broker: FakeBroker, answers: Iterable[tuple[MsgType, dict[str, Any]]]
) -> tuple[threading.Thread, list[Message]]:
    """The broker in a thread, as the transport waits: each request it
    receives (until none comes for a second) answered by the next of
    answers, with its req. The thread, and the requests as they come."""
    received: list[Message] = []

    def serve() -> None:
        for mtype, body in answers:
            if not broker.sock.poll(1000):
                return
            received.append(broker.receive())
            broker.reply(mtype, req=received[-1].req, **body)

    thread = threading.Thread(target=serve)
    thread.start()
    return thread, received


REFUSED = (MsgType.ERROR, {"code": segq.errors.ELIMIT, "msg": "no transfer to spare"})


def test_a_refused_put_is_sent_again_with_its_request_id(
    pair: tuple[Transport, FakeBroker]
) -> None:
    t, broker = pair
    started = time.monotonic()
    req = t.send_request(MsgType.PUT, {"size": 3, "name": "a"})
    ready = (MsgType.PUT_READY, {"xfer": 5, "credit": 1, "chunk": 3})
    thread, received = _answering(broker, [REFUSED] * 3 + [ready])
    assert t.reply(MsgType.PUT, req).body["xfer"] == 5, "the caller sees only the answer"
    waited = time.monotonic() - started
    thread.join()
    assert [m.body for m in received] == [received[0].body] * 4, "the same request, req and all"
    assert received[0].req == req
    assert waited >= 0.05 + 0.1 + 0.2
    assert not broker.sock.poll(300), "answered: not sent again"


def test_other_errors_and_requests_are_not_sent_again(pair: tuple[Transport, FakeBroker]) -> None:
    t, broker = pair
    req = t.send_request(MsgType.GET, {"job": "0001", "name": "out.png"})
    broker.receive()
    broker.reply(MsgType.ERROR, req=req, code=segq.errors.ENOENT, msg="no such output")
    with pytest.raises(segq.NotFound):
        t.wait(req)
    req = t.send_request(MsgType.WORKERS, {})
    broker.receive()
    broker.reply(MsgType.ERROR, req=req, code=segq.errors.ELIMIT, msg="not a transfer")
    with pytest.raises(segq.LimitExceeded):
        t.wait(req)
    assert not broker.sock.poll(300)


def test_the_refusal_is_raised_once_the_resends_give_up(
    pair: tuple[Transport, FakeBroker], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_resend, "FOR", 0.3)  # refused at 0, 0.05, 0.15, 0.35 s: given up
    t, broker = pair
    req = t.send_request(MsgType.GET, {"job": "0001", "name": "out.png"})
    thread, received = _answering(broker, itertools.repeat(REFUSED))
    with pytest.raises(segq.LimitExceeded, match="no transfer to spare"):
        t.wait(req)
    thread.join()
    assert len(received) == 4


# ---- a real broker ----


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Lab]:
    """segqd with a user's share of 5 transfers: max(12 / 4, 5 per connection)."""
    config = tmp_path / "segqd.conf"
    config.write_text("max_transfers = 12\nmax_transfers_per_peer = 5\n")
    lab = Lab(tmp_path)
    try:
        lab.start_broker("--config", str(config))
        yield lab
    finally:
        lab.close()


def _raw_put(endpoint: str) -> tuple[zmq.Socket[bytes], Message]:
    """A connection of USER's that asks to upload 64 MiB (and will send
    nothing), and the broker's answer."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.set(zmq.LINGER, 0)
    sock.connect(endpoint)
    put = {"req": 1, "size": 64 << 20, "name": "big.bin", "user": USER}
    sock.send_multipart(encode(Message(MsgType.PUT, put)))
    assert sock.poll(5000), "segqd did not answer a PUT"
    return sock, decode(sock.recv_multipart())


def test_an_upload_waits_for_a_transfer_to_spare(limited: Lab, tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_bytes(b"a small file\n")
    for _ in range(5):  # the user's share, one transfer a connection
        sock, answer = _raw_put(limited.endpoint)
        sock.close()  # its transfer idle: the broker drops it after its expiry (4 s)
        assert answer.type is MsgType.PUT_READY
    sock, answer = _raw_put(limited.endpoint)
    sock.close()
    assert (answer.type, answer.body["code"]) == (MsgType.ERROR, segq.errors.ELIMIT)
    assert f"user {USER} has 5 transfers open" in answer.body["msg"]
    with limited.client() as c:
        started = time.monotonic()
        artifact = c.upload(small)
        waited = time.monotonic() - started
    assert (artifact.size, artifact.sha256) == (13, hashlib.sha256(small.read_bytes()).hexdigest())
    assert waited >= 0.5, "the user's share was full: the PUT waited for a transfer"
