"""Tokens and scopes: hashing, scope spelling, who may create or append, and where the token is read from."""

from __future__ import annotations

import dataclasses
import hashlib
from decimal import Decimal

import pytest

from lakegate.errors import Forbidden, WrongCluster
from lakegate.ingest.auth import (
    ADMIN,
    APPEND,
    CREATE,
    Token,
    authorize,
    hash_token,
    normalize_scope,
    token_from_request,
)

from ..fakes import make_token

NOW = 1_700_000_000.0
CLUSTER = "eu-1"


def test_hash_token_is_the_sha256_hex_digest() -> None:
    # The well-known SHA-256 test vector, so the test does not just restate the implementation.
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hash_token("p.eyJ1IjoiZSJ9") == hashlib.sha256(b"p.eyJ1IjoiZSJ9").hexdigest()
    assert hash_token("ñ") == hashlib.sha256("ñ".encode()).hexdigest()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ADMIN", "ADMIN"),
        ("admin", "ADMIN"),
        ("DATASOURCE:APPEND", "DATASOURCE:APPEND"),
        ("DATASOURCES:APPEND", "DATASOURCE:APPEND"),
        ("datasources:append", "DATASOURCE:APPEND"),
        ("  DATASOURCES:CREATE  ", "DATASOURCE:CREATE"),
        ("datasource:create", "DATASOURCE:CREATE"),
        ("DATASOURCE:APPEND:events_test", "DATASOURCE:APPEND:events_test"),
        ("DATASOURCES:APPEND:events_test", "DATASOURCE:APPEND:events_test"),
        # The data-source name keeps its case: names are case-sensitive.
        ("datasources:append:Events_Test", "DATASOURCE:APPEND:Events_Test"),
    ],
)
def test_normalize_scope(raw: str, expected: str) -> None:
    assert normalize_scope(raw) == expected


def test_token_from_item_normalises_scopes_and_reads_optional_fields() -> None:
    # Given an item as DynamoDB's deserialiser returns it (numbers as Decimal)
    item: dict[str, object] = {
        "token_hash": "h1",
        "workspace_id": "ws1",
        "cluster": "eu-1",
        "scopes": ["datasources:append:events", "DATASOURCES:CREATE"],
        "name": "ingest token",
        "expires_at": Decimal(1_800_000_000),
        "revoked": True,
    }
    # When it is turned into a Token
    token = Token.from_item(item)
    # Then every field is read and the scopes are in canonical spelling
    assert token == Token(
        token_hash="h1",
        workspace_id="ws1",
        cluster="eu-1",
        scopes=frozenset({"DATASOURCE:APPEND:events", "DATASOURCE:CREATE"}),
        name="ingest token",
        expires_at=1_800_000_000.0,
        revoked=True,
    )


def test_token_from_item_defaults() -> None:
    token = Token.from_item({"token_hash": "h1", "workspace_id": "ws1", "cluster": "eu-1"})
    assert token == Token("h1", "ws1", "eu-1", frozenset(), name="", expires_at=None, revoked=False)


@pytest.mark.parametrize(
    ("scopes", "can_create", "append_events", "append_other"),
    [
        ((ADMIN,), True, True, True),
        ((CREATE,), True, True, True),
        ((APPEND,), False, True, True),
        ((f"{APPEND}:events",), False, True, False),
        ((f"{APPEND}:other",), False, False, True),
        ((), False, False, False),
        (("DATASOURCE:READ:events",), False, False, False),
    ],
)
def test_scopes_grant_create_and_append(
    scopes: tuple[str, ...], can_create: bool, append_events: bool, append_other: bool
) -> None:
    token = make_token(*scopes)
    assert token.can_create() is can_create
    assert token.can_append("events") is append_events
    assert token.can_append("other") is append_other


def test_append_scope_for_a_name_is_case_sensitive() -> None:
    token = make_token(f"{APPEND}:events")
    assert token.can_append("Events") is False


def test_scopes_read_from_tinybird_spelling_grant_access() -> None:
    # Given a token stored with Tinybird's plural spelling
    token = Token.from_item(
        {"token_hash": "h", "workspace_id": "ws", "cluster": "eu-1", "scopes": ["DATASOURCES:APPEND:events"]}
    )
    # Then it grants exactly what DATASOURCE:APPEND:events grants
    assert token.can_append("events") is True
    assert token.can_append("other") is False
    assert token.can_create() is False


def test_authorize_returns_a_live_token_of_this_cluster() -> None:
    token = dataclasses.replace(make_token(APPEND), expires_at=NOW + 1)
    assert authorize(token, CLUSTER, NOW) is token


@pytest.mark.parametrize(
    "token",
    [
        None,
        dataclasses.replace(make_token(ADMIN), revoked=True),
        dataclasses.replace(make_token(ADMIN), expires_at=NOW - 1),
        # Expiry is exclusive: a token is dead at the instant it expires.
        dataclasses.replace(make_token(ADMIN), expires_at=NOW),
        # Liveness is checked before the cluster: a dead token from elsewhere is still 403.
        dataclasses.replace(make_token(ADMIN, cluster="us-1"), revoked=True),
    ],
    ids=["unknown", "revoked", "expired", "expires-now", "revoked-other-cluster"],
)
def test_authorize_refuses_unknown_revoked_or_expired_tokens(token: Token | None) -> None:
    with pytest.raises(Forbidden) as info:
        authorize(token, CLUSTER, NOW)
    assert info.value.message == "Invalid token"


def test_authorize_sends_a_token_of_another_cluster_away() -> None:
    with pytest.raises(WrongCluster) as info:
        authorize(make_token(ADMIN, cluster="us-1"), CLUSTER, NOW)
    assert info.value.message == (
        "The token's Workspace doesn't belong to this cluster: check the token's region and the host"
    )


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"authorization": "Bearer abc"}, {}, "abc"),
        ({"authorization": "bearer abc"}, {}, "abc"),
        ({"authorization": "BEARER abc"}, {}, "abc"),
        ({"authorization": "Bearer   abc  "}, {}, "abc"),
        ({}, {"token": "qtok"}, "qtok"),
        ({"authorization": "Bearer htok"}, {"token": "qtok"}, "htok"),
        # A header that is there but malformed is not silently replaced by the query token.
        ({"authorization": "Basic dXNlcjpwdw=="}, {"token": "qtok"}, None),
        ({"authorization": "Bearer"}, {}, None),
        ({"authorization": "Bearer    "}, {}, None),
        ({"authorization": "abc"}, {}, None),
        ({}, {"token": ""}, None),
        ({}, {}, None),
        ({"authorization": ""}, {"token": "qtok"}, "qtok"),
    ],
)
def test_token_from_request(headers: dict[str, str], query: dict[str, str], expected: str | None) -> None:
    assert token_from_request(headers, query) == expected
