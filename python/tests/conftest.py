"""Fixtures: real segqd and segq-worker processes of a build, as
tests/integration/harness.c starts them, and an environment of our own.

The binaries come from $SEGQ_BUILD_DIR (default: make's build/release);
a missing one fails the test that needs it, saying how to build it.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import segq

REPO = Path(__file__).resolve().parents[2]
# ../shared/data (README there), or where SEGQ_DATA_DIR says, as the C tests
DATA = Path(os.environ.get("SEGQ_DATA_DIR") or REPO.parent / "shared" / "data") / "kvasir-seg-256"
BUILD_DIR = Path(os.environ.get("SEGQ_BUILD_DIR") or REPO / "build" / "release")
BINARIES = {
    "segqd": "broker/segqd",
    "segq-worker": "worker/segq-worker",
    "segq-testkind": "worker/segq-testkind",
    "segq": "client/segq",
    "segq-run": "pipeline/segq-run",
}
USER = "tester"  # who the clients and the CLI act as without keys
READY_TIMEOUT = 15.0


def binary(name: str) -> Path:
    """A built program, or a failed test saying how to get it."""
    path = BUILD_DIR / BINARIES[name]
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"{path} is not built: build it (cmake --build {BUILD_DIR} --target {name}) or set "
            "SEGQ_BUILD_DIR to a build directory that has it",
            pytrace=False,
        )
    return path


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Polls condition until it returns something true; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.02)


def _die_with_parent() -> None:
    """In the child: die with the test run, even when it is killed."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Lab:
    """A broker and workers in a temporary directory, killed at close()."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.endpoint = ""
        self.procs: list[subprocess.Popen[bytes]] = []
        self.broker: Any = None  # segqd's Popen, once started

    def _spawn(
        self, argv: list[str], log: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with open(self.root / log, "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                env={**os.environ, **(env or {})},
            )
        self.procs.append(proc)
        return proc

    def _wait_ready(self, proc: subprocess.Popen[bytes], ready: Path, log: str) -> None:
        def ready_or_dead() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"exited ({proc.returncode}), {log}: {self.log(log)}")
            return ready.exists() and ready.read_text().endswith("\n")

        wait_for(ready_or_dead, READY_TIMEOUT, f"{ready.name}")

    def log(self, name: str) -> str:
        path = self.root / name
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    def _run_broker(self, extra: tuple[str, ...]) -> subprocess.Popen[bytes]:
        """segqd on self.endpoint, once ready (AssertionError if it exits)."""
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        ready = self.root / "segqd.ready"
        ready.unlink(missing_ok=True)
        argv = [str(binary("segqd")), "--bind", self.endpoint, "--data-dir", str(data)]
        argv += ["--ready-file", str(ready), "--heartbeat-ms", "500", "--expiry-ms", "4000"]
        self.broker = self._spawn(argv + list(extra), "segqd.log")
        self._wait_ready(self.broker, ready, "segqd.log")
        return self.broker

    def start_broker(self, *extra: str) -> str:
        """segqd on a free loopback port; returns its endpoint."""
        for _ in range(5):  # a port taken between our probe and its bind: another
            self.endpoint = f"tcp://127.0.0.1:{_free_port()}"
            try:
                self._run_broker(extra)
                return self.endpoint
            except AssertionError:
                if self.broker.poll() is None:
                    raise
        raise AssertionError(f"segqd did not start: {self.log('segqd.log')}")

    def restart_broker(self, *extra: str) -> None:
        """Kills segqd (SIGKILL) and starts it again on its endpoint and data."""
        self.broker.kill()
        self.broker.wait()
        self._run_broker(extra)

    def start_worker(self, node: str, cpu_slots: int = 2, *extra: str) -> None:
        """segq-worker with the test kinds and segq-run's, no GPUs; waits until registered."""
        work, cache, ready = (self.root / f"{x}-{node}" for x in ("work", "cache", "ready"))
        work.mkdir()
        cache.mkdir()
        argv = [str(binary("segq-worker")), "--broker", self.endpoint, "--node", node]
        argv += ["--cpu-slots", str(cpu_slots), "--work-dir", str(work), "--cache-dir", str(cache)]
        argv += ["--ready-file", str(ready), "--kill-grace-ms", "1000", "--model-cache", "0"]
        # segq-run, for the ML kinds, is only needed by the tests that run them (test_ml)
        argv += ["--testkind", str(binary("segq-testkind"))]
        argv += ["--segq-run", str(BUILD_DIR / BINARIES["segq-run"])]
        argv += ["--gpus", "", *extra]
        env = {"SEGQ_TEST_JOURNAL": str(self.root / "journal")}
        self._wait_ready(self._spawn(argv, f"worker-{node}.log", env), ready, f"worker-{node}.log")

    def client(self, **options: Any) -> segq.Client:
        settings: dict[str, Any] = {"user": USER, "hash_cache": "", "timeout": 5.0, **options}
        return segq.connect(self.endpoint, **settings)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The segq CLI against this broker, as USER."""
        argv = [str(binary("segq")), "--broker", self.endpoint, *args]
        env = {**os.environ, "SEGQ_USER": USER, "SEGQ_HASH_CACHE": "off"}
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"segq {' '.join(args)}: exit {done.returncode}: {done.stderr}")
        return done

    def cli_refusal(self, *submit: str) -> str:
        """What `segq submit SUBMIT...` says as it refuses before sending
        anything (no broker is asked: the refusal is the CLI's own)."""
        argv = ["--broker", "tcp://127.0.0.1:1", "--timeout", "500", "submit", *submit]
        done = self.cli(*argv, check=False)
        assert done.returncode == 2, f"exit {done.returncode}: {done.stderr}"
        said = re.fullmatch(r"segq submit: (.*) \(see `segq submit --help`\)\n", done.stderr, re.S)
        assert said, done.stderr
        return said[1]

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli("--json", *args).stdout)

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # its job children too
            proc.wait()


def _typed(value: str) -> Any:
    """A flag's value as a notebook gives it: a number where it reads as one."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def refusals(lab: Lab, client: segq.Client, kind: str, *argv: str) -> tuple[str, str]:
    """What Python and the CLI (with no broker: it refuses before sending)
    say of a submission of these flags (--flag value pairs; a bool flag's
    value is "true", which the CLI takes as the bare flag)."""
    fields: dict[str, Any] = {}
    for flag, value in zip(argv[::2], argv[1::2]):
        fields[flag.removeprefix("--").replace("-", "_")] = (
            True if value == "true" else _typed(value)
        )
    with pytest.raises(segq.InvalidArgument) as refused:
        client.submit(kind, **fields)
    said = lab.cli_refusal(kind, *(a for a in argv if a != "true"))
    return str(refused.value).removesuffix(" [EINVAL]"), said


@pytest.fixture(scope="session", autouse=True)
def own_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No SEGQ_* variable, config or cache dir of the person running the tests."""
    home = tmp_path_factory.mktemp("home")
    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith("SEGQ_") and n != "SEGQ_BUILD_DIR"]:
        del os.environ[name]
    os.environ.update(XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"))
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A broker without keys and one worker, w1, with two CPU slots."""
    lab = Lab(tmp_path_factory.mktemp("lab"))
    try:
        lab.start_broker()
        lab.start_worker("w1", 2)
        yield lab
    finally:
        lab.close()


@pytest.fixture
def client(lab: Lab) -> Iterator[segq.Client]:
    with lab.client() as c:
        yield c
