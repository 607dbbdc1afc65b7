"""The project's Events API examples (tests/e2e/examples/) and README's, run as written against
`python -m lakegate_local`.

Each example must get its status and body, and its rows must land, byte for byte, in raw Firehose objects
in the emulated bucket; README's data-source lines must work as printed.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.e2e.examples import Example, events_examples
from tests.e2e.local_server import REPO, LocalServer, raw_objects, run_curl, run_shell

EXAMPLES = events_examples()


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
    assert path.relative_to(server.workdir / "lake").parts[2].startswith("date=")
    assert pq.read_table(path).to_pylist() == [{"city": "Lisbon", "n": 1}]
    key = path.relative_to(server.workdir / "lake").as_posix()
    assert server.s3.get_object(Bucket=server.bucket, Key=key)["Body"].read() == path.read_bytes()


def _parquet(server: LocalServer, datasource: str) -> list[Path]:
    deadline = time.monotonic() + 30
    files: list[Path] = []
    while not files and time.monotonic() < deadline:
        time.sleep(0.2)
        files = list((server.workdir / "lake" / "datasources" / datasource).rglob("part-*.parquet"))
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
