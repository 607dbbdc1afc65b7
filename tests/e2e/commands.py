"""Commands the documentation prints (README, the local server's banner), run as written in the repository.

`make` runs the Makefile's targets in the venv these tests run in: a stand-in `make` first on PATH adds
`-o .venv/.installed`, so make does not reinstall that venv when a requirements file is newer than its
stamp (a developer's machine mid-change; in CI, `make test` has just installed it). The command lines
themselves are run unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.e2e.local_server import REPO

_OUTER_MAKE = frozenset({"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR"})


def run_documented(
    command: str, scratch: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `command` with bash in the repository; `scratch` holds the stand-in `make`."""
    make = shutil.which("make")
    assert make is not None, "make is not installed"
    shim = scratch / "bin"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "make").write_text(f'#!/bin/sh\nexec {make} -o .venv/.installed "$@"\n')
    (shim / "make").chmod(0o755)
    path = f"{shim}{os.pathsep}{os.environ.get('PATH', '')}"
    # A reader's shell, not the `make test` this may run under: a sub-make prints
    # "Entering directory" lines around the output a command is documented to print.
    shell = {k: v for k, v in os.environ.items() if k not in _OUTER_MAKE}
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{command}"],
        cwd=REPO,
        env=shell | dict(env or {}) | {"PATH": path},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
