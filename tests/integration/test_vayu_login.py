"""`POST /login` and its access tokens through the real handler on moto, as Vayu's SDKs use them."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import app
from lakegate.ingest.auth import ACCESS_TOKEN_SECONDS, issue_access_token
from lakegate_local.template import load_stack
from tests.integration.conftest import ADMIN, ROOT, Lake, body_of
from tests.integration.test_vayu_api import as_stored, batch, ev, get, send


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    monkeypatch.setattr(app.logger.registered_handler, "stream", buffer)
    monkeypatch.setenv("LOG_SAMPLE_RATE", "1")  # every successful request logged, logins included
    yield buffer


def login(lake: Lake, body: bytes) -> dict[str, Any]:
    """As vayu-py sends it: JSON, no Authorization header."""
    return send(lake, body, "/login", token=None)


def access_token(lake: Lake, plain: str = ADMIN) -> str:
    resp = login(lake, orjson.dumps({"refreshToken": plain}))
    assert resp["statusCode"] == 200, resp
    return str(body_of(resp)["accessToken"])


def test_the_access_token_sends_and_reads_events(lake: Lake) -> None:
    access = access_token(lake)

    sent = send(lake, batch(ev("a")), token=access)
    dry = send(lake, batch(ev("a"), ev("b")), "/events/dry-run", token=access)
    found = get(lake, "a", token=access)

    assert body_of(sent) == {"validEvents": [ev("a")], "invalidEvents": []}
    assert body_of(dry)["validEvents"] == [ev("b")]
    assert body_of(found) == as_stored(ev("a"))


def test_login_answers_with_rate_limit_headers_and_counts_on_the_target(lake: Lake) -> None:
    resp = login(lake, orjson.dumps({"refreshToken": ADMIN}))

    assert resp["headers"]["Content-Type"] == "application/json"
    assert resp["headers"]["X-RateLimit-Remaining"] == "99"


@pytest.mark.parametrize("plain", ["unknown-token", issue_access_token(ADMIN, 2**31)])
def test_login_with_anything_but_a_live_api_token_is_403(lake: Lake, plain: str) -> None:
    resp = login(lake, orjson.dumps({"refreshToken": plain}))

    assert resp["statusCode"] == 403
    assert body_of(resp)["error"] == "Invalid token"


def test_login_without_a_token_is_400(lake: Lake) -> None:
    resp = login(lake, b'{"apiKey": "x"}')

    assert resp["statusCode"] == 400
    assert body_of(resp)["error"] == 'Send the API token as a JSON object {"refreshToken": "<token>"}'


def test_an_expired_access_token_is_403(lake: Lake) -> None:
    expired = issue_access_token(ADMIN, time.time() - ACCESS_TOKEN_SECONDS - 1)

    resp = send(lake, batch(ev("a")), token=expired)

    assert resp["statusCode"] == 403
    assert body_of(resp)["error"] == "Invalid token: the access token has expired, log in again"
    assert lake.raw_objects() == []


def test_a_revoked_api_token_revokes_its_access_tokens(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    lake.add_token("soon-revoked", ["DATASOURCE:APPEND"])
    access = access_token(lake, "soon-revoked")
    lake.add_token("soon-revoked", ["DATASOURCE:APPEND"], revoked=True)
    monkeypatch.setattr(app, "_app", None)  # a cold Lambda: a warm one's token cache holds it for its TTL

    resp = send(lake, batch(ev("a")), token=access)

    assert resp["statusCode"] == 403
    assert lake.raw_objects() == []


def test_the_access_token_is_for_the_vayu_routes_only(lake: Lake) -> None:
    resp = lake.post(b'{"a": 1}', token=access_token(lake))

    assert resp["statusCode"] == 403


def test_neither_token_reaches_the_logs(
    lake: Lake, logs: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    access = access_token(lake)
    send(lake, batch(ev("a")), token=access)
    get(lake, "a", token=access)
    login(lake, orjson.dumps({"refreshToken": "secret-wrong-token"}))

    out = capsys.readouterr()
    text = logs.getvalue() + out.out + out.err
    assert "vayu login" in text
    for secret in (ADMIN, access, "secret-wrong-token"):
        assert secret not in text


def test_the_template_routes_login_and_its_preflight(lake: Lake) -> None:
    routes = {(r.method, r.path) for r in load_stack(ROOT / "template.yaml").function.routes}
    preflight = lake.post(
        b"",
        path="/login",
        query="",
        method="OPTIONS",
        token=None,
        headers={"origin": "https://app.example.com", "access-control-request-method": "POST"},
    )

    assert {("POST", "/login"), ("OPTIONS", "/login")} <= routes
    assert preflight["statusCode"] == 204
