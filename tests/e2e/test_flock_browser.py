"""flock.js in a real browser: Debian's headless Chromium loads a page that embeds Tinybird's tracker as its
docs say, from an origin of its own, and flock's page hit crosses to the local server as a browser sends it.

tests/e2e/clients/flock_browser.mjs drives Chromium through playwright-core (pinned in package-lock.json;
no browser download: `/usr/bin/chromium`, `make e2e-browser` installs it). The page's origin differs from
the API's, so the browser sends the CORS preflight `Content-Type: application/json` calls for and POSTs only
if lakegate's answer allows it. The token is an append token for the one data source, as a tracker token
is. A second page view loads the same site by a name over plain http, where Chromium refuses flock's
`Secure` session cookie. Skipped, saying why, where Chromium or Node.js is missing; wherever they are,
every failure fails.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from lakegate_cli.main import main as lakegate
from lakegate_local.aws import ADMIN_WORKSPACE
from tests.e2e.lake import landed
from tests.e2e.local_server import LocalServer
from tests.e2e.node_clients import run_script
from tests.e2e.web_analytics import ISO_MILLIS_Z, STARTER_KIT_2024, define, second

CHROMIUM = Path("/usr/bin/chromium")  # Debian's `chromium` package
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"Chromium is not installed ({CHROMIUM}: `make e2e-browser` installs it)"
)


def _append_token(server: LocalServer, name: str) -> str:
    """A token that may only append to `name`, made with the admin CLI as a person would."""
    out = io.StringIO()
    argv = ["--local", "--endpoint-url", server.s3.meta.endpoint_url, "tokens", "create"]
    argv += ["--workspace", ADMIN_WORKSPACE, "--scope", f"DATASOURCE:APPEND:{name}", "--name", "tracker"]
    assert lakegate(argv, out) == 0
    return out.getvalue().strip()


def _allows(listing: str | None, wanted: str) -> bool:
    """Whether an Access-Control-Allow-* answer lists `wanted` (or `*`), as a browser reads it."""
    items = {item.strip().lower() for item in (listing or "").split(",")}
    return "*" in items or wanted.strip().lower() in items


def _exchanges(seen: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, status, API Gateway's request id) of each request a page view sent to /v0/events."""
    preflights = [("OPTIONS", str(p["status"]), p["answer"]["apigw-requestid"]) for p in seen["preflights"]]
    return preflights + [
        ("POST", str(p["status"]), p["answerHeaders"]["apigw-requestid"]) for p in seen["posts"]
    ]


@pytest.fixture(scope="module")
def visit(server: LocalServer) -> dict[str, Any]:
    """Two page views in Chromium, from 127.0.0.1 and from a name over plain http: for each, what the page,
    the browser's console and its network saw."""
    name = f"analytics_events_{uuid.uuid4().hex[:8]}"
    define(server, name, STARTER_KIT_2024)
    token = _append_token(server, name)
    env = {"API": server.api, "TOKEN": token, "DATASOURCE": name, "CHROMIUM": str(CHROMIUM)}
    out: dict[str, Any] = run_script("flock_browser.mjs", env, timeout=90)
    return {**out, "name": name, "token": token}


@pytest.fixture
def page_view(visit: dict[str, Any]) -> dict[str, Any]:
    """The page view from 127.0.0.1, a secure context (as https is), with the names of what it sent to."""
    return {**visit["local"], "name": visit["name"], "token": visit["token"]}


def test_the_browser_sends_flocks_page_hit_without_a_cors_error(
    server: LocalServer, page_view: dict[str, Any]
) -> None:
    # flock drops every hit when navigator.webdriver is true: the launch must keep it false
    assert page_view["page"]["webdriver"] is False
    # Nothing blocked, nothing logged: a refused preflight is a console error and a failed request
    assert (page_view["console"], page_view["pageErrors"], page_view["failed"]) == ([], [], [])
    # One POST, from the page's origin, with the token in the query string as flock builds it
    (post,) = page_view["posts"]
    assert [r for r in page_view["requests"] if r["method"] == "POST"] == [
        {"method": "POST", "url": post["url"]}
    ]
    assert post["url"] == f"{server.api}/v0/events?name={page_view['name']}&token={page_view['token']}"
    assert post["headers"]["content-type"] == "application/json"
    assert post["headers"]["origin"] == page_view["origin"]
    assert (post["status"], post["answer"]) == (202, '{"successful_rows":1,"quarantined_rows":0}')


