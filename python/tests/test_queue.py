"""The client against a real segqd and segq-worker (the test kinds), and
side by side with the segq CLI."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import segq
from segq import _hashcache
from segq._spec import MsgType

from .conftest import USER, Lab, wait_for


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def running(job: segq.Job) -> bool:
    return job.status().state == "running"


def test_sleep_waits_with_progress_and_reports_its_status(
    client: segq.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    job = client.submit("sleep", seconds=0.4)
    final = job.wait(progress=True)
    shown = capsys.readouterr().err.splitlines()
    assert shown[-1].startswith(f"{job.id} [{'#' * 30}] 100% succeeded"), shown
    assert (final.id, final.owner, final.kind, final.state) == (job.id, USER, "sleep", "succeeded")
    assert final.params == {"seconds": 0.4, "busy": False}
    assert final.fraction == 1.0 and final.worker == "w1" and final.exit_code == 0
    assert final.created <= final.started <= final.finished  # type: ignore[operator]
    assert job.cpu_slots == 1 and job.gpu_mem == 0  # the test kinds' default
    history = job.status(detail=True).history
    assert [h.state for h in history][-2:] == ["running", "succeeded"]
    assert client.job(job.id).status() == final


def test_echo_outputs_are_fetched_and_verified(client: segq.Client, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("alpha\n")
    (data / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    (data / ".hidden").write_text("not data")
    (data / "empty").write_bytes(b"")
    job = client.submit("echo", files=data)
    status = job.wait(progress=False)
    assert sorted(o.name for o in status.outputs) == ["a.txt", "empty", "sub/b.bin"]
    assert sorted(i.name for i in status.inputs) == [
        "files/a.txt",
        "files/empty",
        "files/sub/b.bin",
    ]
    out = tmp_path / "out"
    paths = job.fetch(out)
    assert sorted(p.relative_to(out).as_posix() for p in paths) == ["a.txt", "empty", "sub/b.bin"]
    for path in paths:
        original = data / path.relative_to(out)
        assert path.read_bytes() == original.read_bytes()
        output = next(o for o in status.outputs if out / o.name == path)
        assert output.sha256 == sha256(original) and output.size == original.stat().st_size
    assert sorted(p.name for p in out.rglob("*")) == [
        "a.txt",
        "b.bin",
        "empty",
        "sub",
    ], "no temporary left"
    assert job.fetch(tmp_path / "one", names=["a.txt"]) == [tmp_path / "one" / "a.txt"]
    with pytest.raises(segq.NotFound, match="no output nope.txt .*a.txt"):
        job.fetch(tmp_path / "none", names=["nope.txt"])


def _echoed(client: segq.Client, tmp_path: Path) -> segq.Job:
    """An echo job that has made a.txt ("alpha")."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha\n")
    job = client.submit("echo", files=folder)
    job.wait(progress=False)
    return job


