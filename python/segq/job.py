"""Jobs: what the broker says of one (:class:`JobStatus`, SPEC section 5's
job structure, named as `segq --json status` names it) and a handle to act
on one (:class:`Job`): wait, logs, cancel, fetch, pairs.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import errors
from ._folds import _sha256
from ._spec import JOB_STATES, MsgType
from .progress import Progress

log = logging.getLogger("segq")

# How long a wait asks again a broker that does not answer: a restart or an
# upgrade takes seconds, and a long wait should outlast it (as `segq wait`).
BROKER_SILENT_MAX_S = 300.0

if TYPE_CHECKING:
    import numpy as np

    from .client import Client

FINAL_STATES = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class Artifact:
    """A file on the broker: its name (an output's path), sha256 and size."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Input:
    """A job's input as submitted: an uploaded file (sha256), another job's
    output (job, output: None for its principal one), or a catalogue model
    (model: its id, with the checkpoint's sha256)."""

    name: str
    sha256: str | None
    size: int
    job: str | None
    output: str | None
    model: str | None


@dataclass(frozen=True)
class Transition:
    """A state the job entered, when and why."""

    state: str
    time: float
    reason: str | None


def _time(seconds: float) -> float | None:
    return seconds if seconds > 0 else None


@dataclass(frozen=True)
class JobStatus:
    """A job as the broker knows it. Times are Unix seconds (None: not yet);
    ``history`` only from ``status(detail=True)``."""

    id: str
    owner: str
    kind: str
    state: str  # waiting, queued, running, succeeded, failed, cancelled
    priority: int
    attempt: int  # attempts started so far
    max_attempts: int
    gpu_mem: int  # bytes; 0: a CPU job
    cpu_slots: int
    time_limit_s: int
    worker: str | None  # the node running it
    gpu: int | None  # the GPU index there
    fraction: float  # progress, 0..1
    phase: str | None
    message: str | None  # latest progress message, or what it waits for
    reason: str | None  # why it failed or was cancelled
    exit_code: int | None
    signal: int | None
    created: float | None
    started: float | None
    finished: float | None
    params: dict[str, Any]
    metrics: dict[str, float]
    inputs: tuple[Input, ...]
    after: tuple[str, ...]
    outputs: tuple[Artifact, ...]
    history: tuple[Transition, ...]
    held: bool = False  # `hold`: not started until released

    @property
    def final(self) -> bool:
        """Whether it has ended (succeeded, failed or cancelled)."""
        return self.state in FINAL_STATES

    @classmethod
    def from_wire(cls, j: dict[str, Any]) -> JobStatus:
        return cls(
            id=j["id"],
            owner=j["owner"],
            kind=j["kind"],
            state=JOB_STATES[j["state"] - 1],
            priority=j["prio"],
            attempt=j["att"],
            max_attempts=j["maxa"],
            gpu_mem=j["gmem"],
            cpu_slots=j["cpus"],
            time_limit_s=j["tlim"],
            worker=j["worker"],
            gpu=j["gpu"] if j["gpu"] >= 0 else None,
            fraction=j["frac"],
            phase=j["phase"],
            message=j["msg"],
            reason=j["reason"],
            exit_code=j["exit"] if j["exit"] >= 0 else None,
            signal=j["sig"] or None,
            created=_time(j["ctime"]),
            started=_time(j["stime"]),
            finished=_time(j["ftime"]),
            params=j["params"],
            metrics=j["metrics"],
            inputs=tuple(
                Input(i["name"], i["hash"], i["size"], i["job"], i["out"], i["model"])
                for i in j["inputs"]
            ),
            after=tuple(j["after"]),
            outputs=tuple(Artifact(o["name"], o["hash"], o["size"]) for o in j["outs"]),
            history=tuple(
                Transition(JOB_STATES[h["state"] - 1], h["time"], h["reason"]) for h in j["hist"]
            ),
            held=j["held"],
        )


def _natural(name: str) -> list[Any]:
    """Sort key that orders sample_9 before sample_10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _holds(path: Path, artifact: Artifact) -> bool:
    """Whether the file at path holds exactly the artifact's content."""
    return (
        path.is_file() and path.stat().st_size == artifact.size and _sha256(path) == artifact.sha256
    )


def _in_the_way(paths: list[str]) -> str:
    """What `segq fetch` says of files with other content in its way (the
    fix in this client's words)."""
    named = ", ".join(f"'{p}'" for p in paths[:3])
    if len(paths) > 3:
        named += f" and {len(paths) - 3} more"
    one = len(paths) == 1
    return (
        f"{named} exist{'s' if one else ''} already with other content: nothing was fetched "
        f"(force=True overwrites {'it' if one else 'them'}, or fetch into another folder)"
    )


class _Patience:
    """A wait's patience with a broker that does not answer: said once on
    the log, then asked again, for up to BROKER_SILENT_MAX_S."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.heard = False  # a broker that never answered this wait is no restart

    def status(self, client: Client, ids: list[str], wait: float) -> dict[str, JobStatus] | None:
        """The jobs' statuses, or None when the broker did not answer (yet)."""
        try:
            found = client._status(ids, False, wait)
        except (errors.Timeout, errors.Unavailable):
            now = time.monotonic()
            if not self.heard:
                raise
            if self.since is None:
                self.since = now
                log.warning(
                    "no answer from the broker at %s (restarting?): still waiting, for up to %g s",
                    client.broker,
                    BROKER_SILENT_MAX_S,
                )
            elif now - self.since >= BROKER_SILENT_MAX_S:
                raise
            return None
        if self.since is not None:
            log.warning("the broker answers again")
            self.since = None
        self.heard = True
        return found


def _check_deadline(deadline: float | None, timeout: float | None, who: str) -> None:
    """Timeout once a wait's deadline has passed with no answer."""
    if deadline is not None and time.monotonic() >= deadline:
        raise errors.Timeout(f"{who} did not answer within the wait's {timeout:g} s")


def _ended_badly(status: JobStatus) -> str:
    """ "failed: REASON" or "was cancelled: REASON" for a job that ended so,
    else "": it will not make what is missing."""
    how = {"failed": "failed", "cancelled": "was cancelled"}.get(status.state)
    if how is None:
        return ""
    return f"{how}: {status.reason}" if status.reason else how


class Job:
    """A job on the broker, by id. Made by Client.submit, Client.generate
    and Client.job; ``gpu_mem`` and ``cpu_slots`` are the resources it was
    given when this client submitted it (None otherwise)."""

    def __init__(
        self, client: Client, id: str, gpu_mem: int | None = None, cpu_slots: int | None = None
    ) -> None:
        self.client = client
        self.id = id
        self.gpu_mem = gpu_mem
        self.cpu_slots = cpu_slots

    def __repr__(self) -> str:
        return f"Job({self.id!r})"

    def __str__(self) -> str:
        return self.id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id and other.client is self.client

    def __hash__(self) -> int:
        return hash(self.id)

    def output(self, name: str) -> str:
        """A reference to one of its outputs, for another job's input: ``"JOB:NAME"``."""
        return f"{self.id}:{name}"

    def status(self, detail: bool = False) -> JobStatus:
        """What the broker says of it now (detail: with its state history)."""
        return self.client._status([self.id], detail)[self.id]

    def wait(
        self,
        progress: bool = True,
        timeout: float | None = None,
        check: bool = True,
        interval: float = 0.25,
    ) -> JobStatus:
        """Waits until it ends and returns its final status.

        progress: show a progress bar (Jupyter, terminal, else a line per
        change). timeout: seconds, None for no limit (Timeout when it is
        still going). A broker that stops answering (a restart) is asked
        again for up to BROKER_SILENT_MAX_S, said once on the "segq" log.
        check: raise JobFailed when it failed or was cancelled.
        interval: seconds between progress updates; the broker answers as
        soon as the job's end is stored, whatever the interval.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        display = Progress(self.id) if progress else None
        wait = 0.0  # the first answer at once, then the broker's answer at its end
        patience = _Patience()
        try:
            while True:
                asked = time.monotonic()
                found = patience.status(self.client, [self.id], wait)
                if found is None:
                    _check_deadline(deadline, timeout, f"job {self.id}: the broker")
                    continue
                status = found[self.id]
                if display:
                    display.update(status.fraction, status.state, status.phase or "")
                if status.final:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    raise errors.Timeout(
                        f"job {self.id} is still {status.state} after {timeout:g} s"
                    )
                # a broker that answered a waiting request early (an older one,
                # or one holding many) is asked again when the interval is up
                left = interval - (time.monotonic() - asked)
                if wait and left > 0:
                    time.sleep(left)
                wait = interval
        finally:
            if display:
                display.close()
        if check and status.state != "succeeded":
            raise errors.JobFailed(status)
        return status

    async def wait_async(
        self,
        progress: bool = False,
        timeout: float | None = None,
        check: bool = True,
        interval: float = 0.25,
    ) -> JobStatus:
        """wait() for asyncio: other tasks run while it waits."""
        statuses = await wait_all(
            [self], progress=progress, timeout=timeout, check=check, interval=interval
        )
        return statuses[0]

    def logs(self, follow: bool = False, interval: float = 0.25) -> Iterator[str]:
        """Its log (every attempt's stdout and stderr), as text chunks. With
        follow, waits for more until the job has ended and the whole log
        is read; without, stops at what there is now."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        offset = 0
        while True:
            reply = self.client._transport.request(
                MsgType.LOGS, {"job": self.id, "off": offset}
            ).body
            data: bytes = reply["data"]
            offset = reply["off"] + len(data)
            done = reply["done"] or (not data and not follow)
            text = decoder.decode(data, final=done)
            if text:
                yield text
            if done:
                return
            if not data:
                time.sleep(interval)

    def cancel(self) -> bool:
        """Cancels it: True if the broker took the cancel (a waiting or queued
        job is cancelled at once, a running one once its worker has stopped
        it: a second cancel until then is True too), False if it had already
        ended."""
        reply = self.client._transport.request(MsgType.CANCEL, {"jobs": [self.id]}).body
        result = next((r for r in reply["results"] if r["job"] == self.id), None)
        if result is None:
            raise errors.ProtocolError(f"the broker's answer to CANCEL does not name {self.id}")
        if result["code"] == errors.ESTATE:
            return False
        if result["code"] < 0:
            raise errors.error(result["code"], result["msg"] or f"cannot cancel {self.id}")
        return True

    def _hold(self, release: bool) -> None:
        reply = self.client._transport.request(
            MsgType.HOLD, {"jobs": [self.id], "release": release}
        ).body
        result = next((r for r in reply["results"] if r["job"] == self.id), None)
        if result is None:
            raise errors.ProtocolError(f"the broker's answer to HOLD does not name {self.id}")
        if result["code"] < 0:
            verb = "release" if release else "hold"
            raise errors.error(result["code"], result["msg"] or f"cannot {verb} {self.id}")

    def hold(self) -> None:
        """Keeps it from starting (a waiting or queued job) until release();
        raises StateError for a running or ended one."""
        self._hold(False)

    def retry(
        self,
        *,
        gpu_mem: int | str | None = None,
        cpu_slots: int | None = None,
        priority: int = 0,
        time_limit: int | None = None,
        max_attempts: int | None = None,
    ) -> Job:
        """Submits it again, if it failed or was cancelled (StateError
        otherwise), as `segq retry` does: its parameters and inputs as they
        were, its resources, time limit and attempts unless given here; a
        train resumes from the last scale it finished. Returns the new job."""
        from ._submit import resources  # _submit builds on this module

        body = {
            "kind": self.status().kind,
            "retry": self.id,
            **resources(gpu_mem, cpu_slots, priority, time_limit, max_attempts),
        }
        reply = self.client._transport.request(MsgType.SUBMIT, body).body
        return Job(self.client, reply["job"], reply["gmem"], reply["cpus"])

    def release(self) -> None:
        """Lets a held job start."""
        self._hold(True)

    def _outputs(self, names: Sequence[str] | None) -> list[Artifact]:
        """The outputs named (all: None), or the error that says why they
        cannot be fetched, in `segq fetch`'s words."""
        status = self.status()
        outputs = {o.name: o for o in status.outputs}
        if not outputs and status.owner != self.client.user:
            # another user's job comes without its data's names (admins see them)
            raise errors.PermissionDenied(
                f"job {self.id} belongs to {status.owner} and shows you no outputs: only its "
                "owner or an admin may fetch them"
            )
        ended = _ended_badly(status)
        missing = [n for n in names or () if n not in outputs]
        if missing:
            raise errors.NotFound(
                f"job {self.id} has no output {', '.join(missing)} (its outputs: "
                f"{', '.join(outputs) or 'none'}){'; it ' + ended if ended else ''}"
            )
        if not outputs and ended:
            raise errors.StateError(
                f"job {self.id} {ended}: it has no outputs (its log: `segq logs {self.id}`)"
            )
        if not outputs and status.state != "succeeded":
            raise errors.StateError(
                f"job {self.id} ({status.state}) has no outputs yet: wait for it with job.wait()"
            )
        return list(outputs.values()) if names is None else [outputs[n] for n in names]

    def fetch(
        self, dest: str | Path = ".", names: Sequence[str] | None = None, force: bool = False
    ) -> list[Path]:
        """Downloads its outputs (all, or those named) into the folder dest,
        each under its name (``images/x.png`` -> ``dest/images/x.png``),
        several at a time, sha256 checked, written beside and renamed into
        place: a failed download leaves nothing. A file already in an
        output's place with its content is kept (not fetched again); one
        with other content stops the fetch before anything is written
        (AlreadyExists), unless force. Returns the outputs' paths."""
        folder = Path(dest)
        places = [(a, folder / a.name) for a in self._outputs(names)]
        kept = {path for a, path in places if _holds(path, a)}
        in_the_way = [str(path) for _, path in places if path not in kept and path.exists()]
        if in_the_way and not force:
            raise errors.AlreadyExists(_in_the_way(in_the_way))
        wanted = [(a.name, path, a.size) for a, path in places if path not in kept]
        self.client._transfers.fetch_outputs(self.id, wanted)
        return [path for _, path in places]

    def read(self, name: str) -> bytes:
        """One output's bytes, sha256 checked, without writing a file."""
        buffer = io.BytesIO()
        self.client._transfers.download(self.id, name, buffer)
        return buffer.getvalue()

    def pairs(self) -> Iterator[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
        """A generate job's image/mask pairs as numpy arrays, in sample order:
        the image ``(H, W, 3)`` uint8 RGB, the mask ``(H, W)`` uint8 (0 or
        255), each a writable array of its own. Needs numpy and Pillow."""
        import numpy as np
        from PIL import Image

        status = self.status()
        if status.kind not in ("generate", "stylize"):
            raise errors.InvalidArgument(
                f"job {self.id} is a {status.kind} job: pairs() reads a generate's or a "
                "stylize's outputs"
            )
        if status.state != "succeeded":
            raise errors.StateError(
                f"job {self.id} is {status.state}: its pairs exist once it has succeeded"
            )
        names = {o.name for o in status.outputs}
        stems = sorted(
            (
                n[len("images/") : -len(".png")]
                for n in names
                if re.fullmatch(r"images/[^/]+\.png", n)
            ),
            key=_natural,
        )
        for stem in stems:
            mask = f"masks/{stem}.png"
            if mask not in names:
                raise errors.NotFound(f"job {self.id}: images/{stem}.png has no {mask}")
            # np.array, not asarray: Pillow hands its pixels over as a bytes
            # object, which numpy will not let be written, and the caller's
            # arrays are theirs to change in place (torch.from_numpy warns on
            # a read-only one)
            with Image.open(io.BytesIO(self.read(f"images/{stem}.png"))) as image:
                rgb = np.array(image.convert("RGB"))
            with Image.open(io.BytesIO(self.read(mask))) as grey:
                yield rgb, np.array(grey.convert("L"))


async def wait_all(
    jobs: Sequence[Job],
    progress: bool = False,
    timeout: float | None = None,
    check: bool = True,
    interval: float = 0.25,
) -> list[JobStatus]:
    """Waits until every job has ended; their final statuses, in order.

    The jobs are asked about together (one STATUS per client and poll, in
    a thread so the event loop runs on; with one client, the broker answers
    as soon as one of them has ended). check: raise JobFailed for the
    first that failed or was cancelled, once all have ended.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    last: dict[Job, JobStatus] = {}
    patience = {job.client: _Patience() for job in jobs}
    display = Progress(f"{len(jobs)} jobs") if progress else None
    wait = 0.0  # the first answers at once
    try:
        while True:
            asked, ended = time.monotonic(), sum(s.final for s in last.values())
            pending = [job for job in jobs if job not in last or not last[job].final]
            clients = {job.client for job in pending}
            for client in clients:
                ids = [job.id for job in pending if job.client is client]
                found = await asyncio.to_thread(
                    patience[client].status, client, ids, wait if len(clients) == 1 else 0.0
                )
                if found is not None:
                    last.update({job: found[job.id] for job in pending if job.client is client})
            if any(job not in last for job in jobs):
                _check_deadline(deadline, timeout, "the broker")
                continue  # a broker that has not answered yet
            done = [last[job] for job in jobs if last[job].final]
            if display:
                failed = sum(s.state != "succeeded" for s in done)
                fraction = sum(last[job].fraction if not last[job].final else 1.0 for job in jobs)
                display.update(
                    fraction / max(len(jobs), 1),
                    f"{len(done)}/{len(jobs)} done",
                    f"{failed} failed" if failed else "",
                )
            if len(done) == len(jobs):
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise errors.Timeout(
                    f"{len(jobs) - len(done)} of {len(jobs)} jobs still going after {timeout:g} s"
                )
            # polled (several clients) or answered early with no new end:
            # ask again when the interval is up
            left = interval - (time.monotonic() - asked)
            if len(done) == ended and left > 0 and (wait or len(clients) > 1):
                await asyncio.sleep(left)
            wait = interval
    finally:
        if display:
            display.close()
    statuses = [last[job] for job in jobs]
    bad = next((s for s in statuses if s.state != "succeeded"), None)
    if check and bad is not None:
        raise errors.JobFailed(bad)
    return statuses
