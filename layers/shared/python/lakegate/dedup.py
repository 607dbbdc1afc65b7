"""Exactly-once: which rows carry an idempotency key, and which of them may land.

The ingest claims keys for `wait=true` and Vayu (owner: the request); the compactor claims the keys of
every other row when it lands a raw object (owner: the row's record, or for records without an id the
object, so whichever object lands a record, and any retry of it, keeps the same rows). A row claimed at
ingest that ends in quarantine at landing gives its keys back (`ingest_claims` names them).

A row's key is the value at the data source's dedup jsonpath; rows without one are sent as they
are. A key seen twice in one batch is sent once (the first row wins); a key another request holds
is not sent. Both count as duplicates. Keys are namespaced by workspace and data source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson

from lakegate.errors import StoreUnavailable
from lakegate.framing import CLAIMED_EVENTS, CLAIMED_REFS
from lakegate.schema import parse_jsonpath


@dataclass(frozen=True, slots=True)
class Claim:
    """A key to take, what to keep with it (Vayu's GET returns it), and until when it is held."""

    key: str
    payload: str = ""
    expires_at: int | None = None  # None: held for ever
    owner: str = ""  # who takes it; "": the owner the claim call names


class RefStore(Protocol):
    def claim(self, claims: Sequence[Claim], owner: str, now: float) -> set[str]:
        """Take every free key for `owner`; return the keys someone else holds. Idempotent per owner."""
        ...

    def release(self, keys: Sequence[str], owner: str) -> None:
        """Give back keys this owner took (a send failed), so the client's retry can take them."""
        ...

    def get(self, key: str, now: float) -> str | None:
        """The payload kept with a live claim."""
        ...


@dataclass(frozen=True, slots=True)
class Deduplicated:
    """The rows to send, the key each holds (None: no key), and how many were dropped as duplicates."""

    rows: list[bytes]
    keys: list[str | None]
    duplicates: int
    # Where each kept row sat in the input, so a caller holding the rows in another form can filter it.
    indexes: list[int]


def key_of(row: object, path: tuple[str, ...]) -> str | None:
    """The row's key as text, or None when absent, null, or not a scalar."""
    v = row
    for step in path:
        if not isinstance(v, dict):
            return None
        v = v.get(step)
    if v is None or isinstance(v, dict | list):
        return None
    return v if isinstance(v, str) else orjson.dumps(v).decode()


# DynamoDB's limit on a partition key: a longer claim key fails the whole call (ValidationException).
MAX_KEY_BYTES = 2048


def ref_key(workspace: str, datasource: str, key: str) -> str:
    return f"{workspace}#{datasource}#{key}"


def event_key(workspace: str, datasource: str, name: str, ref: str) -> str:
    """The key that makes a Vayu event (name, ref) unique in a data source."""
    return f"{workspace}#{datasource}#event:" + orjson.dumps([name, ref]).decode()


def event_lookup_key(workspace: str, datasource: str, ref: str) -> str:
    """The key Vayu's `GET /events/{ref}` reads: the first stored event with this ref, whatever its name."""
    return f"{workspace}#{datasource}#ref:{ref}"


def ingest_claims(kind: int, workspace: str, datasource: str, row: object, dedup_key: str) -> list[str]:
    """The keys the ingest claimed for a row whose record says `dd=kind` (framing.CLAIMED_REFS or CLAIMED_EVENTS), so
    that a row which ends in quarantine at landing gives them back. Each is released only if its
    request still holds it: a key the request never won, or won again by a resend, is left alone."""
    if kind == CLAIMED_REFS and dedup_key:
        key = key_of(row, parse_jsonpath(dedup_key).keys)
        return [ref_key(workspace, datasource, key)] if key is not None else []
    if kind == CLAIMED_EVENTS and isinstance(row, dict):
        name, ref = row.get("name"), row.get("ref")
        if isinstance(name, str) and isinstance(ref, str):
            return [event_key(workspace, datasource, name, ref), event_lookup_key(workspace, datasource, ref)]
    return []


def deduplicate(
    lines: Sequence[bytes],
    jsonpath: str,
    workspace: str,
    datasource: str,
    window_seconds: int,
    refs: RefStore,
    owner: str,
    now: float,
    owners: Sequence[str] | None = None,
    unfit: dict[int, str] | None = None,
) -> Deduplicated:
    """Claim every keyed row's key for `owner` (or, given `owners`, for the row's own); keep the rows whose
    key this request won. Given `unfit`, a row whose key is longer than a DynamoDB key holds is neither
    claimed nor kept but put there with why (a claim of it would fail the whole call)."""
    path = parse_jsonpath(jsonpath).keys
    keys = [key_of(orjson.loads(line), path) for line in lines]
    expires = int(now) + window_seconds if window_seconds else None
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k is not None:
            claim = ref_key(workspace, datasource, k)
            if unfit is not None and len(claim.encode()) > MAX_KEY_BYTES:
                unfit[i] = (
                    f"dedup key {jsonpath} is {len(k.encode())} bytes: "
                    f"a key of at most {MAX_KEY_BYTES} bytes with its workspace and data source names"
                )
                keys[i] = None
                continue
            first.setdefault(claim, i)
    whose = (lambda i: owners[i]) if owners is not None else (lambda i: owner)
    try:
        taken = refs.claim([Claim(key, "", expires, whose(i)) for key, i in first.items()], owner, now)
    except StoreUnavailable:
        # Some chunks may be ours already: give them back (only ours: release checks the owner).
        for held in {whose(i) for i in first.values()}:
            refs.release([key for key, i in first.items() if whose(i) == held], held)
        raise
    rows: list[bytes] = []
    kept: list[str | None] = []
    indexes: list[int] = []
    for i, (line, k) in enumerate(zip(lines, keys, strict=True)):
        full = ref_key(workspace, datasource, k) if k is not None else None
        if (full is not None and (first[full] != i or full in taken)) or (unfit and i in unfit):
            continue
        rows.append(line)
        kept.append(full)
        indexes.append(i)
    return Deduplicated(rows, kept, len(lines) - len(rows) - len(unfit or ()), indexes)
