"""Artifact transfers (SPEC section 10): uploads (PUT, CHUNKs within the
broker's credit, PUT_DONE) and downloads (GET, CHUNKs, CREDIT as they are
written), sha256 checked at both ends, as client/segq_transfer.c does.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from collections.abc import Sequence
from typing import Any, BinaryIO

from . import errors
from ._hashcache import HashCache
from ._spec import MsgType
from ._transport import Transport
from ._wire import Message

DEFAULT_CHUNK = 1 << 20
GET_CREDIT = 8  # chunks the broker may send ahead of our writes
WINDOW = 8  # files moved at once (a fetch's, a submit's uploads) ...
WINDOW_BYTES = 8 << 20  # ... within so many bytes of them


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns, a.st_ctime_ns) == (
        b.st_dev,
        b.st_ino,
        b.st_size,
        b.st_mtime_ns,
        b.st_ctime_ns,
    )


class Transfers:
    """Uploads and downloads over one transport; ``bytes_uploaded`` counts
    the file bytes sent (an upload the broker skipped adds none)."""

    def __init__(self, transport: Transport, cache: HashCache | None) -> None:
        self.transport = transport
        self.cache = cache
        self.bytes_uploaded = 0

    # ---- uploads ----

    def upload(self, path: Path, known: str | None = None) -> tuple[str, int]:
        """Uploads a local file; returns its sha256 and size. Without `known`
        it is hashed as it is sent (one read) and the final CHUNK names the
        hash; with it, PUT names it, and nothing is sent when the broker has
        that file already (HashMismatch if the data does not match)."""
        with self.transport.exclusive():
            put = _Put(path, 0, known, retry=False)
            try:
                self._put_send(put)
                while not put.done:
                    self._on_put_message(put, self.transport.wait(put.req, put.xfer))
            finally:
                put.file.close()
            return put.sha256, put.size

    def upload_cached(self, path: Path) -> tuple[str, int]:
        """upload() through the hash cache: a file uploaded before and
        unchanged since is named by its hash, so the broker may skip it."""
        return self.upload_all([path])[0]

    def upload_all(self, paths: list[Path]) -> list[tuple[str, int]]:
        """upload_cached() of several files (a submit's), several at a time:
        up to WINDOW files within WINDOW_BYTES of them, as `segq
        submit` sends them. Returns their sha256s and sizes."""
        t = self.transport
        stored: list[tuple[str, int]] = [("", 0)] * len(paths)
        flight: list[_Put] = []
        waiting: _Put | None = None  # the next file, opened once however long it waits
        index = 0
        with t.exclusive():
            try:
                while index < len(paths) or flight:
                    while index < len(paths):
                        if waiting is None:
                            waiting = _Put(paths[index], index, None, retry=True)
                        if not _may_start(flight, waiting.size):
                            break
                        put, waiting = waiting, None
                        flight.append(put)
                        put.known = self.cache.lookup(put.before) if self.cache else None
                        self._put_send(put)
                        index += 1
                    msg = t.wait_any({p.req for p in flight}, {p.xfer for p in flight if p.xfer})
                    for put in flight:
                        if msg.req == put.req or (put.xfer and msg.body.get("xfer") == put.xfer):
                            self._on_put_message(put, msg)
                        if put.done:
                            self._remember(put)
                            stored[put.index] = (put.sha256, put.size)
                    flight = [p for p in flight if not p.done]
            finally:
                for put in flight + ([waiting] if waiting else []):
                    put.file.close()
        return stored

    def _remember(self, put: _Put) -> None:
        """A file sent as new and not changed meanwhile goes into the cache."""
        put.file.close()
        if self.cache and not put.known:
            after = os.stat(put.path)
            if _same_file(put.before, after):
                self.cache.remember(after, put.sha256)

    def _put_send(self, put: _Put) -> None:
        """PUT, naming the hash when it is known; the file read from its start."""
        body: dict[str, object] = {"size": put.size, "name": put.path.name}
        if put.known:
            body["hash"] = put.known
        put.restart()
        put.req = self.transport.send_request(MsgType.PUT, body)

    def _on_put_message(self, put: _Put, msg: Message) -> None:
        """PUT_READY, CREDIT or PUT_DONE of put's upload: its CHUNKs within
        the broker's credit, until PUT_DONE."""
        if msg.type is MsgType.PUT_READY and msg.body["have"]:
            if put.known is None:
                raise errors.ProtocolError(
                    "the broker says it has a file whose hash it was not told"
                )
            put.sha256, put.done = put.known, True
            return
        if msg.type not in (MsgType.PUT_READY, MsgType.CREDIT, MsgType.PUT_DONE):
            raise errors.ProtocolError(
                f"the broker answered {msg.type.name} where PUT_READY was expected"
            )
        if msg.type is MsgType.PUT_READY:
            put.xfer, put.credit = msg.body["xfer"], msg.body["credit"]
            put.chunk = msg.body["chunk"] or DEFAULT_CHUNK
        elif msg.type is MsgType.CREDIT:
            put.credit += msg.body["n"]
        elif msg.type is MsgType.PUT_DONE:
            self._put_done(put, msg)
            return
        self._send_credited(put)

    def _put_done(self, put: _Put, msg: Message) -> None:
        code = msg.body["code"]
        if code == errors.EHASH and put.known and put.retry:
            put.known = None  # remembered wrong (a change stat did not show): sent as new
            self._put_send(put)
            return
        if code < 0:
            why = msg.body["msg"] or errors.strerror(code)
            raise errors.error(code, f"upload of '{put.path}' refused by the broker: {why}")
        if not put.sent_last:
            raise errors.ProtocolError(f"the broker ended the upload of '{put.path}' early")
        put.sha256, put.done = put.known or put.sha.hexdigest(), True

    def _send_credited(self, put: _Put) -> None:
        """As many CHUNKs as the credit allows, from where the upload is."""
        while put.credit > 0 and not put.sent_last:
            want = min(put.chunk, put.size - put.offset)
            data = put.file.read(want)
            if len(data) != want:
                raise errors.SegqError(
                    errors.EIO,
                    None,
                    f"cannot read {put.path} at offset {put.offset}: did it change?",
                )
            put.sha.update(data)
            put.sent_last = put.offset + want == put.size
            body = {"xfer": put.xfer, "off": put.offset, "last": put.sent_last}
            if put.sent_last and not put.known:
                body["hash"] = put.sha.hexdigest()
            self.transport.send(Message(MsgType.CHUNK, body, data))
            put.offset += want
            self.bytes_uploaded += want
            put.credit -= 1

    # ---- downloads ----

    def download(self, job: str, name: str, sink: BinaryIO) -> str:
        """Writes job's output `name` into sink, checking its size and sha256
        (HashMismatch); returns the sha256."""
        with self.transport.exclusive():
            get = _Get(job, name, 0, sink)
            get.req = self._send_get(get)
            while not get.done:
                self._on_message(get, self.transport.wait(get.req, get.xfer))
            return get.sha.hexdigest()

    def fetch(self, job: str, name: str, path: Path) -> str:
        """Downloads into a private temporary file beside path, fsyncs it and
        renames it into place; nothing is left behind on failure."""
        return self.fetch_outputs(job, [(name, path, 0)])[0]

    def fetch_outputs(self, job: str, outputs: list[tuple[str, Path, int]]) -> list[str]:
        """fetch() of several outputs (name, path, size or 0 when unknown),
        several at a time: up to WINDOW files within WINDOW_BYTES of
        them (a larger one goes alone), as `segq fetch` does. Returns their
        sha256s; on a failure the files in flight leave nothing behind,
        those in place stay."""
        t = self.transport
        shas = [""] * len(outputs)
        flight: list[_Get] = []
        index = 0
        with t.exclusive():
            try:
                while index < len(outputs) or flight:
                    while index < len(outputs) and _may_start(flight, outputs[index][2]):
                        name, path, size = outputs[index]
                        flight.append(_Get(job, name, size, _TempFile(path), index))
                        flight[-1].req = self._send_get(flight[-1])
                        index += 1
                    msg = t.wait_any({g.req for g in flight}, {g.xfer for g in flight if g.xfer})
                    for get in flight:
                        self._on_message(get, msg)
                        if get.done:
                            get.sink.keep()
                            shas[get.index] = get.sha.hexdigest()
                    flight = [g for g in flight if not g.done]
            except BaseException:
                for get in flight:
                    get.sink.drop()
                raise
        return shas

    def _send_get(self, get: _Get) -> int:
        body = {"job": get.job, "name": get.name, "credit": GET_CREDIT}
        return self.transport.send_request(MsgType.GET, body)

    def _on_message(self, get: _Get, msg: Message) -> None:
        """msg into get if it is its GET_READY or one of its CHUNKs, in
        order, crediting the broker as they land."""
        if msg.req == get.req and msg.type is not MsgType.GET_READY:
            raise errors.ProtocolError(
                f"the broker answered {msg.type.name} where GET_READY was expected"
            )
        if msg.type is MsgType.GET_READY and msg.req == get.req and not get.xfer:
            get.xfer, get.size, get.expected = msg.body["xfer"], msg.body["size"], msg.body["hash"]
            return
        if msg.type is not MsgType.CHUNK or not get.xfer or msg.body["xfer"] != get.xfer:
            return
        data = msg.data or b""
        end = get.offset + len(data)
        if (
            msg.body["off"] != get.offset
            or end > get.size
            or (msg.body["last"] and end != get.size)
        ):
            raise errors.ProtocolError(
                f"{get.what}: chunk at offset {msg.body['off']} does not follow {get.offset} of "
                f"{get.size} bytes (transfer broken)"
            )
        get.sink.write(data)
        get.sha.update(data)
        get.offset = end
        if not msg.body["last"]:
            self.transport.send(Message(MsgType.CREDIT, {"xfer": get.xfer, "n": 1}))
            return
        if get.sha.hexdigest() != get.expected:
            raise errors.HashMismatch(
                f"{get.what}: sha256 {get.sha.hexdigest()} of the received data is not the "
                f"artifact's {get.expected}"
            )
        get.done = True  # a file of size 0 too ends with its one (empty) CHUNK


def _may_start(flight: Sequence[_Get | _Put], size: int) -> bool:
    """The first file in flight always; others while all stay within WINDOW_BYTES."""
    return not flight or (
        len(flight) < WINDOW and size + sum(g.size_hint for g in flight) <= WINDOW_BYTES
    )


class _TempFile:
    """A private temporary file beside path, renamed into place once
    synced (keep) or removed (drop)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f"{path.name}.segq-", dir=path.parent)
        self.path = path
        self.file = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def keep(self) -> None:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self.drop()
            raise

    def drop(self) -> None:
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


class _Get:
    """One output on its way here: GET, GET_READY, then CHUNKs into sink,
    hashed as they land."""

    def __init__(self, job: str, name: str, size_hint: int, sink: Any, index: int = 0) -> None:
        self.job, self.name, self.sink, self.index = job, name, sink, index
        self.size_hint = size_hint  # the size the caller expects, for WINDOW_BYTES
        self.what = f"{job}:{name}"
        self.req = self.xfer = self.size = self.offset = 0
        self.expected = ""
        self.sha = hashlib.sha256()
        self.done = False


class _Put:
    """One file on its way to the broker: PUT (naming `known`, the hash the
    cache remembers, if any), PUT_READY, CHUNKs within the credit, hashed
    as they are read, until PUT_DONE. retry: sent as new when `known`
    proves wrong."""

    def __init__(self, path: Path, index: int, known: str | None, retry: bool) -> None:
        self.path, self.index, self.known, self.retry = path, index, known, retry
        self.file = open(path, "rb")
        self.before = os.fstat(self.file.fileno())
        self.size = self.before.st_size
        self.size_hint = self.size  # for the window, as a download's
        self.sha256 = ""
        self.done = False
        self.restart()

    def restart(self) -> None:
        self.file.seek(0)
        self.sha = hashlib.sha256()
        self.req = self.xfer = self.credit = self.offset = 0
        self.chunk = DEFAULT_CHUNK
        self.sent_last = False
