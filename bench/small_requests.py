"""Small-request benchmark (issue 13): what one single-row request costs, as counts and ratios in one run.

Run: `make bench` (or `python bench/small_requests.py`). The real handler, AWS answered by a stub at the
HTTP layer (bench/stubs.py), a simulated clock so a "steady stream of R requests a second" is exact:
- DynamoDB writes per request (rate-limit leases) for a steady single-row stream through one warm
  function (target <= 0.2; one conditional write per scope per request before leasing: 2.0);
"""

from __future__ import annotations

import os
import time
from typing import Any

import stubs
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
    time.time = CLOCK  # before the service is built: its admission keeps the function it is given
    import app
    from lakegate.schema import Column, DataSource

    stubs.stub_aws(
        DataSource("orders", (Column("ref", "String", "$.ref"), Column("city", "String", "$.city")))
    )
    app._app = None
    return app


def writes_per_request(rate: int) -> float:
    """UpdateItem calls per request for `rate` single-row requests a second, for STREAM_SECONDS."""
    app = handler()
    from lakegate.aws import clients

    writes = [0]
    clients.dynamodb().meta.events.register(
        "before-call.dynamodb.UpdateItem", lambda **_: writes.__setitem__(0, writes[0] + 1)
    )
    start = 1_800_000_000.0
    n = rate * STREAM_SECONDS
    try:
        for i in range(n):
            CLOCK.now = start + i / rate
            resp = app.lambda_handler(stubs.api_event(ROW % i, "name=orders"), stubs.context())
            assert resp["statusCode"] == 202, resp
    finally:
        CLOCK.now = None
    return writes[0] / n


def main() -> None:
    print(f"single-row requests through one warm function, stream of {STREAM_SECONDS} s")
    for rate in (1, 20, 100):
        print(
            f"  DynamoDB writes/request at {rate:3d} req/s : {writes_per_request(rate):5.2f} (target <= 0.2 at >= 20/s)"
        )


if __name__ == "__main__":
    main()
