"""Request matching (SPEC section 7) against a ROUTER socket playing the broker."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

import segq
from segq._transport import Transport
from segq._spec import REQUESTS, MsgType
from segq._wire import Message, decode, encode

ROUTES = (Path(__file__).resolve().parents[2] / "proto" / "segq_msg_route.c").read_text()


class FakeBroker:
    def __init__(self) -> None:
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        self.sock.set(zmq.LINGER, 0)
        self.endpoint = f"tcp://127.0.0.1:{self.sock.bind_to_random_port('tcp://127.0.0.1')}"
        self.peer = b""

    def receive(self) -> Message:
        assert self.sock.poll(5000), "the client sent nothing"
        self.peer, *frames = self.sock.recv_multipart()
        return decode(frames)

    def send(self, *frames: bytes) -> None:
        self.sock.send_multipart([self.peer, *frames])

    def reply(self, mtype: MsgType, **body: object) -> None:
        self.send(*encode(Message(mtype, dict(body))))


@pytest.fixture
def pair() -> Iterator[tuple[Transport, FakeBroker]]:
    broker = FakeBroker()
    transport = Transport(broker.endpoint, "alice", None, 2.0)
    yield transport, broker
    transport.close()
    broker.sock.close()


def test_replies_are_matched_by_request_id(pair: tuple[Transport, FakeBroker]) -> None:
    t, broker = pair
    first = t.send_request(MsgType.STATUS, {"jobs": ["a"]})
    second = t.send_request(MsgType.LOGS, {"job": "b"})
    assert broker.receive().body["caller"] == "alice", "STATUS names the user as its caller"
    assert broker.receive().body["user"] == "alice"
    broker.reply(MsgType.LOGS_REPLY, req=second, job="b", off=0, data=b"log")
    broker.reply(MsgType.STATUS_REPLY, req=first)
    assert t.reply(MsgType.STATUS, first).req == first  # the LOGS reply waits aside
    assert t.reply(MsgType.LOGS, second).body["data"] == b"log"


def test_garbage_and_late_replies_are_dropped(pair: tuple[Transport, FakeBroker]) -> None:
    t, broker = pair
    with pytest.raises(segq.Unavailable):
        t.request(MsgType.WORKERS, {}, timeout=0.2)  # nobody answered: the request is given up
    late = broker.receive().req
    req = t.send_request(MsgType.WORKERS, {})
    broker.receive()
    broker.reply(MsgType.WORKERS_REPLY, req=late)
    broker.send(b"not a header", b"\x80")
    broker.send(b"SQ\x02\x13", b"\xc1")
    broker.reply(MsgType.WORKERS_REPLY, req=req)
    assert t.reply(MsgType.WORKERS, req).req == req


def test_errors_become_exceptions(pair: tuple[Transport, FakeBroker]) -> None:
    t, broker = pair
    req = t.send_request(MsgType.STATUS, {"jobs": ["zz"]})
    broker.receive()
    broker.reply(MsgType.ERROR, req=req, code=-4, msg="unknown job 'zz'")
    with pytest.raises(segq.NotFound, match="unknown job 'zz'") as caught:
        t.reply(MsgType.STATUS, req)
    assert (caught.value.code, caught.value.name) == (-4, "ENOENT")
    req = t.send_request(MsgType.KINDS, {})
    broker.receive()
    broker.reply(MsgType.ERROR, code=-99, msg="something new")  # no req: about what we wait for
    with pytest.raises(segq.SegqError, match="something new") as unknown:
        t.reply(MsgType.KINDS, req)
    assert (type(unknown.value), unknown.value.name) == (segq.SegqError, "EUNKNOWN")


def test_another_protocol_version_is_said(pair: tuple[Transport, FakeBroker]) -> None:
    t, broker = pair
    req = t.send_request(MsgType.KINDS, {})
    broker.receive()
    broker.reply(MsgType.ERROR, req=req, code=-2, msg="no", vers=[3, 4])
    with pytest.raises(
        segq.VersionError, match=r"speaks protocol version\(s\) 3, 4; this client speaks 2"
    ):
        t.reply(MsgType.KINDS, req)
    req = t.send_request(MsgType.KINDS, {})
    broker.receive()
    broker.send(b"SQ\x03\x3a", b"\x81\xa3req" + bytes([req]))
    with pytest.raises(segq.VersionError, match="answered in protocol version 3"):
        t.reply(MsgType.KINDS, req)


def test_a_reply_of_another_type_is_a_protocol_error(pair: tuple[Transport, FakeBroker]) -> None:
    t, broker = pair
    req = t.send_request(MsgType.KINDS, {})
    broker.receive()
    broker.reply(MsgType.WORKERS_REPLY, req=req)
    with pytest.raises(
        segq.ProtocolError, match="answered WORKERS_REPLY where KINDS_REPLY was expected"
    ):
        t.reply(MsgType.KINDS, req)


def test_silence_after_answers_is_a_timeout(pair: tuple[Transport, FakeBroker]) -> None:
    t, broker = pair
    req = t.send_request(MsgType.KINDS, {})
    broker.receive()
    broker.reply(MsgType.KINDS_REPLY, req=req)
    t.reply(MsgType.KINDS, req)
    with pytest.raises(
        segq.Timeout, match=f"no answer from the broker at {broker.endpoint} within 0.3 s"
    ):
        t.request(MsgType.WORKERS, {}, timeout=0.3)


def test_an_answer_lost_to_a_broken_connection_says_run_again(
    pair: tuple[Transport, FakeBroker]
) -> None:
    t, broker = pair
    req = t.send_request(MsgType.KINDS, {})
    broker.receive()
    broker.reply(MsgType.KINDS_REPLY, req=req)
    t.reply(MsgType.KINDS, req)

    def restart() -> None:  # the request arrives, then the broker is gone and back
        broker.receive()
        broker.sock.close()
        broker.sock = zmq.Context.instance().socket(zmq.ROUTER)
        while True:
            try:
                broker.sock.bind(broker.endpoint)
                return
            except zmq.ZMQError:  # the port is freed in libzmq's I/O thread
                threading.Event().wait(0.01)

    thread = threading.Thread(target=restart)
    thread.start()
    with pytest.raises(segq.Timeout, match="connection to the broker at .* broke") as lost:
        t.request(MsgType.WORKERS, {}, timeout=1.5)
    thread.join()
    assert "run it again" in str(lost.value) and "timeout=" not in str(lost.value)


def test_requests_are_the_c_route_tables() -> None:
    """Each request's reply and user field are those of proto/segq_msg_route.c."""
    rows = re.findall(
        r"\[SEGQ_MSG_(\w+)\] = \{ ([^,]+), (NULL|\"\w+\"), (?:SEGQ_MSG_(\w+)|0) \}", ROUTES
    )
    routes = {
        name: (reply, key.strip('"') if key != "NULL" else None) for name, _, key, reply in rows
    }
    for request, (reply, user_key) in REQUESTS.items():
        assert routes[request.name] == (reply.name, user_key), request.name


