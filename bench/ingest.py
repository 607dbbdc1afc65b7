"""Ingest benchmark: the handler's rows/s as a ratio of bare `orjson.loads` per line, on the same bytes.

Run: `make bench` (or `python bench/ingest.py`; `--bad-rows-only` for the imperfect-data ratios alone,
`--cold-start-only [runs]` for the cold start). Everything is measured in one run on one machine:
the baseline and the candidates see the same ~10 MB NDJSON batch, so the ratios travel, the
absolute figures do not. Targets (issue 2): decode+validate+frame >= 75% of bare parse; the whole
handler (gzip body, API Gateway event, botocore serialising PutRecordBatch, AWS answered by a stub
at the HTTP layer) >= 40%; cold import + client creation <= 200 ms.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson

import stubs
from stubs import ENV

ROOT = Path(__file__).resolve().parent.parent
TARGET_BYTES = 10_000_000  # ~10 MB, under the default 10 MiB decompressed cap
REPEATS = 7


def make_batch() -> bytes:
    """Rows shaped like the seeds' flight example: 14 fields, dates, numbers, bools, strings."""
    rnd = random.Random(42)
    cities = ["Barcelona", "London", "Madrid", "Chicago", "New York", "Pretoria", "Jamaica"]
    lines: list[bytes] = []
    size = 0
    i = 0
    while size < TARGET_BYTES:
        row = {
            "timestamp": f"2022-10-27T11:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
            "transaction_id": str(uuid.UUID(int=rnd.getrandbits(128))),
            "name": f"Passenger {i}",
            "email": f"passenger{i}@example.com",
            "age": rnd.randint(1, 99),
            "passport_number": rnd.randint(1_000_000, 9_999_999),
            "flight_from": rnd.choice(cities),
            "flight_to": rnd.choice(cities),
            "extra_bags": rnd.randint(0, 3),
            "flight_class": rnd.choice(["economy", "business", "first"]),
            "priority_boarding": rnd.random() < 0.3,
            "meal_choice": rnd.choice(["vegetarian", "vegan", "none"]),
            "seat_number": f"{rnd.randint(1, 40)}{rnd.choice('ABCDEF')}",
            "airline": "Red Balloon",
        }
        line = json.dumps(row).encode()
        lines.append(line)
        size += len(line) + 1
        i += 1
    return b"\n".join(lines) + b"\n"


