"""Small-request benchmark (issue 13): what one single-row request costs, as counts and ratios in one run.

Run: `make bench` (or `python bench/small_requests.py`). The real handler, AWS answered by a stub at the
HTTP layer (bench/stubs.py), a simulated clock so a "steady stream of R requests a second" is exact:
- DynamoDB writes per request (rate-limit leases) for a steady single-row stream through one warm
  function (target <= 0.2; one conditional write per scope per request before leasing: 2.0);
- bytes the function logs per request (its log lines and EMF metrics, as CloudWatch would ingest them)
  at the template's defaults (target <= 300), and as it was: every request logged, metrics per invocation.
  Lambda's own START/END/REPORT lines (~250 B) are not the process's: the template's LoggingConfig
  (SystemLogLevel WARN) drops them. The HTTP API's access log line: the template's Format rendered
  for a single-event request (lakegate_local.access_log), with its price at $0.50 per GB ingested.
- the whole handler's time for a 1-, 10- and 100-row request as a multiple of a floor handler on the
  same event (base64-decode the body, orjson.loads per line, one PutRecordBatch through botocore to the
  same stub): target <= 2x.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import stubs
from lakegate_local import access_log
from stubs import ENV

ROW = b'{"ref": "%d", "city": "Chicago", "amount": 42}\n'
STREAM_SECONDS = 10


class Clock:
    """time.time for the handler: the simulated instant while a stream runs, else the real one."""

    def __init__(self) -> None:
        self.now: float | None = None
        self.real = time.time

    def __call__(self) -> float:
        return self.now if self.now is not None else self.real()


CLOCK = Clock()


def handler(env: dict[str, str] | None = None) -> Any:
    """The ingest module, its service built afresh with `env` over bench's environment."""
    os.environ.update(ENV | (env or {}))
    # before the service is built: its admission and caches keep the functions they are given
    time.time = CLOCK
    time.monotonic = CLOCK
    import app
    from lakegate.schema import Column, DataSource

    stubs.stub_aws(
        DataSource("orders", (Column("ref", "String", "$.ref"), Column("city", "String", "$.city")))
    )
    app._app = None
    app.logger.setLevel(os.environ["LOG_LEVEL"])  # the logger was made at import, with bench's level
    return app


def stream(app: Any, rate: int, seconds: int, each: Callable[[], object] = lambda: None) -> int:
    """`rate` single-row requests a second for `seconds` simulated seconds; the number sent."""
    start = 1_800_000_000.0
    n = rate * seconds
    try:
        for i in range(n):
            CLOCK.now = start + i / rate
            resp = app.lambda_handler(stubs.api_event(ROW % i, "name=orders"), stubs.context())
            assert resp["statusCode"] == 202, resp
            each()
    finally:
        CLOCK.now = None
    return n


def writes_per_request(rate: int) -> float:
    """UpdateItem calls per request for a steady stream of `rate` single-row requests a second."""
    app = handler()
    from lakegate.aws import clients

    writes = [0]
    clients.dynamodb().meta.events.register(
        "before-call.dynamodb.UpdateItem", lambda **_: writes.__setitem__(0, writes[0] + 1)
    )
    n = stream(app, rate, STREAM_SECONDS)
    return writes[0] / n


class _Count(io.TextIOBase):
    """A text stream that only counts the UTF-8 bytes written to it."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)


def log_bytes_per_request(env: dict[str, str], rate: int = 20, seconds: int = 300) -> float:
    """What the function writes to its log (log lines and EMF) per request of a steady stream."""
    random.seed(13)  # the sampled requests: the same in every run
    app = handler(env)
    counted = _Count()
    handler_stream = app.logger.registered_handler.stream
    app.logger.registered_handler.stream = counted
    try:
        with contextlib.redirect_stdout(counted):
            n = stream(app, rate, seconds)
    finally:
        app.logger.registered_handler.stream = handler_stream
    return counted.bytes / n


def floor_handler() -> Callable[[dict[str, Any]], object]:
    """The least an ingest can do: decode, parse each line, one PutRecordBatch through botocore."""
    import base64

    import orjson

    from lakegate.aws import clients

    firehose = clients.firehose()  # the stubbed client: the same HTTP-layer answer as the handler's

    def run(event: dict[str, Any]) -> object:
        body = base64.b64decode(event["body"])
        for line in body.split(b"\n"):
            if line:
                orjson.loads(line)
        return firehose.put_record_batch(DeliveryStreamName="stream", Records=[{"Data": body}])

    return run


def overhead(rows: int, repeats: int = 300) -> float:
    """The whole handler's best time per request over the floor's, on the same `rows`-row event."""
    app = handler(
        {
            "LOG_LEVEL": "INFO",  # the template's level
            "LOG_SAMPLE_RATE": "0.01",
            "METRICS_FLUSH_SECONDS": "60",
            "DATASOURCE_RATE_LIMIT": "1000000",
        }
    )
    body = b"".join(ROW % (rows * 1000 + i) for i in range(rows))
    event = stubs.api_event(body, "name=orders")
    floor = floor_handler()
    context = stubs.context()

    def whole() -> None:
        assert app.lambda_handler(event, context)["statusCode"] == 202

    def least() -> None:
        floor(event)

    for _ in range(20):  # warm: caches, clients, the first lease
        whole()
        floor(event)
    best = {"whole": float("inf"), "floor": float("inf")}
    for _ in range(repeats):  # in turns, as bench/ingest.py times: noise slows both
        for name, fn in (("whole", whole), ("floor", least)):
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best["whole"] / best["floor"]


def main() -> None:
    print(f"single-row requests through one warm function, stream of {STREAM_SECONDS} s")
    for rate in (1, 20, 100):
        writes = writes_per_request(rate)
        print(f"  DynamoDB writes/request at {rate:3d} req/s : {writes:6.2f} (target <= 0.2 at >= 20/s)")
    defaults = {"LOG_LEVEL": "INFO", "LOG_SAMPLE_RATE": "0.01", "METRICS_FLUSH_SECONDS": "60"}
    every = {"LOG_LEVEL": "INFO", "LOG_SAMPLE_RATE": "1", "METRICS_FLUSH_SECONDS": "0"}
    print("log bytes per request, 20 req/s for 300 s, INFO")
    sampled = log_bytes_per_request(defaults)
    print(f"  template defaults (1% sampled, metrics each 60 s): {sampled:6.0f} B (target <= 300)")
    print(f"  every request logged, metrics per invocation    : {log_bytes_per_request(every):6.0f} B")
    line = len(
        access_log.render(
            access_log.log_format(Path(__file__).resolve().parents[1] / "template.yaml")
        ).encode()
    )
    print(
        f"  HTTP API access log line (ApiAccessLog=Enabled) : {line:6d} B (${line * 0.5 / 1000:.3f} per million)"
    )
    print("whole handler / floor handler (decode, orjson per line, one PutRecordBatch), AWS stubbed")
    for rows in (1, 10, 100):
        print(f"  {rows:3d} rows: {overhead(rows):5.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
