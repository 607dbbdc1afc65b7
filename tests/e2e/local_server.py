"""The local server as the e2e tests drive it: `python -m lakegate_local` in a subprocess on free ports,
and shell snippets run as written against it (curl's status and body read through a curlrc)."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import boto3
import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REPO = Path(__file__).resolve().parents[2]
READY = re.compile(r"^lakegate local server ready: api=(\S+) aws=(\S+) bucket=(\S+)$")
STARTUP_SECONDS = 60


@dataclass
class LocalServer:
    api: str
    token: str
    s3: S3Client
    bucket: str
    workdir: Path
    stderr: Path
    # What the server prints on stdout after its ready line (its banner, then the handler's logs).
    output: queue.Queue[str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _drain(stream: IO[str], lines: queue.Queue[str]) -> None:
    # The handler logs to stdout: keep reading so the pipe never fills and blocks the server.
    for line in stream:
        lines.put(line)


def _wait_ready(process: subprocess.Popen[str], lines: queue.Queue[str], stderr: Path) -> re.Match[str]:
    while True:
        try:
            line = lines.get(timeout=STARTUP_SECONDS)
        except queue.Empty:
            pytest.fail(f"no ready line within {STARTUP_SECONDS}s; stderr:\n{stderr.read_text()}")
        ready = READY.match(line.strip())
        if ready:
            return ready
        if process.poll() is not None and lines.empty():
            pytest.fail(f"server exited with {process.returncode}; stderr:\n{stderr.read_text()}")


@contextmanager
def local_server(workdir: Path, extra_env: dict[str, str] | None = None) -> Iterator[LocalServer]:
    """`python -m lakegate_local` on free ports, its lake beside the test's files, until the block ends
    (`extra_env`: more of the server's settings, FRONT_DOOR=FunctionUrl say)."""
    api_port, aws_port, token = _free_port(), _free_port(), "e2e-admin-token"
    paths = [
        str(REPO / p) for p in ("layers/shared/python", "functions/ingest", "functions/compactor", "local")
    ]
    # An inherited PYTHONPATH comes first, as PYTHONPATH does: it can put a stand-in handler in front.
    inherited = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
    env = (
        os.environ
        | {
            "PORT": str(api_port),
            "AWS_ENDPOINT_PORT": str(aws_port),
            "ADMIN_TOKEN": token,
            "PYTHONPATH": os.pathsep.join([*inherited, *paths]),
            "PYTHONUNBUFFERED": "1",
            # The compactor's disk mirror goes beside the test's files, not into the repository's lake/.
            "LAKE_DIR": str(workdir / "lake"),
            "COMPACT_INTERVAL_SECONDS": "0.5",
        }
        | (extra_env or {})
    )
    stderr = workdir / "server.stderr"
    with stderr.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "lakegate_local"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True).start()
    try:
        ready = _wait_ready(process, lines, stderr)
        api, endpoint, bucket = ready.groups()
        assert api == f"http://127.0.0.1:{api_port}"
        assert endpoint == f"http://127.0.0.1:{aws_port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        yield LocalServer(api, token, s3, bucket, workdir, stderr, lines)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    assert code == 0, stderr.read_text()


def raw_objects(server: LocalServer) -> dict[str, bytes]:
    s3 = server.s3
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=server.bucket, Prefix="raw/")
        for o in page.get("Contents", [])
    ]
    return {k: s3.get_object(Bucket=server.bucket, Key=k)["Body"].read() for k in keys}


def without_zstd(script: str) -> str:
    """The snippet with Python's zstandard standing in for a `zstd` command this machine lacks."""
    if shutil.which("zstd") is not None:
        return script
    compress = "import sys, zstandard; sys.stdout.buffer.write(zstandard.compress(sys.stdin.buffer.read()))"
    return re.sub(r"^(\s*)zstd\b", rf"\1{sys.executable} -c '{compress}'", script, flags=re.MULTILINE)


def run_shell(script: str, server: LocalServer) -> str:
    """Run a shell snippet as written, beside the server's files, with `$API` and `$TOKEN` set; its
    stdout. curl's .curlrc appends `\n<status>` after each body."""
    result = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{without_zstd(script)}"],
        cwd=server.workdir,
        env=os.environ
        | {"CURL_HOME": str(_curl_config(server.workdir)), "API": server.api, "TOKEN": server.token},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def run_curl(script: str, server: LocalServer) -> tuple[int, str]:
    """Run a shell snippet as written: its one answer's status and body."""
    body, _, status = run_shell(script, server).rpartition("\n")
    return int(status), body


def _curl_config(workdir: Path) -> Path:
    """The status and body come from a curlrc, so the snippets run as written."""
    home = workdir / "curl-home"
    home.mkdir(exist_ok=True)
    (home / ".curlrc").write_text('silent\nshow-error\nmax-time = 30\nwrite-out = "\\n%{http_code}"\n')
    return home