def with_bad_rows(body: bytes, every: int) -> bytes:
    """The batch with every `every`-th row failing the schema (its age a string), spread evenly."""
    lines = body.split(b"\n")
    for i in range(every // 2, len(lines) - 1, every):
        lines[i] = lines[i].replace(b'"age": ', b'"age": "x', 1).replace(b', "passport', b'", "passport', 1)
    return b"\n".join(lines)


def best_of(candidates: dict[str, Callable[[], object]], repeats: int = REPEATS) -> dict[str, float]:
    """The best time of each candidate, timed in turns: a noisy moment on a shared machine then slows
    them all rather than one (ratios swung by 30 points when each was timed in a block of its own)."""
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(repeats):
        for name, fn in candidates.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def bare_parse(body: bytes) -> None:
    loads = orjson.loads
    for line in body.split(b"\n"):
        if line:
            loads(line)


def core_path(body: bytes) -> Callable[[], object]:
    """decode (identity) + parse + validate + frame, against the schema inference picks."""
    from lakegate.framing import RecordHeader, batch_calls, frame_runs
    from lakegate.ingest.body import decode
    from lakegate.ingest.rows import compile_validator, parse, parse_and_check
    from lakegate.schema import infer

    ds = infer("flights", parse(body[:100_000], 1_000_000).objects, 500, 32)
    validator = compile_validator(ds)
    header = RecordHeader("flights", "ws", False, "rid", 0, 1)

    def run() -> object:
        data = decode(body, "", 20 * 1024 * 1024, 20 * 1024 * 1024)
        checked = parse_and_check(data, validator, 1_000_000)
        assert not checked.rejected, checked.rejected[:1]
        return batch_calls(frame_runs(header, checked.accepted.runs()))  # as Ingestor.ingest frames them

    return run


def handler_path(body: bytes, schema_of: bytes | None = None) -> Callable[[], object]:
    """The whole Lambda: API Gateway event with a gzip body, in and out of the real handler (the data
    source's schema inferred from `schema_of`, by default the body)."""
    os.environ.update(ENV)
    import app
    from lakegate.ingest.rows import parse
    from lakegate.schema import infer

    stubs.stub_aws(infer("flights", parse((schema_of or body)[:100_000], 1_000_000).objects, 500, 32))
    event = stubs.api_event(
        gzip.compress(body, compresslevel=6), "name=flights", {"content-encoding": "gzip"}
    )

    def run() -> object:
        resp = app.lambda_handler(event, stubs.context())
        assert resp["statusCode"] == 202, resp
        return resp

    return run


def cold_start_ms() -> float:
    """The cold start: median of 5 fresh interpreters (cold_start_runs)."""
    return statistics.median(cold_start_runs(5))


# The floor a cold start cannot go under with botocore: import it and create the function's two clients,
# nothing of lakegate (no powertools, no orjson). Timed the same way, so the ratio travels between
# machines where the milliseconds do not (this one's speed has varied ~3x between sessions).
_FLOOR = (
    "import time; t=time.perf_counter(); import botocore.session; s=botocore.session.get_session();"
    " s.create_client('dynamodb'); s.create_client('firehose'); print((time.perf_counter()-t)*1000)"
)


def cold_start_runs(n: int, code: str | None = None) -> list[float]:
    """Fresh interpreter: import the handler module, build its service (clients included); or run `code`
    (the floor) the same way."""
    code = code or (
        "import time; t=time.perf_counter(); import app; app._get_app(); print((time.perf_counter()-t)*1000)"
    )
    return [float(out) for out in _fresh_interpreters([sys.executable, "-c", code], n)]


def _fresh_interpreters(args: list[str], n: int) -> list[str]:
    """What `args` (a python command) prints in n fresh interpreters, each a cold start as in Lambda.

    As in Lambda, every library is imported from .pyc (the runtime's and the layer's, which its build
    compiles: layers/shared/Makefile) and the function's app.py, copied as source by its build, is
    compiled on every cold start. A first run writes the .pyc to a scratch folder, never into the tree
    (this machine sets PYTHONDONTWRITEBYTECODE, which would make each run compile lakegate again)."""
    function = ROOT / "functions/ingest"
    with tempfile.TemporaryDirectory() as cache:
        env = (
            os.environ
            | ENV
            | {
                "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/shared/python"), str(function)]),
                "PYTHONPYCACHEPREFIX": cache,
            }
        )
        warm = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.check_output(args, env=warm)
        shutil.rmtree(Path(cache + str(function)), ignore_errors=True)  # no .pyc of the function in Lambda
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return [subprocess.check_output(args, env=env, text=True) for _ in range(n)]


_FIRST_REQUESTS = """
import sys, time
t = time.perf_counter(); import app; app._get_app(); cold = time.perf_counter() - t
sys.path += sys.argv[1:]  # the stubs come after the handler's own imports, and add none of its modules
import stubs
from lakegate.ingest.rows import parse
from lakegate.schema import infer
row = b'{"timestamp": "2022-10-27T11:00:00.000Z", "name": "a", "age": 3}\\n'
stubs.stub_aws(infer("flights", parse(row, 1000).objects, 500, 32))
events = stubs.api_event(row, "name=flights")
shown = stubs.apigw.api_event("GET", "/v0/datasources/flights", {"authorization": "Bearer " + stubs.TOKEN}, b"")
took = []
for event in (events, events, shown, shown):
    t = time.perf_counter(); resp = app.lambda_handler(event, stubs.context()); took.append(time.perf_counter() - t)
    assert resp["statusCode"] in (200, 202), resp
print(*(round(x * 1000, 1) for x in (cold, *took)))
"""


