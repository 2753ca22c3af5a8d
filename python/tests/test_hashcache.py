"""The hash cache shares the C client's file and format (client/hash_cache.c)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from segq._hashcache import HashCache, default_path

SHA = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def c_line(st: os.stat_result, sha: str) -> str:
    """A line as the C client's s_format writes it."""
    m, c = divmod(st.st_mtime_ns, 10**9), divmod(st.st_ctime_ns, 10**9)
    return f"{st.st_dev} {st.st_ino} {st.st_size} {m[0]} {m[1]} {c[0]} {c[1]} {sha}\n"


def test_reads_what_the_c_client_wrote(tmp_path: Path) -> None:
    data = tmp_path / "image.png"
    data.write_bytes(b"png")
    cache = tmp_path / "hashes"
    cache.write_text(
        "garbage line\n1 2 3\n" + c_line(data.stat(), SHA) + "4 5 6 7 8 9 10 NOTAHASH\n"
    )
    assert HashCache(cache).lookup(data.stat()) == SHA
    data.write_bytes(b"png!")  # another size and mtime: another file
    assert HashCache(cache).lookup(data.stat()) is None


def test_writes_what_the_c_client_reads(tmp_path: Path) -> None:
    data = tmp_path / "image.png"
    data.write_bytes(b"png")
    cache = tmp_path / "made" / "hashes"
    HashCache(cache).remember(data.stat(), SHA, now=time.time() + 2)
    assert cache.read_text() == c_line(data.stat(), SHA)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700


def test_a_fresh_file_is_not_remembered(tmp_path: Path) -> None:
    data = tmp_path / "image.png"
    data.write_bytes(b"png")
    cache = HashCache(tmp_path / "hashes")
    cache.remember(data.stat(), SHA)  # written within the second: it may change unseen
    assert cache.lookup(data.stat()) is None and not (tmp_path / "hashes").exists()


def test_where_it_lives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGQ_HASH_CACHE", "/x/h")
    assert default_path() == Path("/x/h")
    monkeypatch.setenv("SEGQ_HASH_CACHE", "off")
    assert default_path() is None
    monkeypatch.delenv("SEGQ_HASH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "/c")
    assert default_path() == Path("/c/segq/hashes")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "/home/u")
    assert default_path() == Path("/home/u/.cache/segq/hashes")
