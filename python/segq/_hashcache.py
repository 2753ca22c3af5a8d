"""The sha256 of local files uploaded before, remembered by what stat says
of them, so that a re-submit of an unchanged file names its hash in PUT and
the broker can skip it. The same file and format as the C client's
(client/hash_cache.h), so `segq` and Python share what they learnt:

    DEV INO SIZE MTIME_S MTIME_NS CTIME_S CTIME_NS SHA256

one line per entry, appended with one write (0600, folder 0700). A file is
remembered only once its mtime and ctime are a second old (a write within
the same timestamp tick would go unseen). A wrong entry costs only time:
the broker verifies every upload, and a mismatch is sent again as new.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ._spec import HASH_RE

_Key = tuple[int, int, int, int, int, int, int]


def default_path() -> Path | None:
    """$SEGQ_HASH_CACHE ("off": none), else $XDG_CACHE_HOME/segq/hashes,
    else ~/.cache/segq/hashes."""
    env = os.environ.get("SEGQ_HASH_CACHE")
    if env:
        return None if env == "off" else Path(env)
    xdg, home = os.environ.get("XDG_CACHE_HOME"), os.environ.get("HOME")
    if xdg:
        return Path(xdg) / "segq" / "hashes"
    return Path(home) / ".cache" / "segq" / "hashes" if home else None


def _key(st: os.stat_result) -> _Key:
    return (
        st.st_dev,
        st.st_ino,
        st.st_size,
        *divmod(st.st_mtime_ns, 10**9),
        *divmod(st.st_ctime_ns, 10**9),
    )


class HashCache:
    """The cache file at `path`, read at first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[_Key, str] | None = None

    def _load(self) -> dict[_Key, str]:
        if self._entries is None:
            self._entries = {}
            try:
                lines = self.path.read_text(encoding="ascii", errors="replace").splitlines()
            except OSError:
                lines = []
            for line in lines:  # later lines win; malformed ones are skipped
                fields = line.split()
                if (
                    len(fields) == 8
                    and HASH_RE.fullmatch(fields[7])
                    and all(f.lstrip("-").isdigit() for f in fields[:7])
                ):
                    key = tuple(int(f) for f in fields[:7])
                    self._entries[key] = fields[7]  # type: ignore[index]
        return self._entries

    def lookup(self, st: os.stat_result) -> str | None:
        """The remembered sha256 of the file `st` describes, if any."""
        return self._load().get(_key(st))

    def remember(self, st: os.stat_result, sha256: str, now: float | None = None) -> None:
        """Remembers sha256 for that file, unless it is too fresh. Errors are
        ignored: the cache only saves time."""
        now_ns = int((time.time() if now is None else now) * 1e9)
        if now_ns - max(st.st_mtime_ns, st.st_ctime_ns) < 10**9:
            return
        key = _key(st)
        self._load()[key] = sha256
        line = " ".join(map(str, key)) + f" {sha256}\n"
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, line.encode())  # one write: concurrent appenders do not interleave
            finally:
                os.close(fd)
        except OSError:
            pass
