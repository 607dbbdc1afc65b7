"""Local-server load benchmark (issue 11): `python -m lakegate_local`, started as `make run` starts it,
driven over HTTP as a developer would.

Run: `python bench/local_server.py` (PYTHONPATH as in the Makefile; `--help` for the sizes). Reports:
- Vayu batches: 1,000-event `POST /events` batches (every ref claimed in a DynamoDB transaction) until
  `--refs` refs exist: seconds per batch, and the memory of the server's processes after each;
- steady load: `--rate` single-row `POST /v0/events` a second for `--seconds`, sent on schedule
  (open loop) over `--datasources` data sources, so that each stays under its 100 req/s limit: status
  counts (429s apart: the only failure the contract allows), latency, and the rate served;
- stalled clients, during the steady load: connections that declare a body and never send it, and
  connections that send nothing at all: when the server gives up on them;
- the server's CPU per request (its own process: HTTP, moto, compactor; its ingest instances), and when
  every accepted row had landed in the `./lake` mirror.
Figures are this machine's: moto's speed dominates, and the first line measures it (serial
UpdateItems/s against the server's moto; the design notes measured ~250-315/s on these machines) so
the rest can be scaled. Goals (issue 11): a 1,000-event batch after 10,000 refs in under 3 s, the
server under 1 GB; 100 req/s for a minute with no error but 429s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = ("layers/shared/python", "functions/ingest", "functions/compactor", "local", "cli")
READY = re.compile(r"lakegate local server ready: api=(\S+) aws=(\S+) bucket=(\S+)")
TOKEN = "bench-admin-token"
BATCH = 1000
# How long a stalled client waits for the server to give up on it (a TimeoutError means it never did).
WAIT = 120


@dataclass
class Server:
    process: subprocess.Popen[str]
    api: str
    aws: str
    lake: Path

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.api.removeprefix("http://").rsplit(":", 1)
        return host, int(port)


@contextmanager
def local_server(workdir: Path) -> Iterator[Server]:
    """The server on free ports, its handler logs (stdout) and its own (stderr) in files."""
    shutil.rmtree(workdir / "lake", ignore_errors=True)  # the landed-rows count reads this run's only
    env = os.environ | {
        "PORT": "0",
        "AWS_ENDPOINT_PORT": "0",
        "ADMIN_TOKEN": TOKEN,
        "LAKE_DIR": str(workdir / "lake"),
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in PATHS),
        "PYTHONUNBUFFERED": "1",
    }
    out = (workdir / "server.stderr").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "lakegate_local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=out,
        text=True,
    )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    log = (workdir / "server.stdout").open("w")

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
            log.write(line)

    threading.Thread(target=drain, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                m = READY.search(lines.get(timeout=1))
            except queue.Empty:
                m = None
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start: see {workdir / 'server.stderr'}") from None
            if m:
                break
        yield Server(process, m.group(1), m.group(2), workdir / "lake")
    finally:
        process.terminate()
        process.wait(timeout=120)
        out.close()


def processes(pid: int) -> list[int]:
    """A process and all its descendants (the server, its ingest instances, multiprocessing's tracker)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue  # gone meanwhile
        found.append(p)
    return found


def instances(pid: int) -> list[int]:
    """The server's ingest instances: its children but multiprocessing's resource tracker."""
    found = []
    for p in processes(pid)[1:]:
        try:
            if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes():
                found.append(p)
        except OSError:
            continue
    return found


def landed_rows(lake: Path, prefix: str) -> int:
    """Rows in the mirror's Parquet files of the data sources named `prefix*` (quarantine aside), in
    every workspace: the mirror holds `datasources/<workspace>/<name>/<partition>/part-*.parquet`."""
    import pyarrow.parquet as pq

    total = 0
    for folder in (lake / "datasources").glob(f"*/{prefix}*"):
        if not folder.name.endswith("_quarantine"):
            total += sum(pq.read_metadata(p).num_rows for p in folder.rglob("*.parquet"))
    return total


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    total = 0
    for p in processes(pid):
        try:
            m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{p}/status").read_text())
        except OSError:
            continue
        total += int(m.group(1)) if m else 0
    return total / 1024


def machine_cpu() -> tuple[float, float]:
    """Busy and total CPU time of the whole machine so far (/proc/stat's first line), in clock ticks."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU each process has used so far (its finished threads included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[p] = (int(fields[11]) + int(fields[12])) / ticks
    return used


class Client:
    """One keep-alive connection per thread, opened again after the server closes one."""

    def __init__(self, server: Server) -> None:
        self._address = server.address
        self._local = threading.local()

    def post(self, target: str, body: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(*self._address, timeout=120)
            try:
                conn.request("POST", target, body, {"Authorization": f"Bearer {TOKEN}"})
                response = conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def vayu_batches(server: Server, client: Client, refs: int) -> None:
    print(f"Vayu batches of {BATCH:,} events (POST /events), up to {refs:,} refs")
    print(f"  {'refs before':>11}  {'status':>6}  {'valid':>5}  {'seconds':>7}  {'server MB':>9}")
    for start in range(0, refs, BATCH):
        events = [
            {
                "name": "api_call",
                "timestamp": "2026-01-01T00:00:00.000Z",
                "customerAlias": f"customer-{i % 10}",
                "ref": f"bench-{i:08d}",
                "data": {"n": i},
            }
            for i in range(start, start + BATCH)
        ]
        body = json.dumps({"events": events}).encode()
        t = time.perf_counter()
        status, answer = client.post("/events", body)
        seconds = time.perf_counter() - t
        valid = len(json.loads(answer).get("validEvents", [])) if status == 200 else 0
        print(f"  {start:>11,}  {status:>6}  {valid:>5}  {seconds:>7.2f}  {rss_mb(server.process.pid):>9.0f}")


def steady_load(
    server: Server, client: Client, rate: float, seconds: float, datasources: int, stalled: int, plain: bool
) -> None:
    names = [f"load_{d}" for d in range(datasources)]
    # A `ref` column makes `$.ref` the data sources' dedup key: the compactor then claims each row's ref
    # and each record's id (one DynamoDB write each) to land it exactly once. Plain rows are at least once.
    row = (
        b'{"id": "%d", "city": "Chicago", "amount": 42}\n'
        if plain
        else b'{"ref": "%d", "city": "Chicago", "amount": 42}\n'
    )
    for name in names:  # created before the clock starts, as a data source defined beforehand would be
        client.post(f"/v0/events?name={name}", row % -1)
    total = int(rate * seconds)
    statuses: Counter[int | str] = Counter()
    latencies: list[float] = []
    lateness: list[float] = []
    lock = threading.Lock()

    def one(i: int, due: float) -> None:
        started = time.perf_counter()
        try:
            status: int | str = client.post(f"/v0/events?name={names[i % datasources]}", row % i)[0]
        except OSError as e:
            status = type(e).__name__
        done = time.perf_counter()
        with lock:
            statuses[status] += 1
            latencies.append(done - started)
            lateness.append(started - due)

    print(
        f"steady load: {rate:g} {'plain' if plain else 'keyed ($.ref)'} single-row requests/s for {seconds:g} s"
        f" over {datasources} data sources ({rate / datasources:g} req/s each; limit 100), sent on schedule"
        " (open loop) by 64 client threads on keep-alive connections"
    )
    pids = [server.process.pid, *instances(server.process.pid)]
    cpu_before, own_before, machine_before = cpu_seconds(pids), os.times(), machine_cpu()
    with stalled_clients(server, stalled) as held, ThreadPoolExecutor(max_workers=64) as pool:
        t0 = time.perf_counter()
        for i in range(total):
            due = t0 + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            pool.submit(one, i, due)
        pool.shutdown(wait=True)
        elapsed = time.perf_counter() - t0
        cpu_after, own_after, machine_after = cpu_seconds(pids), os.times(), machine_cpu()
        rss = rss_mb(server.process.pid)
    latencies.sort()
    ok = sum(n for s, n in statuses.items() if s in (200, 202))
    errors = {s: n for s, n in statuses.items() if s not in (200, 202, 429)}
    print(f"  sent {total:,} in {elapsed:.1f} s: {total / elapsed:.1f} req/s served")
    print(
        f"  statuses: {dict(sorted(statuses.items(), key=str))}  ok {ok:,}  429 {statuses[429]}  errors {errors or 0}"
    )
    print(
        f"  latency ms: p50 {_pct(latencies, 50):.0f}  p99 {_pct(latencies, 99):.0f}  max {latencies[-1] * 1000:.0f};"
        f"  started late by more than 100 ms: {sum(1 for x in lateness if x > 0.1)}"
    )
    print(f"  server memory after: {rss:.0f} MB")
    _cpu_report(
        server.process.pid,
        total,
        (cpu_before, own_before, machine_before),
        (cpu_after, own_after, machine_after),
    )
    for line in held:
        print(f"  {line}")
    expected, t = ok + datasources, time.perf_counter()  # one warm-up row a data source
    while (found := landed_rows(server.lake, "load_")) < expected and time.perf_counter() - t < 120:
        time.sleep(0.5)
    print(
        f"  landed in Parquet (./lake mirror): {found:,} of {expected:,} rows,"
        f" {time.perf_counter() - t:.1f} s after the last answer"
    )


Usage = tuple[dict[int, float], os.times_result, tuple[float, float]]


def _cpu_report(server_pid: int, total: int, before: Usage, after: Usage) -> None:
    """CPU per request of the server's process, its instances and this load generator; the machine's load."""
    used = {p: (after[0].get(p, 0) - t) * 1000 / total for p, t in before[0].items()}
    main = used.pop(server_pid)
    own = (after[1].user + after[1].system - before[1].user - before[1].system) * 1000 / total
    busy, ticks = (a - b for a, b in zip(after[2], before[2], strict=True))
    print(
        f"  CPU per request: {main:.1f} ms in the server's process (HTTP, moto, the compactor loop: one GIL),"
        f" {sum(used.values()):.1f} ms in its {len(used)} function instances (ingest and compactor) together,"
        f" {own:.1f} ms in this load generator"
    )
    print(
        f"  machine: {busy / ticks * 100:.0f}% of its {os.cpu_count()} cores busy during the load"
        " (every process on it, others' included)"
    )


@contextmanager
def stalled_clients(server: Server, n: int) -> Iterator[list[str]]:
    """n connections that declare a body and send none, n that send nothing; how and when they end."""
    report: list[str] = []
    results: dict[str, list[float | str]] = {"body never sent": [], "idle connection": []}
    lock = threading.Lock()

    def hold(kind: str) -> None:
        t = time.perf_counter()
        with socket.create_connection(server.address, timeout=WAIT) as s:
            if kind == "body never sent":
                s.sendall(b"POST /v0/events?name=stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
            try:
                answer = s.recv(65536)
                while answer and s.recv(65536):
                    pass
                status = answer.split(b" ", 2)[1].decode() if answer else "closed"
            except OSError as e:
                status = type(e).__name__
        with lock:
            results[kind].append(time.perf_counter() - t)
            results[kind].append(status)

    threads = [threading.Thread(target=hold, args=(kind,), daemon=True) for kind in results for _ in range(n)]
    for th in threads:
        th.start()
    yield report
    for th in threads:
        th.join(timeout=WAIT + 10)
    for kind, found in results.items() if n else ():
        times = [x for x in found if isinstance(x, float)]
        how = Counter(x for x in found if isinstance(x, str))
        if times:
            report.append(
                f"{n} clients, {kind}: ended by the server after {min(times):.1f}-{max(times):.1f} s ({dict(how)})"
            )
        else:
            report.append(f"{n} clients, {kind}: still open")


def _pct(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))] * 1000


def calibrate(server: Server) -> None:
    """Serial DynamoDB UpdateItems against the server's moto (the design notes' facts measured
    ThreadedMotoServer at ~250-315/s): how fast this machine is right now."""
    import boto3

    ddb = boto3.client(
        "dynamodb",
        endpoint_url=server.aws,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    # The rate counters' table: a stray counter there is what the ingest itself writes.
    table = next(t for t in ddb.list_tables()["TableNames"] if "RateLimit" in t)
    key = ddb.describe_table(TableName=table)["Table"]["KeySchema"][0]["AttributeName"]
    n, t = 200, time.perf_counter()
    for _ in range(n):
        ddb.update_item(
            TableName=table,
            Key={key: {"S": "bench-calibration"}},
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    print(
        f"this machine now: {n / (time.perf_counter() - t):.0f} serial DynamoDB UpdateItems/s on the server's moto"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refs", type=int, default=11_000, help="refs to claim through Vayu batches")
    parser.add_argument("--rate", type=float, default=100, help="single-row requests a second")
    parser.add_argument("--seconds", type=float, default=60, help="how long the steady load lasts")
    parser.add_argument("--datasources", type=int, default=4, help="data sources the load is spread over")
    parser.add_argument(
        "--stalled", type=int, default=20, help="stalled clients of each kind during the load"
    )
    parser.add_argument(
        "--plain-rows", action="store_true", help="rows without a `ref` (no dedup key): at least once"
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep the server's logs and lake here (default: a temporary folder)"
    )
    args = parser.parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, local_server(args.workdir or Path(tmp)) as server:
        client = Client(server)
        print(f"server started: {rss_mb(server.process.pid):.0f} MB")
        calibrate(server)
        if args.refs:
            vayu_batches(server, client, args.refs)
        if args.seconds:
            steady_load(
                server, client, args.rate, args.seconds, args.datasources, args.stalled, args.plain_rows
            )


if __name__ == "__main__":
    main()
