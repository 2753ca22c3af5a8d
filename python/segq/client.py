"""The client: a connection to a segq broker and the requests a notebook
makes of it (SPEC section 7), with the CLI's defaults and rules."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from . import _ckpt, _folds, _images, _keys, _style, _weights, errors
from ._hashcache import HashCache, default_path
from ._submit import WireInput, check_needed_inputs, named_inputs, resolve_inputs, resources
from ._transfer import Transfers
from ._transport import Transport
from ._spec import JOB_STATES, MODEL_LIST, MODEL_SHOW, MsgType
from .job import Artifact, Job, JobStatus
from .kinds import Kind, suggest
from .models import Model, Worker

log = logging.getLogger("segq")

DEFAULT_BROKER = "tcp://127.0.0.1:5555"
_STATUS_MAX = 500  # jobs one STATUS may name, and its largest page
_STATUS_WAIT_MAX_MS = 60000  # the longest one STATUS may wait for a job's end


def _job_ids(what: str, jobs: Iterable[Job | str] | Job | str) -> list[str]:
    """Job ids from a Job, an id, or several of them; InvalidArgument for
    anything else (a bare string is one id, not its characters)."""
    many = [jobs] if isinstance(jobs, (str, Job)) else jobs
    try:
        listed = list(many)  # type: ignore[arg-type]
    except TypeError:
        listed = [many]
    for job in listed:
        if not isinstance(job, (str, Job)):
            raise errors.InvalidArgument(
                f"{what}: a Job or a job id (str), or a list of them, not {type(job).__name__}"
            )
    return [str(job) for job in listed]


class Client:
    """A connection to a broker (one ZeroMQ DEALER socket). Safe to share
    between threads: one request at a time goes over the socket. Use
    :func:`segq.connect` to make one; close() it, or use it in a with block."""

    def __init__(
        self,
        broker: str,
        user: str,
        keys: _keys.Keys | None,
        timeout: float,
        hash_cache: HashCache | None,
    ) -> None:
        self._transport = Transport(broker, user, keys, timeout)
        self._transfers = Transfers(self._transport, hash_cache)
        self._kinds: dict[str, Kind] | None = None

    @property
    def broker(self) -> str:
        """The broker's URL."""
        return self._transport.broker

    @property
    def user(self) -> str:
        """Who this client acts as (with keys: its certificate's name)."""
        return self._transport.user

    @property
    def bytes_uploaded(self) -> int:
        """File bytes sent in uploads so far (a file the broker had adds none)."""
        return self._transfers.bytes_uploaded

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<segq.Client {self.user}@{self.broker}>"

    # ---- the kind table ----

    def kinds(self) -> list[Kind]:
        """The broker's job kinds: the table it checks submissions against
        (asked once per client)."""
        if self._kinds is None:
            reply = self._transport.request(MsgType.KINDS, {})
            self._kinds = {k["name"]: Kind.from_wire(k) for k in reply.body["kinds"]}
        return list(self._kinds.values())

    def kind(self, name: str) -> Kind:
        """One kind by name (UnknownKind if the broker has none of that name)."""
        kinds = {k.name: k for k in self.kinds()}
        if name not in kinds:
            raise errors.UnknownKind(
                f"unknown job kind '{name}'{suggest(name, kinds)} (known kinds: {', '.join(kinds)})"
            )
        return kinds[name]

    # ---- submitting ----

    def submit(
        self,
        kind: str,
        params: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        gpu_mem: int | str | None = None,
        cpu_slots: int | None = None,
        priority: int = 0,
        time_limit: int | None = None,
        max_attempts: int | None = None,
        after: Iterable[Job | str] = (),
        **fields: Any,
    ) -> Job:
        """Submits a job and returns it once the broker has stored it.

        fields: the kind's parameters and inputs by name (``niter=2000``,
        ``image="x.jpg"``); params and inputs take the same as dicts. An
        input is a local file or folder, a Job, "JOB" or "JOB:OUTPUT", an
        Artifact from upload(), or where it takes one (generate's model) a
        Model or a model's name; a list for an input that takes many files;
        {SET: ...} for one in named sets. Everything is checked against the
        broker's kind table before anything is sent; local files are then
        uploaded (skipped when unchanged since an earlier upload the broker
        still has).

        gpu_mem: bytes or "8G" (a GPU job); cpu_slots: a CPU job on that
        many slots (neither: the kind's default on the broker); priority
        orders your own jobs (-1000000..1000000; above, ahead of fair share:
        admins only); time_limit: seconds;
        max_attempts: runs allowed when workers are lost; after: jobs that
        must succeed first.
        """
        if not isinstance(kind, str):
            raise errors.InvalidArgument(
                f"kind: a job kind's name (train, generate, ...), not {type(kind).__name__}"
            )
        spec = self.kind(kind)
        given_params, given_inputs = dict(params or {}), dict(inputs or {})
        for name, value in fields.items():
            if spec.param(name) is None and spec.input(name) is None:
                raise spec.unknown(name)
            target = given_params if spec.param(name) else given_inputs
            if name in target:
                raise errors.InvalidArgument(f"{name} is given twice")
            target[name] = value
        # first what the kind table alone says, so that a typo is named before
        # a file is looked for; then the local files
        checked = spec.check_params(given_params)
        named = named_inputs(spec, given_inputs)
        all_params = spec.with_defaults(checked)
        check_needed_inputs(spec, all_params, named)
        body: dict[str, Any] = {
            "kind": kind,
            "params": checked,
            "after": _job_ids("after", after),
            **resources(gpu_mem, cpu_slots, priority, time_limit, max_attempts),
        }
        wire_inputs = resolve_inputs(spec, named)
        # local files as `segq submit` reads them, in its order (cli_check.c)
        if kind == "train":
            _images.check_train(all_params, given_inputs)
        if kind == "generate":
            _ckpt.check_generate(all_params, given_inputs)
        if kind == "stylize":
            _style.check_stylize(given_inputs)
            _weights.check_stylize_weights(given_inputs)
        if kind == "evaluate":
            _images.check_evaluate_sets(given_inputs)
            _weights.check_evaluate_weights(all_params, given_inputs)
            _folds.check_evaluate(all_params, given_inputs, self._job_status, self.model)
        self._upload_inputs(wire_inputs)
        body["inputs"] = [wire.wire() for wire in wire_inputs]
        reply = self._transport.request(MsgType.SUBMIT, body).body
        if gpu_mem is None and cpu_slots is None and not spec.test:
            log.info(
                "submitted %s (%s): %d bytes of GPU memory, %d CPU slots (the broker's default)",
                reply["job"],
                kind,
                reply["gmem"],
                reply["cpus"],
            )
        return Job(self, reply["job"], reply["gmem"], reply["cpus"])

    def _job_status(self, id: str) -> JobStatus:
        return self._status([id], False)[id]

    def _upload_inputs(self, wires: list[WireInput]) -> None:
        """The inputs given as local files, uploaded several at a time."""
        local = [wire for wire in wires if wire.path is not None]
        stored = self._transfers.upload_all([wire.path for wire in local if wire.path])
        for wire, (digest, size) in zip(local, stored):
            wire.hash, wire.size = digest, size

    def generate(self, model: str | Model | Job, count: int | None = None, **fields: Any) -> Job:
        """Submits generate from a model: its name in the catalogue (yours,
        or the one of that name shared with you), OWNER/NAME, m-ID, a Model,
        a train Job, or a local checkpoint file. count: pairs to make (the
        kind's default if None); fields as for submit()."""
        if count is not None:
            fields["count"] = count
        return self.submit("generate", model=model, **fields)

    def upload(self, path: str | os.PathLike[str], sha256: str | None = None) -> Artifact:
        """Uploads a local file; returns the Artifact, which an input may name.
        sha256: the file's, when you know it (nothing is sent when the
        broker has it; HashMismatch when the data does not match it)."""
        path = Path(path)
        if not path.is_file():
            raise (errors.InvalidArgument if path.exists() else errors.NotFound)(
                f"upload: '{path}' is {'not a file' if path.exists() else 'not there'}"
            )
        if sha256 is None:
            digest, size = self._transfers.upload_cached(path)
        else:
            digest, size = self._transfers.upload(path, sha256)
        return Artifact(path.name, digest, size)

    # ---- jobs ----

    def job(self, id: str) -> Job:
        """A job by id (NotFound if the broker does not know it)."""
        _job_ids("job", [id])
        self._status([id])
        return Job(self, id)

    def jobs(
        self,
        state: str | None = None,
        user: str | None = None,
        all: bool = False,
        newest: bool = False,
    ) -> list[JobStatus]:
        """Jobs, oldest first (newest: newest first): your own, or user's, or
        everyone's with all; only those in `state` if given."""
        if state is not None and state not in JOB_STATES:
            raise errors.InvalidArgument(
                f"state '{state}': expected one of {', '.join(JOB_STATES)}"
            )
        query: dict[str, Any] = {
            "user": None if all else user or self.user,
            "state": JOB_STATES.index(state) + 1 if state else 0,
            "limit": _STATUS_MAX,
            "newest": newest,
        }
        pages = self._pages(MsgType.STATUS, query, "jobs", "cursor")
        return [JobStatus.from_wire(j) for j in pages]

    def _status(
        self, ids: list[str], detail: bool = False, wait: float = 0.0
    ) -> dict[str, JobStatus]:
        """These jobs' statuses by id: one STATUS per 500, pipelined. wait
        (seconds, at most 60; ids in one STATUS): the broker answers once one
        of them has ended, or after this long."""
        t = self._transport
        body: dict[str, Any] = {"detail": detail}
        if wait > 0 and len(ids) <= _STATUS_MAX:
            body["wait"] = min(int(wait * 1000), _STATUS_WAIT_MAX_MS)
        with t.exclusive():
            reqs = [
                t.send_request(MsgType.STATUS, {"jobs": ids[i : i + _STATUS_MAX], **body})
                for i in range(0, len(ids), _STATUS_MAX)
            ]
            found = {}
            for req in reqs:
                reply = t.reply(MsgType.STATUS, req, t.timeout + body.get("wait", 0) / 1000)
                for j in reply.body["jobs"]:
                    found[j["id"]] = JobStatus.from_wire(j)
        missing = [i for i in ids if i not in found]
        if missing:
            raise errors.NotFound(f"unknown job '{missing[0]}'")
        return found

    def _pages(
        self, request: MsgType, query: dict[str, Any], items: str, next_key: str
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged listing: the request again with the reply's
        cursor (under `next_key`) until there is none."""
        while True:
            reply = self._transport.request(request, query).body
            yield from reply[items]
            if reply[next_key] is None:
                return
            query["cursor"] = reply[next_key]

    def workers(self) -> list[Worker]:
        """Every worker the broker knows."""
        reply = self._transport.request(MsgType.WORKERS, {}).body
        return [Worker.from_wire(w) for w in reply["workers"]]

    def usage(
        self,
        by: str = "user",
        user: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[dict[str, Any]]:
        """What finished runs used, like `segq --json usage`: one dict per
        user, kind or UTC day (`by`), keyed as that command's rows are
        (`runs`, `jobs`, `run_seconds`, `cpu_slot_seconds`,
        `gpu_mem_seconds`, `cpu_seconds`, `max_rss`, `gpu_peak`; by user
        also `fairshare_usage`). since/until: Unix seconds."""
        groupings = {"user": 1, "kind": 2, "day": 3}
        if by not in groupings:
            raise ValueError(f"usage by {by!r}: give user, kind or day")
        query = {"by": groupings[by], "of": user, "since": since or 0.0, "until": until or 0.0}
        reply = self._transport.request(MsgType.USAGE, query).body
        rows = []
        for r in reply["rows"]:
            row = {
                by: r["key"],
                "runs": r["runs"],
                "jobs": r["jobs"],
                "run_seconds": r["run_s"],
                "cpu_slot_seconds": r["slot_s"],
                "gpu_mem_seconds": r["gmem_s"],
                "cpu_seconds": r["cpu_s"],
                "max_rss": r["rss"],
                "gpu_peak": r["gpeak"],
            }
            if by == "user":
                row["fairshare_usage"] = r["fair"]
            rows.append(row)
        return rows

    # ---- the catalogue ----

    def models(self, user: str | None = None, tag: str | None = None) -> list[Model]:
        """The trained models you may use (yours, those shared with you),
        in id order; only user's, or only those tagged `tag`, if given."""
        query: dict[str, Any] = {"op": MODEL_LIST, "owner": user, "tag": tag}
        return [Model.from_wire(m) for m in self._pages(MsgType.MODEL, query, "models", "next")]

    def model(self, name: str) -> Model:
        """One model, with its training's parameters: NAME, OWNER/NAME or m-ID."""
        reply = self._transport.request(MsgType.MODEL, {"op": MODEL_SHOW, "model": name}).body
        if len(reply["models"]) != 1:
            raise errors.ProtocolError(f"the broker answered {len(reply['models'])} models to SHOW")
        return Model.from_wire(reply["models"][0])


def _os_user() -> str:
    """Who the client says it is without keys: $SEGQ_USER, else the login name."""
    return os.environ.get("SEGQ_USER") or _keys.login_name()


def connect(
    broker: str | None = None,
    user: str | None = None,
    cert: str | os.PathLike[str] | None = None,
    broker_key: str | os.PathLike[str] | None = None,
    timeout: float = 10.0,
    hash_cache: str | os.PathLike[str] | None = None,
) -> Client:
    """Connects to a broker, with the CLI's defaults.

    broker: URL, else $SEGQ_BROKER, else tcp://127.0.0.1:5555. Keys
    (CurveZMQ): broker_key is the broker's public certificate, else
    $SEGQ_BROKER_KEY, else broker.cert in ~/.config/segq (or
    $XDG_CONFIG_HOME/segq) if there; "" asks for a plain connection. cert:
    your certificate, else $SEGQ_CERT, else the one NAME.cert with its
    secret there (as `segq keygen` writes it). user: who you act as without
    keys (else $SEGQ_USER, else your login name); with keys the broker
    takes the certificate's name. timeout: seconds per request. hash_cache:
    the file remembering uploaded files' hashes (else $SEGQ_HASH_CACHE,
    else ~/.cache/segq/hashes, shared with the CLI); "" for none.

    ZeroMQ connects lazily: an absent broker shows as Unavailable at the
    first request, a refused key as AuthError.
    """
    url = broker or os.environ.get("SEGQ_BROKER") or DEFAULT_BROKER
    keys = _keys.resolve(broker_key, cert)
    name = user or (keys.name if keys and keys.name else None) or _os_user()
    if hash_cache is None:
        cache_path = default_path()
    else:
        cache_path = Path(hash_cache) if str(hash_cache) else None
    return Client(url, name, keys, timeout, HashCache(cache_path) if cache_path else None)
