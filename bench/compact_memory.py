"""Compactor peak memory on a full Firehose buffer: one raw object of 64 MiB of records (the template's
`SizeInMBs`), as the ingest frames them (zstd'd) and Firehose writes them (gzip), landed by `Compactor`
on both paths, each in a fresh process: its peak resident set (`ru_maxrss`) against the function's 3008 MB.

- fast path: rows checked at ingest against the schema they land with (Arrow's JSON reader);
- slow path: the schema evolved since (records of an older version): every row parsed in Python and
  converted value by value, the path that peaked at 3.9 GB for 2.3M rows before rows were chunked.

Run: `python bench/compact_memory.py` (PYTHONPATH as in the Makefile). Goal (issue 9): under half.
Pass `--rows-per-request N` to frame the rows as requests of N rows (default 1000; smaller requests
make more, smaller records: more headers, less compression).
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

FUNCTION_MB = 3008  # template.yaml's CompactorFunction MemorySize
BUFFER_BYTES = 64 * 1024 * 1024  # template.yaml's Firehose SizeInMBs
KEY = "raw/2026/11/23/20/bench-memory"


class DiscardingStore:
    """The bucket: the raw object in, Parquet out and counted (S3 keeps it, not the function)."""

    def __init__(self, raw: bytes) -> None:
        self.raw: bytes | None = raw
        self.written = 0
        self.files = 0

    def get(self, key: str) -> bytes:
        raw, self.raw = self.raw, None  # handed over: the caller holds the only reference
        assert raw is not None
        return raw

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.written += len(body)
        self.files += 1

    def copy(self, source: str, target: str, metadata: Mapping[str, str]) -> None:
        raise AssertionError(f"the object was set aside: {metadata}")

    def folders(self, prefix: str) -> list[str]:
        return []

    def delete_prefix(self, prefix: str) -> int:
        return 0

    def keys(self, prefix: str) -> list[str]:
        return []

    def tail(self, key: str, size: int) -> bytes:
        raise AssertionError(f"nothing to read back: {key}")

    def delete(self, key: str) -> None:
        raise AssertionError(f"nothing to delete: {key}")


def build(path: Path, rows_per_request: int) -> tuple[int, int]:
    """A raw object of BUFFER_BYTES of records (gzip'd as Firehose writes it), and its rows and NDJSON bytes."""
    from ingest import make_batch
    from lakegate.framing import RecordHeader, frame_rows

    lines = make_batch().splitlines()
    records: list[bytes] = []
    size = rows = ndjson = 0
    request = 0
    while size < BUFFER_BYTES:
        start = (request * rows_per_request) % len(lines)
        part = lines[start : start + rows_per_request] or lines[:rows_per_request]
        header = RecordHeader("flights", "ws", False, f"req-{request}", 1_795_460_400_000, 1)
        for rec in frame_rows(header, part):
            if size + len(rec.data) > BUFFER_BYTES:
                break
            records.append(rec.data)
            size += len(rec.data)
            rows += rec.rows
            ndjson += sum(len(line) + 1 for line in part[: rec.rows])
        else:
            request += 1
            continue
        break
    path.write_bytes(gzip.compress(b"".join(records), 1))
    return rows, ndjson


def run(path: str, path_kind: str) -> None:
    """In the child: land the object once, print what it took."""
    from ingest import make_batch
    from lakegate.lake.compactor import Compactor
    from lakegate.memory import MemoryRegistry
    from lakegate.schema import infer

    ds = infer("flights", map(json.loads, make_batch().splitlines()[:1000]), 500, 32)
    if path_kind == "slow":  # the schema evolved after these rows were checked: version 2 is stored
        ds = replace(ds, version=2)
    registry = MemoryRegistry()
    registry.create("ws", ds)
    raw = Path(path).read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    store = DiscardingStore(raw)
    del raw
    start = time.perf_counter()
    outcome = Compactor(store, registry).process(KEY)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "rows": outcome.rows,
                "files": store.files,
                "parquet": store.written,
                "seconds": seconds,
                "peak_kb": peak,
                "before_kb": before,
            }
        )
    )


def measure(path: Path, kind: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), kind], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=2)
    parser.add_argument("--rows-per-request", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.child:
        run(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "raw.gz"
        rows, ndjson = build(path, args.rows_per_request)
        print(
            f"raw object: {BUFFER_BYTES / 2**20:.0f} MiB of records ({args.rows_per_request} rows a request), "
            f"{path.stat().st_size / 1e6:.0f} MB gzip'd, {rows:,} rows, {ndjson / 1e6:.0f} MB of NDJSON"
        )
        for kind in ("fast", "slow"):
            r = measure(path, kind)
            peak = r["peak_kb"] / 1024
            print(
                f"{kind} path: {r['rows']:>10,.0f} rows landed in {r['seconds']:5.1f} s, {r['files']:.0f} files; "
                f"peak RSS {peak:6.0f} MB = {peak / FUNCTION_MB:.0%} of the function's {FUNCTION_MB} MB "
                f"(imports and the object read: {r['before_kb'] / 1024:.0f} MB; goal: under 50%)"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
