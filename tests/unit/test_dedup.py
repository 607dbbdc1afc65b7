"""wait=true deduplication on an in-memory ref store: within a batch, across requests, expiry, failure."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakegate.dedup import (
    MAX_KEY_BYTES,
    Claim,
    Deduplicated,
    _long_lines,
    deduplicate,
    ingest_claims,
    key_of,
    key_room,
    long_keys,
    ref_key,
)
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
    assert out.keys == ["ws#ds#row:a", "ws#ds#row:b", None]
    assert out.duplicates == 1
    assert set(refs.items) == {"ws#ds#row:a", "ws#ds#row:b"}


def test_a_key_held_by_an_earlier_request_is_a_duplicate() -> None:
    refs = MemoryRefStore()
    run(refs, [A1], owner="req-1")

    out = run(refs, [A2, B], owner="req-2")

    assert out.rows == [B]
    assert out.duplicates == 1
    assert refs.items["ws#ds#row:a"][0] == "req-1"


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
    assert refs.items["ws#ds#row:a"] == ("req-3", "", int(NOW + 61) + 60)


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
    assert {k: v[0] for k, v in refs.items.items()} == {
        "ws#ds#row:a": "record:r/0",
        "ws#ds#row:b": "record:r/1",
    }
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
        (CLAIMED_REFS, {"ref": "x", "v": 1}, ["ws#ds#row:x"]),
        (CLAIMED_REFS, {"ref": 7}, ["ws#ds#row:7"]),
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


# --- keys a DynamoDB key can hold -----------------------------------------------------------------------


def test_row_keys_have_their_own_key_space_and_room_counts_the_prefix_in_bytes() -> None:
    assert ref_key("ws", "ds", "ref:x") == "ws#ds#row:ref:x"
    assert key_room("ws", "ds") == MAX_KEY_BYTES - len("ws#ds#row:")
    assert key_room("wé", "ds") == key_room("ws", "ds") - 1  # bytes, not characters


KEYS = st.one_of(
    st.text(alphabet=st.sampled_from('aé€😀\x00"\\\n'), max_size=40).map(lambda t: t * 60),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)


@settings(max_examples=300, derandomize=True)
@given(keys=st.lists(KEYS, min_size=1, max_size=8), room=st.integers(min_value=1, max_value=2100))
def test_long_keys_finds_exactly_the_lines_whose_key_text_is_over_the_room(
    keys: list[object], room: int
) -> None:
    lines = [orjson.dumps({"ref": k, "i": i}) for i, k in enumerate(keys)]
    expected = {}
    for line in lines:
        text = key_of(orjson.loads(line), ("ref",))
        if text is not None and len(text.encode()) > room:
            expected[line] = len(text.encode())

    # as one run and as runs of one line each, CRLF or not
    assert long_keys([b"\n".join(lines) + b"\n"], "$.ref", room) == expected
    assert long_keys([line + b"\r\n" for line in lines], "$.ref", room) == expected


def test_long_keys_reads_nested_paths_and_skips_lines_without_the_key() -> None:
    lines = [b'{"a": {"b": "' + b"x" * 3000 + b'"}}', b'{"a": "' + b"y" * 3000 + b'"}', b"not json " * 400]

    assert long_keys([b"\n".join(lines)], "$.a.b", 2000) == {lines[0]: 3000}


@settings(max_examples=500, derandomize=True)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=300), max_size=30),
    longest=st.integers(min_value=0, max_value=200),
    trailing=st.booleans(),
)
def test_long_lines_finds_exactly_the_lines_longer_than_the_bound(
    lengths: list[int], longest: int, trailing: bool
) -> None:
    body = b"\n".join(bytes([97 + i % 26]) * n for i, n in enumerate(lengths)) + (b"\n" if trailing else b"")

    assert list(_long_lines(body, longest)) == [line for line in body.split(b"\n") if len(line) > longest]
