"""How far a job (or a set of jobs) is, shown where the user looks: a live
display in Jupyter (IPython.display), a bar redrawn in place on a terminal
(stderr, as `segq wait` draws it), else one line per change of state or
phase, for logs. Nothing beyond the standard library is needed.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol, TextIO

_BAR_WIDTH = 30


def bar(fraction: float, width: int = _BAR_WIDTH) -> str:
    """``[#########.....]`` for fraction (0..1)."""
    filled = round(min(max(fraction, 0.0), 1.0) * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


class _Sink(Protocol):
    def show(self, line: str, changed: bool) -> None:
        ...

    def close(self) -> None:
        ...


class _Terminal:
    """Redraws one line in place."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def show(self, line: str, changed: bool) -> None:
        self.stream.write("\r\033[K" + line)
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class _Lines:
    """A line each time something other than the fraction changes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def show(self, line: str, changed: bool) -> None:
        if changed:
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        pass


class _Notebook:
    """One output area of a Jupyter cell, updated in place."""

    def __init__(self, display: Any) -> None:
        self.display = display
        self.handle: Any = None

    def show(self, line: str, changed: bool) -> None:
        bundle = {"text/plain": line}
        if self.handle is None:
            self.handle = self.display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)

    def close(self) -> None:
        pass


def _notebook_display() -> Any:
    """IPython's display function when running in a Jupyter kernel, else None."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    shell = get_ipython()
    return display if getattr(shell, "kernel", None) is not None else None


class Progress:
    """A progress display for `label`: call update() as news comes, close() at the end."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        stream = stream or sys.stderr
        display = _notebook_display()
        self._sink: _Sink
        if display is not None:
            self._sink = _Notebook(display)
        elif stream.isatty():
            self._sink = _Terminal(stream)
        else:
            self._sink = _Lines(stream)
        self.label = label
        self._start = time.monotonic()
        self._last: tuple[str, str] | None = None

    def update(self, fraction: float, state: str, detail: str = "") -> None:
        """Shows fraction (0..1), the state, and what it is doing now."""
        elapsed = time.monotonic() - self._start
        line = f"{self.label} {bar(fraction)} {fraction * 100:3.0f}% {state}"
        line += f" {detail}" if detail else ""
        self._sink.show(f"{line} {elapsed:.0f}s", (state, detail) != self._last)
        self._last = (state, detail)

    def close(self) -> None:
        self._sink.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
