"""Admission without AWS: the name, the token, its right on the data source, then the windows; each failure is the
client's to act on, and none counts in a window."""

from __future__ import annotations

import pytest

from lakegate.errors import Forbidden, InvalidRequest, RateLimited, WrongCluster
from lakegate.ingest.admission import Access, Admission
from lakegate.ingest.auth import Token
from lakegate.memory import MemoryRateLimiter, MemoryRegistry, MemoryTokenStore
from lakegate.schema import Column, DataSource

from ..fakes import FakeClock, make_token

TOKEN = make_token("ADMIN", plain="secret")
ELSEWHERE = make_token("ADMIN", cluster="us-1", plain="elsewhere")


def admission(
    limit: int = 2, registry: MemoryRegistry | None = None, limiter: MemoryRateLimiter | None = None
) -> Admission:
    tokens = MemoryTokenStore([TOKEN, ELSEWHERE])
    return Admission(
        tokens,
        registry or MemoryRegistry(),
        limiter or MemoryRateLimiter(),
        "eu-1",
        limit,
        1000,
        FakeClock(100.25),
    )


def test_an_admitted_request_has_its_token_and_the_tightest_window() -> None:
    admitted = admission().admit("secret", "events", Access.EVENTS)
    assert admitted.token == TOKEN
    assert admitted.decision.headers() == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "1",
        "X-RateLimit-Reset": "1",
    }


@pytest.mark.parametrize(
    ("plain", "name", "error"),
    [
        ("secret", None, InvalidRequest),
        ("secret", "bad-name", InvalidRequest),
        (None, "bad-name", InvalidRequest),  # the name is checked before the token
        (None, "events", Forbidden),
        ("unknown", "events", Forbidden),
        ("elsewhere", "events", WrongCluster),
    ],
)
def test_a_request_that_cannot_be_admitted_says_why(
    plain: str | None, name: str | None, error: type[Exception]
) -> None:
    limiter = MemoryRateLimiter()
    with pytest.raises(error):
        admission(limiter=limiter).admit(plain, name, Access.EVENTS)
    assert limiter.counts == {}


def test_a_full_window_is_a_429_with_the_figures() -> None:
    gate = admission(limit=1)
    gate.admit("secret", "events", Access.EVENTS)
    with pytest.raises(RateLimited) as caught:
        gate.admit("secret", "events", Access.EVENTS)
    assert caught.value.headers["X-RateLimit-Remaining"] == "0"


def test_a_data_source_s_own_limit_counts() -> None:
    registry = MemoryRegistry()
    registry.create("ws1", DataSource("slow", (Column("a", "String", "$.a"),), rate_limit=1))
    gate = admission(limit=100, registry=registry)
    assert gate.admit("secret", "slow", Access.EVENTS).decision.limit == 1
    with pytest.raises(RateLimited):
        gate.admit("secret", "slow", Access.EVENTS)
    assert gate.admit("secret", "other", Access.EVENTS).decision.limit == 100


# --- the right on the data source, before any window counts -----------------------------------------------

APPEND_OTHER = make_token("DATASOURCE:APPEND:other", plain="append-other")
APPEND_ALL = make_token("DATASOURCE:APPEND", plain="append-all")
CREATOR = make_token("DATASOURCE:CREATE", plain="creator")
DS = DataSource("events", (Column("a", "String", "$.a"),), id="t_" + "e" * 32)


def gate_with(*tokens: Token) -> tuple[Admission, MemoryRateLimiter]:
    registry = MemoryRegistry()
    registry.create("ws1", DS)
    limiter = MemoryRateLimiter()
    gate = Admission(MemoryTokenStore(list(tokens)), registry, limiter, "eu-1", 100, 1000, FakeClock(100.25))
    return gate, limiter


@pytest.mark.parametrize(
    ("token", "name", "access", "missing"),
    [
        (APPEND_OTHER, "events", Access.EVENTS, "DATASOURCE:APPEND scope for the Data Source 'events'"),
        (APPEND_OTHER, "events", Access.APPEND, "DATASOURCE:APPEND scope for the Data Source 'events'"),
        (APPEND_ALL, "new_one", Access.EVENTS, "lacks the DATASOURCE:CREATE scope needed to create it"),
        (APPEND_OTHER, "new_one", Access.APPEND, "DATASOURCE:APPEND scope for the Data Source 'new_one'"),
        (APPEND_OTHER, DS.id, Access.EVENTS, "DATASOURCE:APPEND scope for the Data Source 'events'"),
    ],
)
def test_a_token_without_the_right_is_403_and_counts_in_no_window(
    token: Token, name: str, access: Access, missing: str
) -> None:
    gate, limiter = gate_with(token)
    for _ in range(3):
        with pytest.raises(Forbidden) as e:
            gate.admit(token_plain(token), name, access)
        assert missing in e.value.message
    assert limiter.counts == {}


@pytest.mark.parametrize(
    ("token", "name", "access"),
    [
        (APPEND_ALL, "events", Access.EVENTS),
        (CREATOR, "new_one", Access.EVENTS),
        (CREATOR, "events", Access.EVENTS),  # CREATE implies APPEND, as Tinybird's
        (APPEND_ALL, "new_one", Access.APPEND),  # Vayu's target is created with APPEND
    ],
)
def test_a_token_with_the_right_is_counted(token: Token, name: str, access: Access) -> None:
    gate, limiter = gate_with(token)

    gate.admit(token_plain(token), name, access)

    assert sorted(limiter.counts) == [f"ds#ws1#{name}#100", "ws#ws1#100"]


def test_an_id_in_name_is_its_data_source_for_scopes_and_windows() -> None:
    gate, limiter = gate_with(make_token("DATASOURCE:APPEND:events", plain="append-events"))

    admitted = gate.admit("append-events", DS.id, Access.EVENTS)

    assert admitted.name == "events"
    assert "ds#ws1#events#100" in limiter.counts


def token_plain(token: Token) -> str:
    return {APPEND_OTHER: "append-other", APPEND_ALL: "append-all", CREATOR: "creator"}[token]
