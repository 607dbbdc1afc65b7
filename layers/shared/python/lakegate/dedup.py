"""Exactly-once: which rows carry an idempotency key, and which of them may land.

The ingest claims keys for `wait=true` and Vayu (owner: the request); the compactor claims the keys of
every other row when it lands a raw object (owner: the row's record, or for records without an id the
object, so whichever object lands a record, and any retry of it, keeps the same rows). A row claimed at
ingest that ends in quarantine at landing gives its keys back (`ingest_claims` names them).

A row's key is the value at the data source's dedup jsonpath; rows without one are sent as they
are. A key seen twice in one batch is sent once (the first row wins); a key another request holds
is not sent. Both count as duplicates. Keys are namespaced by workspace and data source, and a
row's key is `<ws>#<ds>#row:<key>`: Vayu's claims on its data source (`event:`, `ref:`) are another
key space, so no row of `/v0/events` can hide or block a Vayu event.

A claim is a DynamoDB partition key, which holds at most 2,048 bytes: a row whose key does not fit
with its prefix is refused at ingest (`long_keys`), with `wait=true` or without (an async row would
otherwise fail the compactor's claim at landing).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson

from lakegate.errors import StoreRefused, StoreUnavailable
from lakegate.framing import CLAIMED_EVENTS, CLAIMED_REFS
from lakegate.schema import parse_jsonpath

MAX_KEY_BYTES = (
    2048  # DynamoDB's limit on a partition key, the refs table's `pk`: a longer one fails the call
)
_LONGEST_SCALAR = 32  # bytes a JSON number or boolean key takes at most as text (orjson writes <= 24)


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

    def claim_once(self, claims: Sequence[Claim], owner: str, now: float) -> dict[str, tuple[str, str]]:
        """Take each free (or expired) key for `owner`, never overwriting a live claim, not even the
        owner's own. For every key already held: (owner, payload) of its holder. Record claims use it."""
        ...


def abandoned(owner: str) -> str:
    """Who holds the id of a record its request gave up on (its last send timed out, lakegate.ingest.sending):
    nobody lands it, every copy is dropped."""
    return f"abandoned:{owner}"


def is_abandoned(holder: str) -> bool:
    return holder.startswith("abandoned:")


def record_key(record_id: str) -> str:
    """The refs-table key of a record claim (lakegate.lake.records). A ref key starts with its workspace id,
    never empty: `#` first keeps record claims apart from every ref and event key."""
    return "#record#" + record_id


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


def key_prefix(workspace: str, datasource: str) -> str:
    """What every row key of a data source starts with: its own key space (Vayu's are `event:`, `ref:`)."""
    return f"{workspace}#{datasource}#row:"


def ref_key(workspace: str, datasource: str, key: str) -> str:
    return key_prefix(workspace, datasource) + key


def key_room(workspace: str, datasource: str) -> int:
    """How many bytes a row's key may take: a DynamoDB key holds MAX_KEY_BYTES, the prefix included."""
    return MAX_KEY_BYTES - len(key_prefix(workspace, datasource).encode())


def long_key_error(size: int, jsonpath: str, room: int) -> str:
    return (
        f"dedup key too long: the value at {jsonpath} takes {size} bytes, the limit is {room} bytes "
        f"(a key is stored in DynamoDB, which holds {MAX_KEY_BYTES} bytes with the data source's prefix)"
    )


def long_keys(runs: Iterable[bytes | memoryview], jsonpath: str, room: int) -> dict[bytes, int]:
    """Lines of these runs (newline-separated) whose key takes more than `room` bytes, with its size.

    A key's text is never longer than the line that holds it (a JSON string decodes to at most its
    encoded bytes; numbers and booleans are short), so only lines longer than `room` are parsed, and
    finding them costs a C-level search per `room / 2` bytes of body (`_long_lines`)."""
    path = parse_jsonpath(jsonpath).keys
    longest = room if room >= _LONGEST_SCALAR else 0
    found: dict[bytes, int] = {}
    for run in runs:
        for line in _long_lines(bytes(run), longest):
            line = line.rstrip(b"\r")  # noqa: PLW2901 - CRLF bodies
            try:
                key = key_of(orjson.loads(line), path)
            except orjson.JSONDecodeError:
                continue
            if key is not None and len(key.encode()) > room:
                found[line] = len(key.encode())
    return found


def _long_lines(run: bytes, longest: int) -> Iterator[bytes]:
    """The lines of `run` longer than `longest` bytes. Windows of `step` bytes are searched for a newline
    one after another: a line of 2 * step bytes or more holds a whole window, so a window without one
    leads to every such line (and maybe to shorter ones, measured and skipped). Measured on 11 MB of
    250-byte rows: ~3 ms, where a multiline regex took ~250 ms and splitting the body ~70 ms."""
    step = max(1, (longest + 1) // 2)
    p, n = 0, len(run)
    while p < n:
        if n - p >= step and run.find(b"\n", p, p + step) == -1:
            start = run.rfind(b"\n", 0, p) + 1
            end = run.find(b"\n", p)
            end = n if end == -1 else end
            if end - start > longest:
                yield run[start:end]
            p = end + 1
        else:
            p += step


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
    except (StoreUnavailable, StoreRefused):
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
