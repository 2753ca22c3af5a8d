"""One DEALER socket to the broker: requests matched to replies by request
id (SPEC section 7), and the CurveZMQ handshake watched through libzmq's
socket monitor so that a refused key is said at once (the C client's
s_watch_handshakes / s_handshake_error). A PUT or GET the broker turns away
for a moment (ELIMIT: no transfer to spare) is sent again while the wait
for its answer goes on (_resend.py).
"""

from __future__ import annotations

import collections
import logging
import math
import os
import threading
import time
from pathlib import Path
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import errors
from ._keys import Keys, default_cert
from ._resend import Resend
from ._spec import REQUESTS, VERSION, MsgType
from ._wire import Message, decode, encode

log = logging.getLogger("segq")

_HANDSHAKE_EVENTS = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)
# libzmq reconnects every 100 ms: this many handshakes broken off in a row
# are a broker that refuses this client, not a hiccup.
_HANDSHAKE_TRIES = 3
_TRANSFER_TYPES = (MsgType.CHUNK, MsgType.CREDIT, MsgType.PUT_DONE)
_RESENT_TYPES = (MsgType.PUT, MsgType.GET)  # they open a transfer: ELIMIT is for a moment


def _own_cert() -> Path | None:
    """The user's certificate where the client looks for one (SEGQ_CERT,
    else the config dir), if it is there."""
    try:
        cert = default_cert()
    except errors.SegqError:
        return None
    return cert if os.access(cert, os.R_OK) else None


