"""The Tinybird Events API docs' curl examples, run as published against `python -m lakegate_local`.

Only the host and the token are replaced. Each example must get Tinybird's status and body, and its
rows must land, byte for byte, in raw Firehose objects in the emulated bucket.
"""

from __future__ import annotations

import gzip
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import boto3
import pyarrow.parquet as pq
import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO.parent / "shared" / "seeds"
READY = re.compile(r"^lakegate local server ready: api=(\S+) aws=(\S+) bucket=(\S+)$")
HOSTS = ("https://api.tinybird.co", '{% user("apiHost") %}')
# `<import_token>`, `<DATASOURCE:APPEND token>`, `<AUTH_TOKEN>`; the guide's gzip example has a
# stray `.` after its placeholder, which would make any real token invalid.
TOKEN_PLACEHOLDER = re.compile(r"Bearer <[^>]+>\.?")
# Every row in these examples is a flat JSON object.
ROW = re.compile(r'\{"[^{}]*\}')
# The file the reference's gzip example posts ("a batch of NDJSON events"): rows that fit the
# `events_example` schema the guide's examples create, whichever runs first.
BODY_GZ_ROWS = [b'{"timestamp":"2022-10-27T11:43:02.099Z"}', b'{"timestamp":"2022-10-27T11:44:13.512Z"}']
STARTUP_SECONDS = 60


@dataclass(frozen=True)
class Example:
    """One published shell snippet and the rows it sends."""

    id: str
    script: str

    @property
    def rows(self) -> list[bytes]:
        if "@body.gz" in self.script and "gzip >" not in self.script:
            return BODY_GZ_ROWS
        # `$'a\nb'` separates rows with a literal backslash-n in the snippet's text.
        return [m.encode() for m in ROW.findall(self.script.replace("\\n", "\n"))]

    @property
    def expected_status(self) -> int:
        return 200 if "wait=true" in self.script else 202


def _reference_examples() -> list[Example]:
    """`curl \\` ... blocks: a line starting with `curl` and its backslash continuations."""
    lines = (SEEDS / "tinybird-events-api-reference.txt").read_text().splitlines()
    examples: list[Example] = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("curl"):
            block = [lines[i]]
            while block[-1].rstrip().endswith("\\"):
                i += 1
                block.append(lines[i])
            examples.append(Example(f"reference-{len(examples) + 1}", "\n".join(block)))
        i += 1
    return examples


def _guide_examples() -> list[Example]:
    """```shell blocks that call curl, cut before the response transcript (`< HTTP/2 202`)."""
    text = (SEEDS / "tinybird-events-api-guide.txt").read_text()
    examples: list[Example] = []
    for block in re.findall(r"```shell[^\n]*\n(.*?)```", text, flags=re.DOTALL):
        if "curl" not in block:
            continue
        script = block.split("\n<", 1)[0]
        # The zstd example breaks its pipeline across lines with a pipe at both ends (`|` then
        # `| zstd`), a bash syntax error: keep one of the two.
        script = re.sub(r"\|[ \t]*\n([ \t]*)\|", r"|\n\1", script)
        examples.append(Example(f"guide-{len(examples) + 1}", script))
    return examples


def _token_in_query(example: Example) -> Example:
    """The reference's first example with the token as `?token=` instead of the header."""
    script = re.sub(r'[ \t]*-H "Authorization: Bearer <[^>]+>" \\\n', "", example.script)
    script = script.replace("?name=", "?token=<token>&name=")
    return Example("reference-1-token-in-query", script)


REFERENCE = _reference_examples()
GUIDE = _guide_examples()
EXAMPLES = [*REFERENCE, *GUIDE, _token_in_query(REFERENCE[0])]


def test_seeds_hold_the_examples_we_expect() -> None:
    """The seeds were read as intended: a change in them should show here first."""
    assert len(REFERENCE) == 3
    assert len(GUIDE) == 6
    assert [len(e.rows) for e in EXAMPLES] == [1, 2, 2, 1, 2, 1, 1, 1, 1, 1]
    assert [e.expected_status for e in EXAMPLES].count(200) == 1


@dataclass
class LocalServer:
    api: str
    token: str
    s3: S3Client
    bucket: str
    workdir: Path
    stderr: Path


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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    workdir = tmp_path_factory.mktemp("seeds")
    api_port, aws_port, token = _free_port(), _free_port(), "e2e-admin-token"
    paths = [
        str(REPO / p) for p in ("layers/shared/python", "functions/ingest", "functions/compactor", "local")
    ]
    # An inherited PYTHONPATH comes first, as PYTHONPATH does: it can put a stand-in handler in front.
    inherited = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
    env = os.environ | {
        "PORT": str(api_port),
        "AWS_ENDPOINT_PORT": str(aws_port),
        "ADMIN_TOKEN": token,
        "PYTHONPATH": os.pathsep.join([*inherited, *paths]),
        "PYTHONUNBUFFERED": "1",
        # The compactor's disk mirror goes beside the test's files, not into the repository's lake/.
        "LAKE_DIR": str(workdir / "lake"),
        "COMPACT_INTERVAL_SECONDS": "0.5",
    }
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
        yield LocalServer(api, token, s3, bucket, workdir, stderr)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    assert code == 0, stderr.read_text()


