"""wait=true deduplication on an in-memory ref store: within a batch, across requests, expiry, failure."""

from __future__ import annotations

import pytest

from lakegate.dedup import Claim, Deduplicated, deduplicate, ingest_claims, key_of
from lakegate.errors import StoreUnavailable
from lakegate.framing import CLAIMED_EVENTS, CLAIMED_REFS
from lakegate.memory import MemoryRefStore

A1 = b'{"ref": "a", "v": 1}'
A2 = b'{"ref": "a", "v": 2}'
B = b'{"ref": "b"}'
NOREF = b'{"v": 3}'
NOW = 1_000.0


def run(
    refs: MemoryRefStore, lines: list[bytes], owner: str = "req-1", window: int = 0, now: float = NOW
) -> Deduplicated:
    return deduplicate(lines, "$.ref", "ws", "ds", window, refs, owner, now)


def test_first_row_of_a_key_wins_within_a_batch_and_rows_without_a_key_pass() -> None:
    refs = MemoryRefStore()

    out = run(refs, [A1, B, A2, NOREF])

    assert out.rows == [A1, B, NOREF]
    assert out.keys == ["ws#ds#a", "ws#ds#b", None]
    assert out.duplicates == 1
    assert set(refs.items) == {"ws#ds#a", "ws#ds#b"}


def test_a_key_held_by_an_earlier_request_is_a_duplicate() -> None:
    refs = MemoryRefStore()
    run(refs, [A1], owner="req-1")

    out = run(refs, [A2, B], owner="req-2")

    assert out.rows == [B]
    assert out.duplicates == 1
    assert refs.items["ws#ds#a"][0] == "req-1"


def test_a_key_its_owner_claims_again_is_not_a_duplicate() -> None:
    refs = MemoryRefStore()
    run(refs, [A1, B], owner="raw:obj")

    assert run(refs, [A1, B], owner="raw:obj").rows == [A1, B]
    assert run(refs, [A1, B], owner="raw:other").duplicates == 2


def test_an_expired_claim_counts_as_free() -> None:
    refs = MemoryRefStore()
    run(refs, [A1], owner="req-1", window=60, now=NOW)

    assert run(refs, [A2], owner="req-2", window=60, now=NOW + 30).duplicates == 1
    out = run(refs, [A2], owner="req-3", window=60, now=NOW + 61)
    assert out.rows == [A2]
    assert refs.items["ws#ds#a"] == ("req-3", "", int(NOW + 61) + 60)


def test_a_failed_claim_gives_back_what_it_took() -> None:
    class FailsOnSecondChunk(MemoryRefStore):
        def claim(self, claims: object, owner: str, now: float) -> set[str]:
            super().claim(list(claims)[:1], owner, now)  # type: ignore[call-overload]
            raise StoreUnavailable("ref claim failed: ThrottlingError")

    refs = FailsOnSecondChunk()
    with pytest.raises(StoreUnavailable):
        run(refs, [A1, B])

    assert refs.items == {}


@pytest.mark.parametrize(
    ("row", "key"),
    [({"ref": "x"}, "x"), ({"ref": 12}, "12"), ({"ref": None}, None), ({}, None), ({"ref": {"a": 1}}, None)],
)
def test_key_of(row: dict[str, object], key: str | None) -> None:
    assert key_of(row, ("ref",)) == key


def test_memory_store_release_only_frees_the_owners_keys() -> None:
    refs = MemoryRefStore()
    refs.claim([Claim("k1"), Claim("k2")], "me", NOW)
    refs.claim([Claim("k3")], "other", NOW)

    refs.release(["k1", "k3"], "me")

    assert set(refs.items) == {"k2", "k3"}


def test_rows_may_claim_for_owners_of_their_own_and_a_failure_gives_back_each_owners() -> None:
    # The compactor claims each row's ref for its record, so two objects landing one record agree.
    refs = MemoryRefStore()
    out = deduplicate(
        [A1, B], "$.ref", "ws", "ds", 0, refs, "raw:obj", NOW, owners=["record:r/0", "record:r/1"]
    )

    assert out.rows == [A1, B]
    assert {k: v[0] for k, v in refs.items.items()} == {"ws#ds#a": "record:r/0", "ws#ds#b": "record:r/1"}
    assert run(refs, [A2], owner="record:r/0").rows == [A2]  # the same owner takes it again

    class Fails(MemoryRefStore):
        def claim(self, claims: object, owner: str, now: float) -> set[str]:
            super().claim(claims, owner, now)  # type: ignore[arg-type]
            raise StoreUnavailable("ref claim failed: ThrottlingError")

    failing = Fails()
    with pytest.raises(StoreUnavailable):
        deduplicate([A1, B], "$.ref", "ws", "ds", 0, failing, "raw:obj", NOW, owners=["o1", "o2"])
    assert failing.items == {}


@pytest.mark.parametrize(
    ("kind", "row", "keys"),
    [
        (CLAIMED_REFS, {"ref": "x", "v": 1}, ["ws#ds#x"]),
        (CLAIMED_REFS, {"ref": 7}, ["ws#ds#7"]),
        (CLAIMED_REFS, {"v": 1}, []),
        (CLAIMED_EVENTS, {"name": "n", "ref": "x"}, ['ws#ds#event:["n","x"]', "ws#ds#ref:x"]),
        (CLAIMED_EVENTS, {"name": "n"}, []),
        (0, {"ref": "x"}, []),
    ],
)
def test_ingest_claims_are_the_keys_the_ingest_built(
    kind: int, row: dict[str, object], keys: list[str]
) -> None:
    assert ingest_claims(kind, "ws", "ds", row, "$.ref") == keys


def test_ingest_claims_match_vayus_own_keys() -> None:
    from lakegate.ingest.vayu import claim_key, lookup_key

    event = {"name": "a#b", "ref": "c"}
    assert ingest_claims(CLAIMED_EVENTS, "ws", "events", event, "") == [
        claim_key("ws", "events", "a#b", "c"),
        lookup_key("ws", "events", "c"),
    ]
