"""`FRONT_DOOR=FunctionUrl make run`: the local server as a Function URL, over HTTP, with the real handler."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from tests.e2e.local_server import local_server, raw_objects


def _send(
    url: str, method: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_the_local_function_url_serves_ingest_preflights_and_unrouted_paths(tmp_path: Path) -> None:
    with local_server(tmp_path, {"FRONT_DOOR": "FunctionUrl"}) as server:
        auth = {"Authorization": f"Bearer {server.token}", "Origin": "https://app.example"}

        status, headers, body = _send(
            f"{server.api}/v0/events?name=via_url", "POST", b'{"city": "Lagos"}\n', auth
        )
        assert (status, json.loads(body)) == (202, {"successful_rows": 1, "quarantined_rows": 0})
        assert headers["access-control-allow-origin"] == "*"  # the URL's, not the function's
        assert headers["x-ratelimit-limit"] == "100"

        status, headers, _ = _send(
            f"{server.api}/v0/events",
            "OPTIONS",
            None,
            {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        assert status == 200 and headers["access-control-allow-methods"] == "GET,POST,PUT"

        # No route table: the function itself answers a path it does not serve
        status, _, body = _send(f"{server.api}/nowhere", "GET", None, auth)
        assert status == 404 and json.loads(body)["error"].startswith("No route")

        assert any(b"Lagos" in blob for blob in raw_objects(server).values())