def job_body(id: str) -> dict[str, object]:
    return {"id": id, "owner": "alice", "kind": "noop", "state": 4}


def model_body(id: str) -> dict[str, object]:
    return {"id": id, "name": id[2:], "owner": "alice", "job": id[2:]}


def test_listings_follow_their_cursor() -> None:
    """jobs() and models() ask page after page while the reply says more follow."""
    broker = FakeBroker()
    pages: dict[tuple[MsgType, str | None], tuple[MsgType, dict[str, Any]]] = {
        (MsgType.STATUS, None): (MsgType.STATUS_REPLY, {"jobs": [job_body("j1")], "cursor": "j1"}),
        (MsgType.STATUS, "j1"): (MsgType.STATUS_REPLY, {"jobs": [job_body("j2")]}),
        (MsgType.MODEL, None): (
            MsgType.MODEL_REPLY,
            {"models": [model_body("m-a")], "next": "m-a"},
        ),
        (MsgType.MODEL, "m-a"): (MsgType.MODEL_REPLY, {"models": [model_body("m-b")]}),
    }
    asked: list[Message] = []

    def serve() -> None:
        for _ in pages:
            request = broker.receive()
            asked.append(request)
            mtype, body = pages[(request.type, request.body["cursor"])]
            broker.reply(mtype, req=request.req, **body)

    server = threading.Thread(target=serve)
    server.start()
    with segq.connect(broker.endpoint, user="alice", hash_cache="", timeout=5) as c:
        assert [s.id for s in c.jobs(state="succeeded")] == ["j1", "j2"]
        assert [m.id for m in c.models(tag="kvasir")] == ["m-a", "m-b"]
    server.join()
    broker.sock.close()
    assert [(r.body["user"], r.body["state"], r.body["limit"]) for r in asked[:2]] == [
        ("alice", 4, 500)
    ] * 2
    assert [(r.body["op"], r.body["tag"]) for r in asked[2:]] == [(1, "kvasir")] * 2