class Transport:
    """The socket, the request ids and the replies that came for other requests."""

    def __init__(self, broker: str, user: str, keys: Keys | None, timeout: float) -> None:
        self.broker = broker
        self.user = user
        self.keys = keys
        self.timeout = timeout
        self.sent: collections.Counter[MsgType] = collections.Counter()
        self._next_req = 1
        self._pending: set[int] = set()  # requests sent whose reply is not yet taken
        self._stash: dict[int, Message] = {}  # their replies, received during other waits
        self._resend = Resend()  # PUTs and GETs sent, until answered
        self._heard = False  # the broker has answered at least once
        self._auth_status = 0  # ZAP status of a refused certificate
        self._failures = 0  # handshakes broken off (not by ZAP)
        self._mismatch = False  # ... because one side speaks CurveZMQ and the other not
        self._handshake_ok = False
        self._dropped = False  # the connection broke since the broker last answered
        self._lock = threading.RLock()
        self._sock = zmq.Context.instance().socket(zmq.DEALER)
        # a pipelined burst's replies must never be dropped by a full queue,
        # and a client that exits must not hang on unsent requests
        self._sock.set(zmq.RCVHWM, 0)
        self._sock.set(zmq.SNDHWM, 0)
        self._sock.set(zmq.LINGER, 0)
        # before connecting, so that no handshake goes unseen; a broken
        # connection too: a request sent before it gets no answer
        self._monitor: zmq.Socket[bytes] | None = self._sock.get_monitor_socket(
            _HANDSHAKE_EVENTS | zmq.EVENT_DISCONNECTED
        )
        try:
            if keys:
                self._sock.curve_publickey = keys.public_key.encode()
                self._sock.curve_secretkey = keys.secret_key.encode()
                self._sock.curve_serverkey = keys.server_key.encode()
            self._sock.connect(broker)
        except zmq.ZMQError as failure:
            self.close()
            if keys and failure.errno != zmq.EINVAL:
                raise errors.AuthError(f"cannot use CurveZMQ keys: {failure}") from None
            raise errors.InvalidArgument(
                f"invalid broker URL '{broker}' (expected e.g. tcp://127.0.0.1:5555; check "
                "broker= or SEGQ_BROKER)"
            ) from None

    def close(self) -> None:
        """Closes the socket; pending requests are forgotten."""
        with self._lock:
            if self._monitor is not None:
                self._sock.disable_monitor()
                self._monitor.close(linger=0)
                self._monitor = None
            self._sock.close(linger=0)

    def exclusive(self) -> threading.RLock:
        """Held across a dialog of several messages (a transfer), so that
        another thread's request does not read its messages."""
        return self._lock

    # ---- sending ----

    def send(self, msg: Message) -> None:
        """Sends a message as it is (CHUNK, CREDIT)."""
        with self._lock:
            self._send_frames(msg.type, encode(msg))

    def _send_frames(self, mtype: MsgType, frames: list[bytes]) -> None:
        self._sock.send_multipart(frames, copy=False)
        self.sent[mtype] += 1

    def send_request(self, mtype: MsgType, body: dict[str, Any]) -> int:
        """Sends a request with a fresh request id (and this client's user
        where the type names one, unless the body does); returns the id."""
        with self._lock:
            req = self._next_req
            self._next_req += 1
            user_key = REQUESTS[mtype][1]
            fields: dict[str, Any] = {"req": req, **body}
            if user_key:
                fields.setdefault(user_key, self.user)
            frames = encode(Message(mtype, fields))
            if mtype in _RESENT_TYPES:
                self._resend.keep(req, frames)
            self._send_frames(mtype, frames)
            self._pending.add(req)
            return req

    def request(
        self, mtype: MsgType, body: dict[str, Any], timeout: float | None = None
    ) -> Message:
        """Sends a request and returns its reply (an ERROR raises its SegqError)."""
        with self._lock:
            return self.reply(mtype, self.send_request(mtype, body), timeout)

    def reply(self, mtype: MsgType, req: int, timeout: float | None = None) -> Message:
        """The reply to request `req` of type `mtype`, as SPEC names it."""
        msg = self.wait(req, timeout=timeout)
        expected = REQUESTS[mtype][0]
        if msg.type is not expected:
            raise errors.ProtocolError(
                f"the broker answered {msg.type.name} where {expected.name} was expected"
            )
        return msg

    # ---- receiving ----

    def wait(self, req: int = 0, xfer: int = 0, timeout: float | None = None) -> Message:
        """The next message about request `req` (its reply, or an ERROR) or
        transfer `xfer` (CHUNK, CREDIT, PUT_DONE). Replies to other requests
        in flight are kept for their turn; late ones are dropped."""
        try:
            return self.wait_any({req} - {0}, {xfer} - {0}, timeout)
        finally:
            self._pending.discard(req)

    def wait_any(self, reqs: set[int], xfers: set[int], timeout: float | None = None) -> Message:
        """The next message about any of the requests `reqs` or transfers
        `xfers`, as wait() takes one: several downloads at once."""
        with self._lock:
            for req in reqs & self._stash.keys():
                self._pending.discard(req)
                return self._check(self._stash.pop(req))
            timeout = self.timeout if timeout is None else timeout
            deadline = time.monotonic() + timeout
            try:
                while True:
                    msg = self._recv(deadline, timeout)
                    if self._refused_for_now(msg):
                        deadline = time.monotonic() + timeout  # the broker answers: it is there
                        continue
                    self._resend.forget(msg.req)
                    mine = msg.req in reqs or (msg.type is MsgType.ERROR and msg.req == 0)
                    if mine or (msg.type in _TRANSFER_TYPES and msg.body["xfer"] in xfers):
                        self._pending.discard(msg.req)
                        return self._check(msg)
                    if msg.req in self._pending:
                        self._stash[msg.req] = msg
            except BaseException:
                self._pending.difference_update(reqs)  # given up: their replies come late
                for req in reqs:
                    self._resend.forget(req)  # ... and are not asked for again
                raise

    def _refused_for_now(self, msg: Message) -> bool:
        """Whether msg turns a kept request away for a moment (ELIMIT), to be
        sent again: then the wait goes on."""
        return (
            msg.type is MsgType.ERROR
            and msg.body["code"] == errors.ELIMIT
            and self._resend.refused(msg.req, time.monotonic())
        )

    def _check(self, msg: Message) -> Message:
        if msg.type is not MsgType.ERROR:
            return msg
        code, text = msg.body["code"], msg.body["msg"]
        if code == errors.EVERSION:
            versions = ", ".join(map(str, msg.body["vers"])) or "(none listed)"
            text = (
                f"the broker at {self.broker} speaks protocol version(s) {versions}; this "
                f"client speaks {VERSION}: upgrade the older of the two"
            )
        raise errors.error(code if code < 0 else errors.EPROTO, text)

    def _recv(self, deadline: float, timeout: float) -> Message:
        """One well-formed message before the deadline (timeout from now),
        sending again meanwhile the requests that are due."""
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        if self._monitor is not None:
            poller.register(self._monitor, zmq.POLLIN)
        while True:
            now = time.monotonic()
            for frames in self._resend.take_due(now):
                self._sock.send_multipart(frames, copy=False)
            left = max(0.0, min(deadline, self._resend.due()) - now)
            ready = dict(poller.poll(math.ceil(left * 1000)))
            if self._monitor is not None and (self._monitor in ready or not ready):
                self._read_monitor()
                if not self._heard:
                    self._raise_handshake_error()  # a refusal is final: no need to wait
            if self._sock in ready:
                msg = self._read()
                if msg is not None:
                    return msg
            elif not ready and time.monotonic() >= deadline:
                raise self._silence(timeout)

    def _read(self) -> Message | None:
        frames = self._sock.recv_multipart()
        self._heard = True
        self._dropped = False
        try:
            return decode(frames)
        except errors.VersionError:
            raise errors.VersionError(
                f"the broker at {self.broker} answered in protocol version {frames[0][2]}; this "
                f"client speaks {VERSION}: upgrade the older of the two"
            ) from None
        except errors.SegqError as failure:
            log.warning(
                "dropped a malformed message from the broker at %s: %s", self.broker, failure
            )
            return None  # as peers do

    def _silence(self, timeout: float) -> errors.SegqError:
        if self._dropped:
            return errors.Timeout(
                f"the connection to the broker at {self.broker} broke while waiting for its "
                "answer (did segqd restart?): the answer is lost; run it again (what the broker "
                "acknowledged before stays)"
            )
        if self._heard:
            return errors.Timeout(
                f"no answer from the broker at {self.broker} within {timeout:g} s (is it "
                "overloaded or stopped? retry with a longer timeout=)"
            )
        if self.keys:
            return errors.Unavailable(
                f"the broker at {self.broker} did not answer within {timeout:g} s: is segqd "
                f"running there (check SEGQ_BROKER or broker=)? The broker key "
                f"{self.keys.broker_key} may be wrong (ask the admin for the broker's "
                "broker.cert), or your certificate is not allowed there (ask the admin to add it)"
            )
        return errors.Unavailable(
            f"the broker at {self.broker} did not answer within {timeout:g} s: is segqd "
            "running there? Check SEGQ_BROKER (or connect(broker=...))"
        )

    # ---- the handshake ----

    def _read_monitor(self) -> None:
        assert self._monitor is not None
        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)
            kind, value = event["event"], event["value"]
            if kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self._auth_status = value or 400
            elif kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._handshake_ok = True
            elif kind == zmq.EVENT_DISCONNECTED:
                self._dropped = self._heard
            elif (
                kind == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                and value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
            ):
                self._mismatch = True
            else:
                self._failures += 1

    def _raise_handshake_error(self) -> None:
        """Says why the broker does not answer, if the handshake shows it.
        Where keys are on one side only, the side that sees it first closes
        and the other often sees a broken pipe instead of the mismatch: a
        plain client is then told keys are needed all the same, a keyed
        one asks the broker without keys."""
        refused = self._failures >= _HANDSHAKE_TRIES and not self._handshake_ok
        if refused and self.keys and not self._mismatch and not self._auth_status:
            self._mismatch = self._broker_without_keys()
        own = _own_cert() if not self.keys and (self._mismatch or refused) else None
        if own:
            raise errors.AuthError(
                f"the broker at {self.broker} requires keys (CurveZMQ): your certificate {own} "
                "is here, but not the broker's key: ask the broker's admin for its broker.cert, "
                "to put beside it (or give broker_key= or SEGQ_BROKER_KEY)"
            )
        if not self.keys and (self._mismatch or refused):
            raise errors.AuthError(
                f"the broker at {self.broker} requires keys (CurveZMQ) and this client has none: "
                "ask the broker's admin for a certificate (make your key pair with `segq keygen` "
                "and send them the .cert it writes) and for the broker's broker.cert, to put in "
                "~/.config/segq/ (see `segq keygen --help`)"
            )
        if self.keys and self._mismatch:
            found = ", found in your config dir" if self.keys.broker_key_by_default else ""
            raise errors.AuthError(
                f"the broker at {self.broker} runs without keys, and this client would use "
                f"CurveZMQ (broker key {self.keys.broker_key}{found}): for this broker give "
                "broker_key='' (or set SEGQ_BROKER_KEY to nothing)"
            )
        if self.keys and self._auth_status:
            raise errors.AuthError(
                f"the broker at {self.broker} refused your certificate {self.keys.cert} (ZAP "
                f"status {self._auth_status}): it is not (or no longer) in the broker's keys "
                "directory. Send that file (the public part, never the _secret one) to the "
                "broker's admin and ask them to add it to certs/"
            )
        if self.keys and refused:
            raise errors.AuthError(
                f"the broker at {self.broker} broke off the CurveZMQ handshake: the broker key "
                f"{self.keys.broker_key} is not this broker's. Get the broker's current "
                "broker.cert from its admin and give it with broker_key= or SEGQ_BROKER_KEY"
            )

    def _broker_without_keys(self) -> bool:
        """Whether the broker completes a handshake without keys: asked when
        CurveZMQ handshakes keep breaking off, to tell a broker that runs
        without keys from a wrong broker key. The probe sends nothing."""
        probe = zmq.Context.instance().socket(zmq.DEALER)
        probe.set(zmq.LINGER, 0)
        monitor = probe.get_monitor_socket(_HANDSHAKE_EVENTS)
        try:
            probe.connect(self.broker)
            if not monitor.poll(1000):
                return False
            return bool(recv_monitor_message(monitor)["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED)
        finally:
            probe.disable_monitor()
            monitor.close(linger=0)
            probe.close(linger=0)
