"""Progress on a terminal, in Jupyter, and as plain lines."""

from __future__ import annotations

import io
import sys
import types
from typing import Any

import pytest

from segq.progress import Progress, bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar() -> None:
    assert bar(0) == "[" + "." * 30 + "]"
    assert bar(0.5, 10) == "[#####.....]"
    assert bar(2, 4) == "[####]" and bar(-1, 4) == "[....]"


def test_a_terminal_redraws_one_line() -> None:
    out = Terminal()
    with Progress("0042", out) as progress:
        progress.update(0.25, "running", "train")
        progress.update(1.0, "succeeded")
    lines = out.getvalue().split("\r\033[K")
    assert lines[0] == ""
    assert lines[1].startswith("0042 [" + "#" * 8 + "." * 22 + "]  25% running train ")
    assert lines[2].startswith("0042 [" + "#" * 30 + "] 100% succeeded ") and lines[2].endswith(
        "s\n"
    )


def test_elsewhere_a_line_per_change() -> None:
    out = io.StringIO()
    progress = Progress("0042", out)
    for fraction, state, phase in [
        (0, "queued", ""),
        (0.1, "running", "train"),
        (0.2, "running", "train"),
        (1, "succeeded", ""),
    ]:
        progress.update(fraction, state, phase)
    progress.close()
    lines = out.getvalue().splitlines()
    assert [line.split("%")[1].rsplit(" ", 1)[0].strip() for line in lines] == [
        "queued",
        "running train",
        "succeeded",
    ]


def test_jupyter_gets_one_live_display(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[tuple[str, Any]] = []

    class Handle:
        def update(self, bundle: dict[str, str], raw: bool) -> None:
            shown.append(("update", bundle["text/plain"]))

    def display(bundle: dict[str, str], raw: bool, display_id: bool) -> Handle:
        assert raw and display_id
        shown.append(("display", bundle["text/plain"]))
        return Handle()

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: types.SimpleNamespace(kernel=object())  # type: ignore[attr-defined]
    ipython_display = types.ModuleType("IPython.display")
    ipython_display.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    out = Terminal()
    with Progress("0042", out) as progress:
        progress.update(0.5, "running")
        progress.update(1, "succeeded")
    assert [kind for kind, _ in shown] == ["display", "update"]
    assert "50% running" in shown[0][1] and "100% succeeded" in shown[1][1]
    assert out.getvalue() == "", "nothing on the terminal"


def test_ipython_outside_a_kernel_is_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: None  # type: ignore[attr-defined]
    ipython_display = types.ModuleType("IPython.display")
    ipython_display.display = lambda *a, **k: pytest.fail("no display outside a kernel")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    out = Terminal()
    Progress("j", out).update(0, "queued")
    assert out.getvalue().startswith("\r\033[Kj [")
