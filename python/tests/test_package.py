"""The package installs with pip from the repository's python/ folder, as
the README says (offline: Debian's setuptools builds it, pyzmq and msgpack
are already there), and the installed copy is the one imported."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import REPO


def test_pip_installs_the_package(tmp_path: Path) -> None:
    # a copy: building writes build/ and *.egg-info beside the sources
    source = tmp_path / "python"
    shutil.copytree(REPO / "python", source, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        env={"PIP_ROOT_USER_ACTION": "ignore", "PATH": "/usr/bin:/bin"},
    )
    # from elsewhere: the checkout's segq must not be the one found
    imported = subprocess.run(
        [sys.executable, "-c", "import segq, sys; print(segq.__file__); print(segq.connect)"],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert Path(imported[0]).resolve() == (target / "segq" / "__init__.py").resolve()
    assert (target / "segq" / "py.typed").exists(), "the type marker ships with the package"
