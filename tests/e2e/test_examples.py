"""The project's Events API examples (tests/e2e/examples/), README's and the local server's own banner,
run as written against `python -m lakegate_local`.

Each example must get its status and body, and its rows must land, byte for byte, in raw Firehose objects
in the emulated bucket; README's data-source lines and the banner's commands must work as printed.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lakegate.lake.layout import folder
from tests.e2e.commands import run_documented
from tests.e2e.examples import Example, events_examples
from tests.e2e.local_server import REPO, LocalServer, raw_objects, run_curl, run_shell

EXAMPLES = events_examples()
BANNER_END = "Stop with Ctrl-C."


def test_the_examples_are_read_as_intended() -> None:
    """A change in the examples, or in how they are read, shows here first."""
    assert [(e.name, len(e.rows), e.status) for e in EXAMPLES] == [
        ("events_gzip_file", 2, 202),
        ("events_ndjson", 2, 202),
        ("events_one_row", 1, 202),
        ("events_quarantine", 1, 202),
        ("events_token_in_query", 1, 202),
        ("events_wait", 1, 200),
        ("events_zstd_pipe", 2, 202),
    ]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example(server: LocalServer, example: Example) -> None:
    before = raw_objects(server)

    # When it runs as written, with $API and $TOKEN set
    status, body = run_curl(example.script, server)

    # Then the answer it documents, and its rows in new raw objects
    assert (status, body) == (example.status, example.body)
    landed = b"".join(data for key, data in raw_objects(server).items() if key not in before)
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
    files = _parquet(server, "e2e_compacted")
    (path,) = files
    assert path.relative_to(server.workdir / "lake").parts[1:4] == ("local", "e2e_compacted", path.parts[-3])
    assert path.parts[-3].startswith("date=")
    assert pq.read_table(path).to_pylist() == [{"city": "Lisbon", "n": 1}]
    key = path.relative_to(server.workdir / "lake").as_posix()
    assert server.s3.get_object(Bucket=server.bucket, Key=key)["Body"].read() == path.read_bytes()


def _parquet(server: LocalServer, datasource: str) -> list[Path]:
    deadline = time.monotonic() + 30
    files: list[Path] = []
    while not files and time.monotonic() < deadline:
        time.sleep(0.2)
        # The admin token `make run` seeds is workspace `local`'s.
        files = list((server.workdir / "lake" / folder("local", datasource)).rglob("part-*.parquet"))
    assert files, server.stderr.read_text()
    return files


def test_readme_data_source_examples_define_list_and_show(server: LocalServer) -> None:
    """README's "define the schema" curl lines, run as written with `$API` and `$TOKEN` set."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"### Data sources: define.*?```sh\n(.*?)```", readme, flags=re.DOTALL)
    assert block is not None, "README's data-source examples are not where they were"

    out = run_shell(block.group(1), server)

    # define, list, show: each body, then `\n` and its status (the curlrc's write-out), then the next body
    parts = out.split("\n")
    statuses = [p[:3] for p in parts[1:]]
    assert statuses == ["200", "200", "200"], parts
    defined, listed, shown = (json.loads(b) for b in [parts[0], *(p[3:] for p in parts[1:-1])])
    assert defined["datasource"] == shown
    assert shown["engine"]["engine_ttl"] == "timestamp + toIntervalDay(60)"
    assert "page_views" in [d["name"] for d in listed["datasources"]]


def _banner(server: LocalServer) -> list[str]:
    """The lines the server printed after its ready line, up to the last one."""
    lines: list[str] = []
    while not lines or lines[-1] != BANNER_END:
        try:
            lines.append(server.output.get(timeout=10).rstrip("\n"))
        except queue.Empty:
            pytest.fail(f"no {BANNER_END!r} in the banner: {lines}")
    return lines


def test_the_banners_commands_work_as_printed(server: LocalServer) -> None:
    # Given the commands the banner prints: the curl, and those that look at what landed
    banner = _banner(server)
    start = banner.index(next(line for line in banner if line.startswith("Send an event")))
    curl = "\n".join(banner[start + 1 : start + 3])
    looks = banner[start + 4 : -1]
    assert [c.split()[0] for c in looks[:3]] == ["find", f"LAKE_DIR={server.workdir / 'lake'}", "make"]
    assert all("python -m" not in c for c in banner), "the banner's commands run through make"
    if shutil.which("aws") is None:
        assert not any("aws --endpoint-url" in c for c in banner), "the AWS CLI is not installed here"

    # When the curl runs as printed (it holds the host and the token), and the row is compacted
    status, body = run_curl(curl, server)
    assert (status, body) == (202, '{"successful_rows":1,"quarantined_rows":0}')
    _parquet(server, "events_test")

    # Then each command that looks at it succeeds, run in the repository as the banner says
    results = {}
    for command in looks[:3]:
        done = run_documented(command, server.workdir)
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        results[command.split()[0]] = done.stdout
    assert ".parquet" in results["find"]
    assert "Chicago\t1" in next(v for k, v in results.items() if k.startswith("LAKE_DIR="))
    assert "events_test" in results["make"]