def first_requests_ms() -> list[float]:
    """In a fresh interpreter, as cold_start_runs: the cold start, then the first and second single-row
    /v0/events request, then the first and second GET /v0/datasources/{name} (whose route imports the
    Data Sources API on first use): what moving an import out of the cold start costs the route that
    makes it. AWS answered by the stubs."""
    args = [sys.executable, "-c", _FIRST_REQUESTS, str(ROOT / "bench"), str(ROOT / "local")]
    return [float(x) for x in _fresh_interpreters(args, 1)[0].split()]


def print_floor(cold: float, n: int) -> None:
    """The cold start against botocore's own floor, measured in the same run (_FLOOR)."""
    floor = statistics.median(cold_start_runs(n, _FLOOR))
    print(
        f"floor: botocore + 2 clients: {floor:>9.0f} ms (median of {n}); cold start = {cold / floor:.2f}x the floor,"
        f" {cold - floor:.0f} ms above it"
    )


def print_first_requests(n: int) -> None:
    runs = [first_requests_ms() for _ in range(n)]
    med = [statistics.median(col) for col in zip(*runs, strict=True)]
    print(
        f"first requests (median of {n}, ms): cold start {med[0]:.0f}; /v0/events first {med[1]:.1f},"
        f" second {med[2]:.1f}; GET /v0/datasources/{{name}} first {med[3]:.1f}, second {med[4]:.1f}"
    )


def print_bad_rows(body: bytes) -> None:
    """Imperfect data (issue 13): the same batch with 1% and 10% of its rows failing the schema, evenly
    spread, through the whole handler, as a share of the all-valid batch's rows/s in the same run."""
    bad = {"1%": with_bad_rows(body, 100), "10%": with_bad_rows(body, 10)}
    # Best of 21, not 7: with 7, runs minutes apart on this shared machine read 65-109% for 1% bad rows
    # and 42-60% for 10%; with 21, 85% three times and 47-58% (the same code, ~10 s more).
    runs = best_of(
        {
            "valid": handler_path(body),
            **{share: handler_path(data, schema_of=body) for share, data in bad.items()},
        },
        repeats=21,
    )
    for share, target in (("1%", 0.8), ("10%", 0.5)):
        ratio = runs["valid"] / runs[share]
        print(
            f"whole handler, {share:>3} bad rows: {ratio:>10.0%} of all-valid rows/s (target >= {target:.0%})"
        )


def main() -> None:
    if "--cold-start-only" in sys.argv:  # the cold start alone, with its spread: `--cold-start-only [runs]`
        args = sys.argv[sys.argv.index("--cold-start-only") + 1 :]
        n = int(args[0]) if args else 5
        times = sorted(cold_start_runs(n))
        print(
            f"cold import + clients      : {statistics.median(times):>10.0f} ms (median of {len(times)},"
            f" min {times[0]:.0f}, max {times[-1]:.0f}, target <= 200 ms)"
        )
        print_floor(statistics.median(times), n)
        print_first_requests(5)
        return
    body = make_batch()
    rows = body.count(b"\n")
    print(f"batch: {len(body) / 1e6:.1f} MB, {rows} rows, python {sys.version.split()[0]}")
    if "--bad-rows-only" in sys.argv:  # the imperfect-data ratios alone (issue 13 §6)
        print_bad_rows(body)
        return
    best = best_of({"base": lambda: bare_parse(body), "core": core_path(body), "whole": handler_path(body)})
    base, core, whole = best["base"], best["core"], best["whole"]
    print(f"bare orjson.loads per line : {rows / base:>10,.0f} rows/s (baseline)")
    print(
        f"decode+validate+frame      : {rows / core:>10,.0f} rows/s  = {base / core:.0%} of baseline (target >= 75%)"
    )
    print(
        f"whole handler, gzip, stubs : {rows / whole:>10,.0f} rows/s  = {base / whole:.0%} of baseline (target >= 40%)"
    )
    print_bad_rows(body)
    cold = cold_start_ms()
    print(f"cold import + clients      : {cold:>10.0f} ms (median of 5, target <= 200 ms)")
    print_floor(cold, 5)
    print_first_requests(5)


if __name__ == "__main__":
    main()
