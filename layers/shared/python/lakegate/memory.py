"""In-memory implementations of every port, in one place: for unit tests, bench and tools.
mypy holds each to its port (the assignments at the end)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakegate.dedup import Claim
from lakegate.errors import NameTaken, StoreUnavailable
from lakegate.ingest.auth import Token
from lakegate.ingest.rate_limits import Grant, LeasingRateLimiter
from lakegate.schema import DataSource

if TYPE_CHECKING:
    from lakegate.dedup import RefStore
    from lakegate.ingest.delivery import RecordSink
    from lakegate.ingest.rate_limits import RateLimiter, WindowCounters
    from lakegate.ingest.registry import Registry
    from lakegate.ingest.tokens import TokenStore
    from lakegate.lake.evolution import SchemaStore
    from lakegate.lake.expiry import AllSources
    from lakegate.lake.objects import ObjectStore
    from lakegate.lake.records import RecordStore
    from lakegate.lake.replay import ReplayStore


class MemoryTokenStore:
    """A dict of tokens by hash, for unit tests."""

    def __init__(self, tokens: list[Token] | None = None) -> None:
        self.tokens = {t.token_hash: t for t in tokens or []}
        self.lookups = 0

    def get(self, token_hash: str) -> Token | None:
        self.lookups += 1
        return self.tokens.get(token_hash)


class MemoryRegistry:
    """A dict registry for unit tests; `create` converges like the real one."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], DataSource] = {}

    def get(self, workspace: str, name: str) -> DataSource | None:
        return self.items.get((workspace, name))

    def get_by_id(self, workspace: str, ds_id: str) -> DataSource | None:
        return next((ds for (ws, _), ds in self.items.items() if ws == workspace and ds.id == ds_id), None)

    def create(self, workspace: str, ds: DataSource) -> DataSource:
        """Like the real one: the same name converges, the same name in another case is NameTaken."""
        if (workspace, ds.name) not in self.items:
            lower = ds.name.lower()
            taken = next((n for ws, n in self.items if ws == workspace and n.lower() == lower), None)
            if taken is not None:
                raise NameTaken(ds.name, taken)
        return self.items.setdefault((workspace, ds.name), ds)

    def list(self, workspace: str) -> list[DataSource]:
        return [ds for (ws, _), ds in sorted(self.items.items()) if ws == workspace]

    def every(self) -> Sequence[tuple[str, DataSource]]:
        return [(ws, ds) for (ws, _), ds in sorted(self.items.items())]

    def evolve(self, workspace: str, ds: DataSource) -> DataSource:
        """Like the real one: stored only over version `ds.version - 1`."""
        current = self.items.get((workspace, ds.name))
        if current is not None and current.version == ds.version - 1:
            self.items[(workspace, ds.name)] = ds
            return ds
        if current is None:
            raise KeyError((workspace, ds.name))
        return current


class MemoryRefStore:
    """A dict of claims, for unit tests; `fail_claims` makes the next claim raise once."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[str, str, int | None]] = {}
        self.fail_claims = 0

    def claim(self, claims: Sequence[Claim], owner: str, now: float) -> set[str]:
        if self.fail_claims:
            self.fail_claims -= 1
            raise StoreUnavailable("ref claim failed: ThrottlingError")
        taken: set[str] = set()
        for c in claims:
            held = self.items.get(c.key)
            mine = c.owner or owner
            if held is not None and held[0] != mine and (held[2] is None or held[2] >= now):
                taken.add(c.key)
            else:
                self.items[c.key] = (mine, c.payload, c.expires_at)
        return taken

    def claim_once(self, claims: Sequence[Claim], owner: str, now: float) -> dict[str, tuple[str, str]]:
        """Like the refs table's record claims: a live claim is never overwritten, not even by its owner."""
        if self.fail_claims:
            self.fail_claims -= 1
            raise StoreUnavailable("record claim failed: ThrottlingException")
        held: dict[str, tuple[str, str]] = {}
        for c in claims:
            current = self.items.get(c.key)
            if current is not None and (current[2] is None or current[2] >= now):
                held[c.key] = (current[0], current[1])
            else:
                self.items[c.key] = (c.owner or owner, c.payload, c.expires_at)
        return held

    def release(self, keys: Sequence[str], owner: str) -> None:
        for key in keys:
            if key in self.items and self.items[key][0] == owner:
                del self.items[key]

    def get(self, key: str, now: float) -> str | None:
        held = self.items.get(key)
        return held[1] if held is not None and (held[2] is None or held[2] >= now) else None


class MemoryWindowCounters:
    """The shared counters of rate-limit windows in a dict; `takes` counts the writes DynamoDB would make."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.takes = 0

    def take(self, key: str, want: int, limit: int, window: int) -> Grant:
        self.takes += 1
        count = self.counts.get(key, 0)
        taken = max(0, min(want, limit - count))
        if taken:
            self.counts[key] = count + taken
        return Grant(taken, count + taken)


class MemoryRateLimiter(LeasingRateLimiter):
    """The leasing limiter over counters in a dict, for unit tests."""

    def __init__(self) -> None:
        self.counters = MemoryWindowCounters()
        super().__init__(self.counters)

    @property
    def counts(self) -> dict[str, int]:
        return self.counters.counts


class MemorySink:
    """Keeps what it is sent; `fail_next` lets a test refuse chosen records once."""

    def __init__(self) -> None:
        self.records: list[bytes] = []
        self.calls = 0
        self.fail_next: list[set[int]] = []

    def put_records(self, records: Sequence[bytes]) -> list[str | None]:
        self.calls += 1
        failing = self.fail_next.pop(0) if self.fail_next else set()
        out: list[str | None] = []
        for i, r in enumerate(records):
            if i in failing:
                out.append("ServiceUnavailableException")
            else:
                self.records.append(r)
                out.append(None)
        return out


@dataclass
class MemoryObjectStore:
    """A dict of objects for unit tests."""

    objects: dict[str, bytes] = field(default_factory=dict)
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def copy(self, source: str, target: str, metadata: Mapping[str, str]) -> None:
        self.objects[target] = self.objects[source]
        self.metadata[target] = dict(metadata)

    def folders(self, prefix: str) -> list[str]:
        rests = (k[len(prefix) :] for k in self.objects if k.startswith(prefix))
        return sorted({prefix + r.split("/", 1)[0] + "/" for r in rests if "/" in r})

    def delete_prefix(self, prefix: str) -> int:
        gone = [k for k in self.objects if k.startswith(prefix)]
        for k in gone:
            del self.objects[k]
        return len(gone)

    def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def tail(self, key: str, size: int) -> bytes:
        return self.objects[key][-size:]

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


if TYPE_CHECKING:
    _tokens: TokenStore = MemoryTokenStore()
    _registry: Registry = MemoryRegistry()
    _schemas: SchemaStore = MemoryRegistry()
    _sources: AllSources = MemoryRegistry()
    _refs: RefStore = MemoryRefStore()
    _records: RecordStore = MemoryRefStore()
    _limiter: RateLimiter = MemoryRateLimiter()
    _counters: WindowCounters = MemoryWindowCounters()
    _sink: RecordSink = MemorySink()
    _objects: ObjectStore = MemoryObjectStore()
    _replay_objects: ReplayStore = MemoryObjectStore()
