"""Artifact transfers (SPEC section 10): uploads (PUT, CHUNKs within the
broker's credit, PUT_DONE) and downloads (GET, CHUNKs, CREDIT as they are
written), sha256 checked at both ends, as client/segq_transfer.c does.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from . import errors
from ._hashcache import HashCache
from ._spec import MsgType
from ._transport import Transport
from ._wire import Message

DEFAULT_CHUNK = 1 << 20
GET_CREDIT = 8  # chunks the broker may send ahead of our writes


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
        t = self.transport
        with open(path, "rb") as file, t.exclusive():
            size = os.fstat(file.fileno()).st_size
            put: dict[str, object] = {"size": size, "name": path.name}
            if known:
                put["hash"] = known
            req = t.send_request(MsgType.PUT, put)
            ready = t.reply(MsgType.PUT, req).body
            if not ready["have"]:
                return self._send(file, path, size, req, ready, known), size
            if known is None:
                raise errors.ProtocolError(
                    "the broker says it has a file whose hash it was not told"
                )
            return known, size

    def _send(
        self,
        file: BinaryIO,
        path: Path,
        size: int,
        req: int,
        ready: dict[str, Any],
        known: str | None,
    ) -> str:
        """The file's CHUNKs, within the broker's credit, until PUT_DONE; its sha256."""
        t = self.transport
        xfer, credit = ready["xfer"], ready["credit"]
        chunk = ready["chunk"] or DEFAULT_CHUNK
        sha = hashlib.sha256()
        offset, sent_last = 0, False
        while True:
            while credit > 0 and not sent_last:
                want = min(chunk, size - offset)
                data = file.read(want)
                if len(data) != want:
                    raise errors.SegqError(
                        errors.EIO, None, f"cannot read {path} at offset {offset}: did it change?"
                    )
                sha.update(data)
                sent_last = offset + want == size
                body = {"xfer": xfer, "off": offset, "last": sent_last}
                if sent_last and not known:
                    body["hash"] = sha.hexdigest()
                t.send(Message(MsgType.CHUNK, body, data))
                offset += want
                self.bytes_uploaded += want
                credit -= 1
            msg = t.wait(req, xfer)
            if msg.type is MsgType.CREDIT:
                credit += msg.body["n"]
            elif msg.type is MsgType.PUT_DONE:
                code = msg.body["code"]
                if code < 0:
                    why = msg.body["msg"] or errors.strerror(code)
                    raise errors.error(code, f"upload of '{path}' refused by the broker: {why}")
                if not sent_last:
                    raise errors.ProtocolError(f"the broker ended the upload of '{path}' early")
                return sha.hexdigest()

    def upload_cached(self, path: Path) -> tuple[str, int]:
        """upload() through the hash cache: a file uploaded before and
        unchanged since is named by its hash, so the broker may skip it."""
        before = os.stat(path)
        known = self.cache.lookup(before) if self.cache else None
        if known:
            try:
                return known, self.upload(path, known)[1]
            except errors.HashMismatch:
                pass  # remembered wrong (a change stat did not show): sent as new
        sha, size = self.upload(path)
        after = os.stat(path)
        if self.cache and _same_file(before, after):
            self.cache.remember(after, sha)
        return sha, size

    # ---- downloads ----

    def download(self, job: str, name: str, sink: BinaryIO) -> str:
        """Writes job's output `name` into sink, checking its size and sha256
        (HashMismatch); returns the sha256."""
        t = self.transport
        what = f"{job}:{name}"
        with t.exclusive():
            req = t.send_request(MsgType.GET, {"job": job, "name": name, "credit": GET_CREDIT})
            ready = t.reply(MsgType.GET, req).body
            xfer, size = ready["xfer"], ready["size"]
            sha = hashlib.sha256()
            offset, last = 0, False
            while not last:  # a file of size 0 too is one (empty) CHUNK
                msg = t.wait(req, xfer)
                if msg.type is not MsgType.CHUNK:
                    continue
                data = msg.data or b""
                end = offset + len(data)
                if msg.body["off"] != offset or end > size or (msg.body["last"] and end != size):
                    raise errors.ProtocolError(
                        f"{what}: chunk at offset {msg.body['off']} does not follow {offset} of "
                        f"{size} bytes (transfer broken)"
                    )
                sink.write(data)
                sha.update(data)
                offset, last = end, msg.body["last"]
                if not last:
                    t.send(Message(MsgType.CREDIT, {"xfer": xfer, "n": 1}))
        if sha.hexdigest() != ready["hash"]:
            raise errors.HashMismatch(
                f"{what}: sha256 {sha.hexdigest()} of the received data is not the artifact's "
                f"{ready['hash']}"
            )
        return sha.hexdigest()

    def fetch(self, job: str, name: str, path: Path) -> str:
        """Downloads into a private temporary file beside path, fsyncs it and
        renames it into place; nothing is left behind on failure."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{path.name}.segq-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as file:
                sha = self.download(job, name, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return sha
