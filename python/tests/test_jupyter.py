"""Job.wait(progress=True) in a real IPython kernel, as a notebook runs it:
the kernel (ipykernel, started by jupyter_client) connects to the lab's
segqd as the other tests' clients do, and what it sends on IOPub is what
the notebook shows.

Needs Debian's python3-ipykernel and python3-jupyter-client (deploy/deps.sh).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import USER, Lab, _die_with_parent

PYTHON_DIR = Path(__file__).resolve().parents[1]  # where the kernel imports segq from
START_TIMEOUT = 60.0  # a kernel starting on a loaded machine
CELL_TIMEOUT = 60.0
STATES = ["waiting", "queued", "running", "succeeded", "failed", "cancelled"]


class Kernel:
    """An IPython kernel and a client of it; run() executes a cell."""

    def __init__(self, client: Any, log: Path) -> None:
        self.client = client
        self.log = log

    def run(
        self, code: str, timeout: float = CELL_TIMEOUT, **options: Any
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The execute reply's content and the cell's IOPub messages."""
        messages: list[dict[str, Any]] = []
        try:
            reply = self.client.execute_interactive(
                code,
                timeout=timeout,
                output_hook=messages.append,
                allow_stdin=False,
                store_history=False,
                **options,
            )
        except TimeoutError:
            raise AssertionError(
                f"cell not done within {timeout} s: {code!r}; IOPub: {summary(messages)}; "
                f"kernel log: {self.log.read_text(errors='replace')[-3000:]}"
            ) from None
        return reply["content"], messages


@pytest.fixture(scope="module")
def kernel(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """A kernel of this Python with segq (from this checkout) connected to the
    lab's broker as the `client` fixture connects; shut down at the end."""
    if not all(importlib.util.find_spec(m) for m in ("jupyter_client", "ipykernel")):
        pytest.fail(
            "no Jupyter here: install python3-ipykernel and python3-jupyter-client "
            "(deploy/deps.sh)",
            pytrace=False,
        )
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "segq-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "segq test", "language": "python"})
    )
    manager = KernelManager(
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(root / "kernels")]),
        kernel_name="segq-test",
        connection_file=str(root / "connection.json"),
    )
    env = dict(os.environ)  # the tests' own (XDG dirs, no SEGQ_*)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(PYTHON_DIR), env.get("PYTHONPATH", "")] if p
    )
    env["IPYTHONDIR"] = str(root / "ipython")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # debugpy's note on frozen modules
    log = root / "kernel.log"  # the kernel process's own stdout and stderr
    process = None
    client = None
    with open(log, "wb") as out:
        try:
            manager.start_kernel(
                env=env,
                cwd=str(root),
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
            process = getattr(manager.provisioner, "process", None)  # its Popen
            assert process is not None, manager.provisioner
            client = manager.blocking_client()
            client.start_channels()
            try:
                client.wait_for_ready(timeout=START_TIMEOUT)
            except RuntimeError as e:
                raise AssertionError(f"{e}; kernel log: {log.read_text(errors='replace')}")
            kernel = Kernel(client, log)
            settings = {"user": USER, "hash_cache": "", "timeout": 5.0}  # as Lab.client
            reply, messages = kernel.run(
                "import segq\n"
                f"client = segq.connect({lab.endpoint!r}, **{settings!r})\n"
                "segq.__file__"
            )
            assert reply["status"] == "ok", reply
            [result] = [m["content"] for m in messages if m["msg_type"] == "execute_result"]
            imported = Path(ast.literal_eval(result["data"]["text/plain"]))
            assert imported.is_relative_to(PYTHON_DIR / "segq"), "segq of this checkout"
            yield kernel
        finally:
            if client is not None:
                try:
                    Kernel(client, log).run("client.close()", timeout=5)
                except Exception:
                    pass  # best effort: the shutdown follows anyway
                client.stop_channels()
            if manager.has_kernel:
                manager.shutdown_kernel(now=False)  # asks, kills it after shutdown_wait_time
            if process is not None:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    raise AssertionError("the kernel outlived its shutdown") from None


def summary(messages: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """What to say of IOPub messages in a failure: their types and contents."""
    return [(m["msg_type"], m["content"]) for m in messages]


def shown(messages: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The cell's one live display: its display_id and each text it showed."""
    displays = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")]
    assert displays, f"no display in {summary(messages)}"
    kinds = [m["msg_type"] for m in displays]
    assert kinds == ["display_data"] + ["update_display_data"] * (len(kinds) - 1), kinds
    display_id = displays[0]["content"]["transient"]["display_id"]
    assert display_id and isinstance(display_id, str)
    assert all(m["content"]["transient"]["display_id"] == display_id for m in displays)
    return display_id, [m["content"]["data"]["text/plain"] for m in displays]


def progress_of(job: str, text: str) -> tuple[int, str]:
    """(percent, state) of one line Progress shows for job."""
    match = re.fullmatch(rf"{re.escape(job)} \[[#.]{{30}}\] +(\d+)% (\w+)( .*)? \d+s", text)
    assert match, f"{text!r} is not a progress line of {job}"
    return int(match[1]), match[2]


def assert_no_terminal_bar(kernel: Kernel, messages: list[dict[str, Any]], job: str) -> None:
    """No stream output of the progress: no \\r-redrawn bar, no line per change."""
    streams = [m["content"] for m in messages if m["msg_type"] == "stream"]
    assert not [s for s in streams if "\r" in s["text"] or job in s["text"]], summary(messages)
    assert "\r\033[K" not in kernel.log.read_text(errors="replace")


def test_wait_shows_one_live_display_in_a_kernel(kernel: Kernel) -> None:
    reply, messages = kernel.run(
        'job = client.submit("sleep", seconds=1.5)\n'
        "final = job.wait(progress=True, timeout=60)\n"
        "job.id, final.state, final.fraction, final.owner"
    )
    assert reply["status"] == "ok", reply
    [result] = [m["content"] for m in messages if m["msg_type"] == "execute_result"]
    job, state, fraction, owner = ast.literal_eval(result["data"]["text/plain"])
    assert (state, fraction, owner) == ("succeeded", 1.0, USER)

    assert_no_terminal_bar(kernel, messages, job)
    _, texts = shown(messages)
    progress = [progress_of(job, text) for text in texts]
    percents = [p for p, _ in progress]
    states = [STATES.index(s) for _, s in progress]
    assert percents == sorted(percents) and states == sorted(states), progress
    assert progress[-1] == (100, "succeeded"), progress
    assert any(s == "running" and 0 < p < 100 for p, s in progress), progress


def test_a_failed_job_is_an_error_in_the_cell(kernel: Kernel) -> None:
    reply, messages = kernel.run(
        'job = client.submit("fail", code=3)\njob.wait(progress=True, timeout=60)',
        stop_on_error=False,
    )
    assert (reply["status"], reply["ename"]) == ("error", "JobFailed"), reply
    failed = re.fullmatch(r"job (\S+) failed: .*exited with code 3.*", reply["evalue"])
    assert failed, reply["evalue"]
    job = failed[1]
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert [e["ename"] for e in errors] == ["JobFailed"], "the notebook shows the traceback"
    assert errors[0]["evalue"] == reply["evalue"]

    assert_no_terminal_bar(kernel, messages, job)
    _, texts = shown(messages)
    assert progress_of(job, texts[-1])[1] == "failed", texts
