"""Vayu SDK logins: the access token `POST /login` issues, what it stands for, and the GET answer."""

from __future__ import annotations

import base64

import jwt
import orjson
import pytest

from lakegate.errors import Forbidden, InvalidRequest
from lakegate.ingest.auth import ACCESS_TOKEN_SECONDS, api_token, issue_access_token
from lakegate.ingest.vayu import parse_login, stored_event

NOW = 1_700_000_000.5


def _segment(doc: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(doc)).rstrip(b"=").decode()


def test_the_access_token_is_a_jwt_the_sdks_decode_for_its_exp() -> None:
    access = issue_access_token("p.secret", NOW)

    claims = jwt.decode(access, options={"verify_signature": False})  # as vayu-py's authenticator does

    assert claims == {"exp": int(NOW) + ACCESS_TOKEN_SECONDS, "tkn": "p.secret"}
    assert jwt.get_unverified_header(access) == {"alg": "none", "typ": "JWT"}


def test_the_access_token_expires_no_later_than_its_api_token() -> None:
    access = issue_access_token("p.secret", NOW, token_expires_at=NOW + 60)

    assert jwt.decode(access, options={"verify_signature": False})["exp"] == int(NOW) + 60


def test_an_access_token_stands_for_its_api_token_until_it_expires() -> None:
    access = issue_access_token("p.secret", NOW)

    assert api_token(access, NOW + ACCESS_TOKEN_SECONDS - 1) == "p.secret"
    with pytest.raises(Forbidden) as e:
        api_token(access, NOW + ACCESS_TOKEN_SECONDS)
    assert e.value.message == "Invalid token: the access token has expired, log in again"


@pytest.mark.parametrize(
    "plain",
    [
        "lakegate-sample-admin-token",
        # Tinybird's tokens have three dot-separated parts too: only our header marks an access token.
        "p.eyJ1IjogIjEyMyJ9.c2lnbmF0dXJl",
        f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.{_segment({'tkn': 'x', 'exp': 2**40})}.sig",
        f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment({'tkn': 'x', 'exp': 2**40})}.signed",
        "a.b",
        "é.é.",
    ],
)
def test_any_other_bearer_is_the_api_token_itself(plain: str) -> None:
    assert api_token(plain, NOW) == plain


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 2**40},
        {"tkn": "", "exp": 2**40},
        {"tkn": 7, "exp": 2**40},
        {"tkn": "x"},
        {"tkn": "x", "exp": "9"},
        [1],
    ],
)
def test_a_malformed_access_token_is_403(claims: object) -> None:
    with pytest.raises(Forbidden) as e:
        api_token(f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}.", NOW)
    assert e.value.message == "Invalid token"


def test_login_takes_the_refresh_token_the_sdk_sends() -> None:
    assert parse_login(b'{"refreshToken": "p.secret"}') == "p.secret"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", 'Send the API token as a JSON object {"refreshToken": "<token>"}'),
        (b"{", "The request body is not valid JSON: "),
        (b"[]", 'Send the API token as a JSON object {"refreshToken": "<token>"}'),
        (b'{"refreshToken": ""}', 'Send the API token as a JSON object {"refreshToken": "<token>"}'),
        (b'{"apiKey": "p.secret"}', 'Send the API token as a JSON object {"refreshToken": "<token>"}'),
    ],
)
def test_a_login_body_without_a_token_is_400(body: bytes, error: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        parse_login(body)
    assert e.value.message.startswith(error)


def test_the_stored_event_is_the_event_as_sent_with_vayus_id_and_times() -> None:
    event = {"name": "n", "timestamp": "2023-09-13T18:25:43.511Z", "customerAlias": "c", "ref": "r"}

    assert orjson.loads(stored_event(event, NOW)) == {
        "event": event
        | {"id": "r", "createdAt": "2023-11-14T22:13:20.500Z", "updatedAt": "2023-11-14T22:13:20.500Z"}
    }