def test_what_cannot_be_fetched_is_said_as_segq_fetch_says_it(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    mine = _echoed(client, tmp_path)
    with lab.client(user="somebody-else") as other:
        with pytest.raises(segq.PermissionDenied) as refused:
            other.job(mine.id).fetch(tmp_path / "theirs")
    assert str(refused.value).startswith(
        f"job {mine.id} belongs to {USER} and shows you no outputs: only its owner or an admin "
        "may fetch them"
    )
    failed = client.submit("fail", code=3)
    failed.wait(progress=False, check=False)
    with pytest.raises(segq.StateError) as ended:
        failed.fetch(tmp_path / "none")
    said = lab.cli("fetch", failed.id, "--out", str(tmp_path / "cli"), check=False).stderr
    assert f"job {failed.id} failed: exited with code 3" in str(ended.value)
    assert str(ended.value).split(" [")[0] in said, (str(ended.value), said)


def test_a_fetch_over_other_content_is_refused_as_segq_fetch_refuses_it(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    job = _echoed(client, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("other\n")
    with pytest.raises(segq.AlreadyExists) as refused:
        job.fetch(out)
    assert (out / "a.txt").read_text() == "other\n", "overwritten though refused"
    said = lab.cli("fetch", job.id, "-o", str(out), check=False).stderr
    assert str(refused.value).split(" (")[0] in said, (str(refused.value), said)
    assert job.fetch(out, force=True) == [out / "a.txt"]
    assert (out / "a.txt").read_text() == "alpha\n"
    # the same content: kept where it is, not fetched again
    inode = (out / "a.txt").stat().st_ino
    assert job.fetch(out) == [out / "a.txt"] and (out / "a.txt").stat().st_ino == inode


def test_a_failed_job_raises_job_failed(client: segq.Client) -> None:
    job = client.submit("fail", code=3)
    with pytest.raises(segq.JobFailed) as failed:
        job.wait(progress=False)
    assert failed.value.job == job.id and failed.value.state == "failed"
    assert "exited with code 3" in (failed.value.reason or "")
    status = job.wait(progress=False, check=False)
    assert status.state == "failed" and status.exit_code == 3


def test_a_failed_job_is_retried_with_more_time(client: segq.Client) -> None:
    job = client.submit("sleep", seconds=1.5, time_limit=1)
    assert job.wait(progress=False, check=False).state == "failed"
    again = job.retry(time_limit=60)
    status = again.wait(progress=False)
    assert status.state == "succeeded" and status.params["seconds"] == 1.5
    assert status.time_limit_s == 60
    with pytest.raises(segq.StateError, match="the job succeeded"):
        again.retry()


def test_logs_follow_until_the_job_ends(client: segq.Client) -> None:
    job = client.submit("sleep", seconds=0.8)
    text = "".join(job.logs(follow=True))
    assert job.status().final, "follow ends with the job"
    assert text.startswith("=== attempt 1 on w1 ===\n")
    assert "sleeping 0.8 s\n" in text and text.endswith("slept 0.8 s\n")
    assert "".join(job.logs()) == text


def test_cancel_a_running_job(client: segq.Client) -> None:
    job = client.submit("sleep", seconds=60)
    wait_for(lambda: running(job), what=f"{job.id} running")
    assert job.cancel() is True
    with pytest.raises(segq.JobFailed) as cancelled:
        job.wait(progress=False, timeout=20)
    assert cancelled.value.state == "cancelled"
    assert job.cancel() is False, "an ended job is not cancelled again"


def test_hold_keeps_a_job_from_starting_until_released(client: segq.Client) -> None:
    # a request no worker holds keeps it queued whatever the timing
    job = client.submit("sleep", seconds=0.1, gpu_mem=1 << 50)
    job.hold()
    status = job.status()
    assert status.held and status.state == "queued"
    assert status.message == f"held (segq release {job.id})"
    job.release()
    status = job.status()
    assert not status.held
    assert "GPU memory" in (status.message or ""), status.message
    job.cancel()
    with pytest.raises(segq.StateError, match="only waiting and queued jobs can be held"):
        job.hold()


def test_usage_counts_the_runs_that_ended(client: segq.Client) -> None:
    client.submit("sleep", seconds=0.1).wait(progress=False, timeout=30)
    rows = {r["user"]: r for r in client.usage()}
    assert rows[USER]["runs"] >= 1
    assert rows[USER]["run_seconds"] > 0
    assert rows[USER]["fairshare_usage"] > 0
    kinds = {r["kind"] for r in client.usage(by="kind", user=USER)}
    assert "sleep" in kinds
    with pytest.raises(ValueError, match="give user, kind or day"):
        client.usage(by="week")


def test_wait_sees_the_end_before_its_interval(client: segq.Client) -> None:
    # the broker holds the waiting STATUS until the job's end is stored
    job = client.submit("sleep", seconds=0.3)
    started = time.monotonic()
    assert job.wait(progress=False, interval=50).state == "succeeded"
    assert time.monotonic() - started < 40


def test_wait_gives_up_at_its_timeout(client: segq.Client) -> None:
    job = client.submit("sleep", seconds=30)
    started = time.monotonic()
    with pytest.raises(segq.Timeout, match=f"job {job.id} is still"):
        job.wait(progress=False, timeout=0.3)
    assert time.monotonic() - started < 5
    job.cancel()


@pytest.mark.parametrize(
    "kind, fields, error, says",
    [
        ("slep", {}, segq.UnknownKind, "unknown job kind 'slep' (did you mean 'sleep'?)"),
        (
            "sleep",
            {"secnds": 1},
            segq.InvalidArgument,
            "no parameter or input 'secnds' (did you mean 'seconds'?)",
        ),
        (
            "sleep",
            {"seconds": "1"},
            segq.InvalidArgument,
            "'seconds': expected a number, got str '1'",
        ),
        (
            "sleep",
            {"seconds": -1},
            segq.InvalidArgument,
            "'seconds': -1.0 is out of range (expected 0..86400)",
        ),
        ("fail", {"code": 1.5}, segq.InvalidArgument, "'code': expected an integer, got float 1.5"),
        (
            "fail",
            {"mode": "explode"},
            segq.InvalidArgument,
            "'mode': 'explode' is not one of exit|signal|crash",
        ),
        (
            "train",
            {"mask_from_alpha": True},
            segq.InvalidArgument,
            "kind 'train' needs input 'image'",
        ),
        (
            "train",
            {"image": __file__},
            segq.InvalidArgument,
            "needs input 'mask', unless parameter mask_from_alpha",
        ),
        (
            "train",
            {"image": "/no/such.jpg", "mask_from_alpha": True},
            segq.NotFound,
            "cannot read '/no/such.jpg'",
        ),
        (
            "train",
            {"image": Path(__file__).parent, "mask_from_alpha": True},
            segq.InvalidArgument,
            "takes one file, not a folder",
        ),
        (
            "echo",
            {"files": [__file__, __file__]},
            segq.InvalidArgument,
            "input 'files/test_queue.py' is given twice",
        ),
        (
            "generate",
            {"model": "x/y/z"},
            segq.NotFound,
            "cannot read 'x/y/z' (no such file or folder, model)",
        ),
        ("echo", {"files": "m-0001"}, segq.InvalidArgument, "'m-0001' names a trained model"),
        ("sleep", {"gpu_mem": "4G", "cpu_slots": 1}, segq.InvalidArgument, "exclude each other"),
        ("sleep", {"gpu_mem": "4Q"}, segq.InvalidArgument, "gpu_mem '4Q': expected"),
        (
            "sleep",
            {"priority": 2**31},
            segq.InvalidArgument,
            "priority 2147483648: expected an integer",
        ),
        ("sleep", {"max_attempts": 0}, segq.InvalidArgument, "max_attempts 0: expected 1..1000"),
    ],
)
def test_submissions_are_checked_before_anything_is_sent(
    client: segq.Client, kind: str, fields: dict[str, Any], error: type[segq.SegqError], says: str
) -> None:
    client.kinds()  # the table, asked once
    sent = dict(client._transport.sent)
    with pytest.raises(error) as caught:
        client.submit(kind, **fields)
    assert says in str(caught.value)
    assert dict(client._transport.sent) == sent, "nothing was sent"
    assert client.bytes_uploaded == 0


# what the kind table alone says is named before a local file is looked for
# (docs/python.md's examples, run as written: their files are not there)
_MISSING = "/no/such/x.jpg"


@pytest.mark.parametrize(
    "kind, fields, says",
    [
        (
            "train",
            {"image": _MISSING, "mask": "m.jpg", "nitre": 10},
            "kind 'train' has no parameter or input 'nitre' (did you mean 'niter'?)",
        ),
        (
            "train",
            {"inputs": {"image": _MISSING, "msk": "m.jpg"}},
            "kind 'train' has no parameter or input 'msk' (did you mean 'mask'?)",
        ),
        (
            "train",
            {"image": _MISSING},
            "kind 'train' needs input 'mask', unless parameter mask_from_alpha is true",
        ),
        (
            "train",
            {"image": _MISSING, "mask": "m.jpg", "mask_from_alpha": True},
            "kind 'train' takes input 'mask' or parameter mask_from_alpha, not both",
        ),
        (
            "train",
            {"image": _MISSING, "mask": "m.jpg", "niter": 0},
            "train parameter 'niter': 0 is out of range (expected 1..1000000000)",
        ),
        ("train", {"image": _MISSING, "mask": 3}, "input mask: int 3 is not a file"),
        ("train", {"image": _MISSING, "mask": "m.jpg", "cpu_slots": 0}, "cpu_slots 0: expected"),
        ("echo", {"files": _MISSING, "after": [3]}, "after: a Job or a job id"),
    ],
)
def test_the_kind_table_is_checked_before_local_files(
    client: segq.Client, kind: str, fields: dict[str, Any], says: str
) -> None:
    assert not os.path.exists(_MISSING)
    with pytest.raises(segq.InvalidArgument) as caught:
        client.submit(kind, **fields)
    assert says in str(caught.value)


def test_the_broker_refuses_what_only_it_can_know(client: segq.Client, tmp_path: Path) -> None:
    with pytest.raises(segq.NotFound):
        client.submit("echo", files="zzzz9")  # spelt like a job id, but no such job
    with pytest.raises(segq.NotFound):
        client.job("zzzz9")
    path = tmp_path / "x.bin"
    path.write_bytes(b"some bytes")
    with pytest.raises(segq.HashMismatch, match="refused by the broker"):
        client.upload(path, sha256="0" * 64)


def test_an_unchanged_file_is_not_sent_again(lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "input.txt"
    path.write_bytes(os.urandom(100_000))
    cache_file = tmp_path / "hashes"
    with lab.client(hash_cache=cache_file) as first:
        artifact = first.upload(path)
        assert artifact.sha256 == sha256(path) and first.bytes_uploaded == 100_000
    # what the C client's cache would hold once the file is a second old
    _hashcache.HashCache(cache_file).remember(os.stat(path), artifact.sha256, now=time.time() + 2)
    with lab.client(hash_cache=cache_file) as second:
        job = second.submit("echo", files=path)
        assert second.bytes_uploaded == 0, "named by its hash, and the broker had it"
        assert job.wait(progress=False).outputs[0].sha256 == artifact.sha256
    path.write_bytes(os.urandom(100_000))  # changed: sent again, whatever the cache says
    with lab.client(hash_cache=cache_file) as third:
        third.submit("echo", files=path)
        assert third.bytes_uploaded == 100_000


def test_inputs_from_other_jobs_and_artifacts(client: segq.Client, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("first")
    first = client.submit("echo", files=tmp_path / "a.txt")
    upload = tmp_path / "b.txt"
    upload.write_text("second")
    artifact = client.upload(upload)
    second = client.submit("echo", files=[first.output("a.txt"), artifact], after=[first])
    status = second.wait(progress=False)
    inputs = {i.name: i for i in status.inputs}
    assert inputs["files/a.txt"].job == first.id and inputs["files/a.txt"].output == "a.txt"
    assert inputs["files/b.txt"].sha256 == artifact.sha256
    assert status.after == (first.id,)
    assert sorted(o.name for o in status.outputs) == ["a.txt", "b.txt"]
    assert second.read("a.txt") == b"first"


def test_wait_all_and_wait_async(client: segq.Client) -> None:
    jobs = [client.submit("sleep", seconds=s) for s in (0.2, 0.4, 0.3)]
    statuses = asyncio.run(segq.wait_all(jobs))
    assert [s.id for s in statuses] == [j.id for j in jobs]
    assert {s.state for s in statuses} == {"succeeded"}

    async def both() -> list[segq.JobStatus]:
        good, bad = client.submit("sleep", seconds=0.2), client.submit("fail")
        return list(await asyncio.gather(good.wait_async(), bad.wait_async(check=False)))

    good, bad = asyncio.run(both())
    assert (good.state, bad.state) == ("succeeded", "failed")
    with pytest.raises(segq.JobFailed):
        asyncio.run(segq.wait_all([client.submit("noop"), client.submit("fail")]))


def test_listing_jobs_workers_and_kinds(lab: Lab, client: segq.Client) -> None:
    job = client.submit("noop")
    job.wait(progress=False)
    mine = client.jobs(state="succeeded")
    assert job.id in [s.id for s in mine] and {s.owner for s in mine} == {USER}
    assert client.jobs(user="somebody-else") == []
    assert job.id in [s.id for s in client.jobs(all=True)]
    assert client.jobs(newest=True)[0].created >= client.jobs()[0].created  # type: ignore[operator]
    with pytest.raises(segq.InvalidArgument, match="expected one of waiting"):
        client.jobs(state="done")
    (worker,) = client.workers()
    assert (worker.node, worker.state, worker.cpu_slots) == ("w1", "active", 2)
    assert {"noop", "sleep", "echo", "fail"} <= set(worker.kinds)
    table = {k["name"]: k for k in lab.cli_json("kinds")}
    assert [k.name for k in client.kinds()] == list(table)
    for kind in client.kinds():
        assert kind.principal_output == table[kind.name]["principal_output"]
        for param, cli in zip(kind.params, table[kind.name]["params"], strict=True):
            assert (param.name, param.type, param.required) == (
                cli["name"],
                cli["type"],
                cli["required"],
            )
            assert param.default == cli.get("default") and list(param.choices) == cli.get(
                "choices", []
            )
            if param.type in ("int", "float"):
                assert (param.min, param.max) == (cli["min"], cli["max"])


def test_a_job_submitted_by_the_cli_is_watched_and_fetched(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    source = tmp_path / "from-cli.txt"
    source.write_text("written by segq submit\n")
    job_id = lab.cli("submit", "echo", "--files", str(source)).stdout.strip()
    job = client.job(job_id)
    status = job.wait(progress=False)
    assert status.owner == USER and [o.name for o in status.outputs] == ["from-cli.txt"]
    (path,) = job.fetch(tmp_path / "out")
    assert path.read_bytes() == source.read_bytes()


def test_a_job_submitted_from_python_is_seen_by_the_cli(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    (tmp_path / "f.txt").write_text("x")
    job = client.submit("echo", files=tmp_path / "f.txt", priority=3)
    done = lab.cli("wait", job.id)
    assert done.returncode == 0
    (shown,) = lab.cli_json("status", job.id)
    mine = job.status()
    for key in (
        "id",
        "owner",
        "kind",
        "state",
        "priority",
        "attempt",
        "worker",
        "exit_code",
        "params",
    ):
        assert shown[key] == getattr(mine, key), key
    assert shown["outputs"] == [
        {"name": o.name, "hash": o.sha256, "size": o.size} for o in mine.outputs
    ]
    assert shown["created"] == pytest.approx(mine.created)
    failing = client.submit("fail")
    assert lab.cli("wait", failing.id, check=False).returncode == 3


def test_an_absent_broker_is_said_plainly() -> None:
    with socket.socket() as held:  # bound, never listening: nobody answers there
        held.bind(("127.0.0.1", 0))
        url = f"tcp://127.0.0.1:{held.getsockname()[1]}"
        with segq.connect(url, user=USER, hash_cache="", timeout=0.5) as c:
            with pytest.raises(segq.Unavailable) as caught:
                c.kinds()
            # a wait outlasts a broker's restart, not a broker it never reached
            started = time.monotonic()
            with pytest.raises(segq.Unavailable):
                segq.Job(c, "0001").wait(progress=False)
            assert time.monotonic() - started < 5.0
    assert f"the broker at {url} did not answer within 0.5 s" in str(caught.value)
    assert "SEGQ_BROKER" in str(caught.value)


def test_a_wait_outlasts_a_broker_restart(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lab = Lab(tmp_path)
    try:
        lab.start_broker()
        lab.start_worker("w1", 1)
        with lab.client(timeout=1.0) as c:
            job = c.submit("sleep", seconds=6)
            wait_for(lambda: job.status().state == "running", 20.0, "the job running")
            ended: list[segq.JobStatus] = []
            # the wait in a thread: segqd is started from this one (its
            # death signal follows the thread that spawned it); killed once
            # the wait has heard it (a second STATUS goes after the first answer)
            asked = c._transport.sent[MsgType.STATUS]
            waiter = threading.Thread(target=lambda: ended.append(job.wait(progress=False)))
            waiter.start()
            wait_for(lambda: c._transport.sent[MsgType.STATUS] >= asked + 2, 20.0, "an answer")
            lab.broker.kill()
            wait_for(lambda: "no answer from the broker" in caplog.text, 20.0, "the warning")
            lab.restart_broker()
            waiter.join(60.0)
            assert [s.state for s in ended] == ["succeeded"]
        assert "the broker answers again" in caplog.text
    finally:
        lab.close()


def test_pairs_are_a_generate_s_or_a_stylize_s(client: segq.Client) -> None:
    job = client.submit("sleep", seconds=30)
    with pytest.raises(
        segq.InvalidArgument, match="is a sleep job: pairs\\(\\) reads a generate's"
    ):
        next(job.pairs())
    job.cancel()


def test_what_is_not_a_job_or_a_file_is_said(client: segq.Client, tmp_path: Path) -> None:
    with pytest.raises(segq.InvalidArgument, match="kind: a job kind's name .*, not int"):
        client.submit(5)  # type: ignore[arg-type]
    with pytest.raises(segq.InvalidArgument, match="after: a Job or a job id .*, not int"):
        client.submit("sleep", seconds=1, after=5)  # type: ignore[arg-type]
    with pytest.raises(segq.InvalidArgument, match="job: a Job or a job id .*, not NoneType"):
        client.job(None)  # type: ignore[arg-type]
    with pytest.raises(segq.NotFound, match="upload: '.*missing' is not there"):
        client.upload(tmp_path / "missing")
    with pytest.raises(segq.InvalidArgument, match="is not a file"):
        client.upload(tmp_path)
    # one id is one job, not its characters
    first = client.submit("sleep", seconds=0)
    second = client.submit("sleep", seconds=0, after=first.id)
    assert second.wait(progress=False).after == (first.id,)