def test_lakegate_answers_the_browsers_preflight(
    server: LocalServer, visit: dict[str, Any], page_view: dict[str, Any]
) -> None:
    (preflight,) = page_view["preflights"]
    asked, answer = preflight["headers"], preflight["answer"]
    # What the browser asked: the POST's method and its one non-simple header, from the page's origin
    assert preflight["url"] == page_view["posts"][0]["url"]
    assert asked["origin"] == page_view["origin"]
    assert (asked["access-control-request-method"], asked["access-control-request-headers"]) == (
        "POST",
        "content-type",
    )
    # What the function answered, and the server's log says it did: no one in between answered for it
    assert preflight["status"] == 204
    served = re.findall(r'^\S+ "(\w+) /v0/events" (\d+) \S+ (\S+)$', server.stderr.read_text(), re.MULTILINE)
    assert sorted(served) == sorted(_exchanges(visit["local"]) + _exchanges(visit["plainHttp"]))
    assert answer["access-control-allow-origin"] in ("*", page_view["origin"])
    assert _allows(answer["access-control-allow-methods"], asked["access-control-request-method"])
    for header in asked["access-control-request-headers"].split(","):
        assert _allows(answer["access-control-allow-headers"], header), header


def test_the_page_hit_lands_once_in_the_starter_kits_schema(
    server: LocalServer, page_view: dict[str, Any]
) -> None:
    sent = json.loads(page_view["posts"][0]["body"])
    session = dict(c.split("=", 1) for c in page_view["page"]["cookie"].split("; "))["session-id"]

    assert ISO_MILLIS_Z.match(sent["timestamp"])

    rows = landed(server, page_view["name"], 1)

    # Exactly one row: flock's toISOString() timestamp as a DateTime (the second), its session cookie
    assert rows == [
        {
            "timestamp": second(sent["timestamp"]),
            "session_id": session,
            "action": "page_hit",
            "version": "1",
            "payload": sent["payload"],
        }
    ]
    # The payload is the JSON string flock wrote, byte for byte: what the browser told it about the page
    assert json.loads(rows[0]["payload"]) == {
        "user-agent": page_view["page"]["userAgent"],
        "locale": "pt-PT",
        "location": "PT",  # flock's country for the browser's time zone, Europe/Lisbon
        "referrer": "https://www.google.com/",
        "pathname": "/products/42",
        "href": f"{page_view['origin']}/products/42?utm_source=newsletter",
    }


def test_over_plain_http_the_hit_has_no_session_and_the_2024_schema_quarantines_it(
    server: LocalServer, visit: dict[str, Any]
) -> None:
    """flock's session cookie is `Secure`: a page on plain http (not 127.0.0.1 or localhost) cannot keep it,
    and flock sends its hit without a session_id, which the 2024 kit's `String` column cannot take."""
    plain = visit["plainHttp"]
    assert plain["page"]["cookie"] == ""
    (post,) = plain["posts"]
    sent = json.loads(post["body"])
    assert "session_id" not in sent
    # The browser sees nothing wrong (flock never reads the answer): the 202 counts it quarantined
    assert (plain["console"], plain["pageErrors"], plain["failed"]) == ([], [], [])
    assert (post["status"], post["answer"]) == (202, '{"successful_rows":0,"quarantined_rows":1}')

    (row,) = landed(server, f"{visit['name']}_quarantine", 1)

    assert (row["session_id"], row["payload"], row["c__line"]) == (None, sent["payload"], post["body"])
    assert row["c__error"] == [
        "missing value on column 'session_id' of type String: the column is not Nullable"
    ]
