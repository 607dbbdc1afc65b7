"""The JavaScript clients (tests/e2e/clients/package-lock.json), installed from the npm registry with `npm ci`
into a cache folder of their own, once per lock file, and their scripts run there with `node`.

No Node or npm on the machine: the tests that need them are skipped, saying so. npm runs no package
scripts (`--ignore-scripts`) and skips optional packages (esbuild's native binary, which only the SDK's
CLI uses): the clients need neither, and the install stays a few seconds and ~26 MB (14 of them
playwright-core, which downloads no browser: the browser test drives the system's Chromium). The cache is
`.cache/e2e-clients/<hash of the package files>/` in the repository (ignored by git), or
`LAKEGATE_CLIENTS_CACHE`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.local_server import REPO

CLIENTS = Path(__file__).resolve().parent / "clients"
PACKAGE_FILES = ("package.json", "package-lock.json")
NODE_MAJOR = 20  # @tinybirdco/sdk's engines; the global fetch the scripts use
INSTALL_SECONDS = 300


def _cache_root() -> Path:
    return Path(os.environ.get("LAKEGATE_CLIENTS_CACHE") or REPO / ".cache" / "e2e-clients")


def _node_or_skip() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are not installed: the JavaScript clients cannot run here")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    major = re.match(r"v(\d+)\.", version)
    if major is None or int(major.group(1)) < NODE_MAJOR:
        pytest.skip(f"Node.js {version.strip()} is older than the {NODE_MAJOR} the clients need")
    return node, npm


def installed() -> Path:
    """The folder holding the clients' node_modules and the test scripts; skips without Node or npm."""
    _, npm = _node_or_skip()
    digest = hashlib.sha256(b"".join((CLIENTS / f).read_bytes() for f in PACKAGE_FILES)).hexdigest()[:16]
    target = _cache_root() / digest
    if not (target / "node_modules" / ".lakegate-installed").exists():
        staging = _cache_root() / f"{digest}.{os.getpid()}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name in PACKAGE_FILES:
            shutil.copy(CLIENTS / name, staging / name)
        done = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--omit=optional", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=INSTALL_SECONDS,
            check=False,
        )
        assert done.returncode == 0, f"npm ci failed in {staging}:\n{done.stderr}"
        (staging / "node_modules" / ".lakegate-installed").touch()
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    for script in CLIENTS.glob("*.mjs"):
        shutil.copy(script, target / script.name)
    return target


def run_script(script: str, env: dict[str, str], timeout: float = 120) -> Any:
    """Run one of tests/e2e/clients/*.mjs beside the installed clients; the JSON it prints."""
    node, _ = _node_or_skip()
    folder = installed()
    done = subprocess.run(
        [node, script],
        cwd=folder,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"node {script} failed:\n{done.stderr}"
    return json.loads(done.stdout)