def _raw_objects(server: LocalServer) -> dict[str, bytes]:
    s3 = server.s3
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=server.bucket, Prefix="raw/")
        for o in page.get("Contents", [])
    ]
    return {k: s3.get_object(Bucket=server.bucket, Key=k)["Body"].read() for k in keys}


def _localize(script: str, server: LocalServer) -> str:
    for host in HOSTS:
        script = script.replace(host, server.api)
    script = TOKEN_PLACEHOLDER.sub(f"Bearer {server.token}", script)
    script = script.replace("token=<token>", f"token={server.token}")
    if shutil.which("zstd") is None:
        compress = (
            "import sys, zstandard; sys.stdout.buffer.write(zstandard.compress(sys.stdin.buffer.read()))"
        )
        script = re.sub(r"^(\s*)zstd\b", rf"\1{sys.executable} -c '{compress}'", script, flags=re.MULTILINE)
    return script


def run_shell(script: str, server: LocalServer) -> str:
    """Run a shell snippet as written, beside the server's files; its stdout. curl's .curlrc appends
    `\n<status>` after each body."""
    result = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{script}"],
        cwd=server.workdir,
        env=os.environ | {"CURL_HOME": str(_curl_config(server.workdir))},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def run_curl(script: str, server: LocalServer) -> tuple[int, str]:
    """Run a seed's shell snippet as published: its one answer's status and body."""
    body, _, status = run_shell(script, server).rpartition("\n")
    return int(status), body


def _curl_config(workdir: Path) -> Path:
    """The status and body come from a curlrc, so the examples' own command lines stay as published."""
    home = workdir / "curl-home"
    home.mkdir(exist_ok=True)
    (home / ".curlrc").write_text('silent\nshow-error\nmax-time = 30\nwrite-out = "\\n%{http_code}"\n')
    return home


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example(server: LocalServer, example: Example) -> None:
    # Given the files an example expects beside it
    (server.workdir / "body.gz").write_bytes(gzip.compress(b"".join(r + b"\n" for r in BODY_GZ_ROWS)))
    before = _raw_objects(server)

    # When it runs as published, bar host and token
    status, body = run_curl(_localize(example.script, server), server)

    # Then Tinybird's status and body, and the rows in new raw objects
    assert status == example.expected_status, body
    assert json.loads(body) == {"successful_rows": len(example.rows), "quarantined_rows": 0}
    assert body == f'{{"successful_rows":{len(example.rows)},"quarantined_rows":0}}'
    landed = b"".join(data for key, data in _raw_objects(server).items() if key not in before)
    for row in example.rows:
        assert row in landed, f"{row!r} is in no new object under raw/"


def test_rows_are_compacted_to_parquet_and_mirrored_to_disk(server: LocalServer) -> None:
    # Given a row sent to a data source of its own
    row = b'{"city":"Lisbon","n":1}'
    request = urllib.request.Request(
        f"{server.api}/v0/events?name=e2e_compacted",
        data=row,
        headers={"Authorization": f"Bearer {server.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202

    # When the compactor loop has had a few rounds, Then its Parquet is in the bucket and on disk
    deadline = time.monotonic() + 30
    files: list[Path] = []
    while not files and time.monotonic() < deadline:
        time.sleep(0.2)
        files = list((server.workdir / "lake" / "datasources" / "e2e_compacted").rglob("part-*.parquet"))
    assert files, server.stderr.read_text()
    (path,) = files
    assert path.relative_to(server.workdir / "lake").parts[2].startswith("date=")
    assert pq.read_table(path).to_pylist() == [{"city": "Lisbon", "n": 1}]
    key = path.relative_to(server.workdir / "lake").as_posix()
    assert server.s3.get_object(Bucket=server.bucket, Key=key)["Body"].read() == path.read_bytes()


def test_readme_data_source_examples_define_list_and_show(server: LocalServer) -> None:
    """README's "define the schema" curl lines, run as written with `$API` and `$TOKEN` set."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"### Data sources: define.*?```sh\n(.*?)```", readme, flags=re.DOTALL)
    assert block is not None, "README's data-source examples are not where they were"
    script = f"API={server.api}\nTOKEN={server.token}\n" + block.group(1)

    out = run_shell(script, server)

    # define, list, show: each body, then `\n` and its status (the curlrc's write-out), then the next body
    parts = out.split("\n")
    statuses = [p[:3] for p in parts[1:]]
    assert statuses == ["200", "200", "200"], parts
    defined, listed, shown = (json.loads(b) for b in [parts[0], *(p[3:] for p in parts[1:-1])])
    assert defined["datasource"] == shown
    assert shown["engine"]["engine_ttl"] == "timestamp + toIntervalDay(60)"
    assert "page_views" in [d["name"] for d in listed["datasources"]]
