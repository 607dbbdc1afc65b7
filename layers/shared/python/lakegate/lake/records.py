"""Exactly once across Firehose's at-least-once delivery: a record lands in one raw object only.

Firehose may write a record twice, and the ingest sends a PutRecordBatch again when its answer timed out
although the first may have gone through. Every record whose rows were promised exactly once carries an
id (framing), the same on every send. The compactor claims it before the record's rows land: one
conditional write per record, owned by the raw object (`raw:<key>`), kept in the refs table. A record
whose id another object holds is dropped whole; one that appears twice in an object lands the first time.

The claim keeps the landing decision: which of the record's rows were dropped because their ref had
landed already. When the owner lands the object again (a Lambda retry, a replay, a crash between the
claims and the Parquet), it reuses that decision instead of claiming the refs again, so its files come
out the same: a ref that expired (`dedup_window_seconds`) and was taken by another object since does not
remove a row that landed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from lakegate.dedup import Claim, RefStore, deduplicate, ingest_claims, is_abandoned, record_key
from lakegate.lake.raw import Chunk
from lakegate.schema import DataSource

# A record claim must outlive every object that may hold a copy of the record: Firehose retries a
# delivery for up to a day, and a raw object can be replayed until raw/ expires it.
DELIVERY_RETRY_DAYS = 1


class RecordStore(Protocol):
    def claim_once(self, claims: Sequence[Claim], owner: str, now: float) -> dict[str, tuple[str, str]]:
        """Take each free (or expired) key for `owner`: one conditional write each, which never overwrites
        a live claim, not even the owner's own. For every key already held: (owner, payload) of its holder."""
        ...


def owner_of(source_key: str) -> str:
    """Who holds the claims a raw object takes: the object itself, the same on every retry."""
    return f"raw:{source_key}"


def ref_owner(record_id: str) -> str:
    """Who holds the refs of a record's rows that the compactor claims: the record, whichever object
    carries it, so two objects landing copies of one record at once never split its refs between them."""
    return f"record:{record_id}"


@dataclass(frozen=True, slots=True)
class Landed:
    """The landing decision a record claim keeps: offsets (in the record) of rows dropped as duplicates."""

    duplicates: tuple[int, ...] = ()

    def payload(self) -> str:
        return orjson.dumps(list(self.duplicates)).decode()

    @classmethod
    def parse(cls, payload: str) -> Landed:
        try:
            offsets = orjson.loads(payload) if payload else []
        except orjson.JSONDecodeError:
            offsets = []
        return cls(tuple(int(i) for i in offsets if isinstance(i, int)))


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a record lands here, and the decision it lands with (here, or in the object that holds it)."""

    lands: bool
    landed: Landed
    # Its request gave up on it (lakegate.ingest.sending): no object lands it, and the refs its rows took
    # here are given back, for the client's retry.
    abandoned: bool = False


def claim_records(
    store: RecordStore,
    decisions: dict[str, Landed],
    owner: str,
    now: float,
    keep_days: int,
) -> dict[str, Verdict]:
    """Claim each record id with this run's decision; per id, the verdict: landing with this decision (a
    new claim), with the stored one (this owner's earlier claim), or not at all (another object's)."""
    expires = int(now) + (keep_days + DELIVERY_RETRY_DAYS) * 86_400
    claims = [Claim(record_key(rid), landed.payload(), expires) for rid, landed in decisions.items()]
    held = store.claim_once(claims, owner, now) if claims else {}
    verdicts: dict[str, Verdict] = {}
    for rid, landed in decisions.items():
        holder = held.get(record_key(rid))
        if holder is None:
            verdicts[rid] = Verdict(True, landed)
        elif holder[0] == owner:
            verdicts[rid] = Verdict(True, Landed.parse(holder[1]))  # a replay: the stored decision
        elif is_abandoned(holder[0]):
            verdicts[rid] = Verdict(False, Landed(), abandoned=True)
        else:  # another object lands it, with the decision it stored
            verdicts[rid] = Verdict(False, Landed.parse(holder[1]))
    return verdicts


@dataclass(frozen=True, slots=True)
class Settled:
    """Which rows of a chunk land after the claims: per record whether it lands, the rows that do not
    (of records that do not, and those dropped as duplicates), and how many of each."""

    lands: list[bool]
    drop: set[int]
    duplicate_rows: int
    duplicate_records: int
    # Rows that cannot be deduplicated (their key is too long to claim): they go to quarantine, with why.
    refused: dict[int, str] = field(default_factory=dict)


@dataclass
class Claimer:
    """The claims of one raw object's landing: refs of the rows the compactor dedups, record ids, and the
    ingest's claims that quarantined rows give back. It remembers the record ids it met in the object."""

    source_key: str
    refs: RefStore | None
    records: RecordStore | None
    now: float
    keep_days: int
    seen: set[str] = field(default_factory=set)

    @property
    def owner(self) -> str:
        return owner_of(self.source_key)

    def settle(
        self, chunk: Chunk, ds: DataSource | None, rows: Sequence[int], errors: Sequence[int]
    ) -> Settled:
        """Claim for a chunk whose `rows` are ready to land and whose `errors` go to quarantine."""
        repeated: set[int] = set()  # records whose first copy came earlier in this object: that one lands
        for k, rec in enumerate(chunk.records):
            if rec.record_id:
                if rec.record_id in self.seen:
                    repeated.add(k)
                self.seen.add(rec.record_id)
        refused: dict[int, str] = {}
        duplicates, held = self._claim_refs(chunk, ds, rows, repeated, refused)
        verdicts = self._claim_records(chunk, duplicates, repeated)
        lands = [k not in repeated and verdicts.get(k, _LANDS).lands for k in range(len(chunk.records))]
        drop = _dropped(chunk, lands, duplicates, verdicts)
        gone_entries = len(chunk.quarantined) - sum(lands[k] for k in chunk.quarantined_record)
        gone = len(drop) + gone_entries
        refused = {r: why for r, why in refused.items() if lands[chunk.record_of[r]]}
        drop |= refused.keys()
        self._release(chunk, ds, errors, lands, drop, held, verdicts)
        return Settled(lands, drop, gone, lands.count(False), refused)

    def _row_owner(self, chunk: Chunk, row: int) -> str:
        rec = chunk.records[chunk.record_of[row]]
        return ref_owner(rec.record_id) if rec.record_id else self.owner

    def _claim_refs(
        self,
        chunk: Chunk,
        ds: DataSource | None,
        rows: Sequence[int],
        repeated: set[int],
        refused: dict[int, str],
    ) -> tuple[set[int], dict[int, tuple[str, str]]]:
        """Claim the refs of the rows about to land that were not claimed at ingest: the rows dropped
        because their ref is held elsewhere (or an earlier row of the object took it), and per row kept,
        the ref it holds and for whom. Rows that fail to land never claim: they are set apart before."""
        if self.refs is None or ds is None or not ds.effective_dedup_key or not rows:
            return set(), {}
        open_rows = sorted(r for r in rows if not chunk.claimed[r] and chunk.record_of[r] not in repeated)
        if not open_rows:
            return set(), {}
        owners = [self._row_owner(chunk, r) for r in open_rows]
        lines = chunk.lines
        unfit: dict[int, str] = {}
        dd = deduplicate(
            [lines[r] for r in open_rows],
            ds.effective_dedup_key,
            chunk.workspace,
            ds.name,
            ds.dedup_window_seconds,
            self.refs,
            self.owner,
            self.now,
            owners,
            unfit,
        )
        refused.update((open_rows[j], why) for j, why in unfit.items())
        held = {
            open_rows[j]: (k, owners[j]) for j, k in zip(dd.indexes, dd.keys, strict=True) if k is not None
        }
        kept = {open_rows[j] for j in dd.indexes}
        return {r for r in open_rows if r not in kept and r not in refused}, held

    def _claim_records(self, chunk: Chunk, duplicates: set[int], repeated: set[int]) -> dict[int, Verdict]:
        """Per record with an id (by its index in the chunk): whether it lands, and with which decision."""
        ids = {k: rec.record_id for k, rec in enumerate(chunk.records) if rec.record_id and k not in repeated}
        if not ids:
            return {}
        offsets: dict[int, list[int]] = defaultdict(list)
        for r in sorted(duplicates):
            offsets[chunk.record_of[r]].append(chunk.offsets[r])
        decisions = {rid: Landed(tuple(offsets.get(k, ()))) for k, rid in ids.items()}
        if self.records is None:
            return {k: Verdict(True, decisions[rid]) for k, rid in ids.items()}
        verdicts = claim_records(self.records, decisions, self.owner, self.now, self.keep_days)
        return {k: verdicts[rid] for k, rid in ids.items()}

    def _release(
        self,
        chunk: Chunk,
        ds: DataSource | None,
        errors: Sequence[int],
        lands: list[bool],
        drop: set[int],
        held: dict[int, tuple[str, str]],
        verdicts: dict[int, Verdict],
    ) -> None:
        """Claims held by rows that do not land are given back: refs this run took for rows a stored
        decision drops or whose record was abandoned, and the ingest's claims of rows that end in quarantine
        (their request owns them)."""
        if self.refs is None:
            return
        give_back: dict[str, list[str]] = defaultdict(list)
        for r, (key, owner) in held.items():
            k = chunk.record_of[r]
            verdict = verdicts.get(k, _LANDS)
            if r in drop and (lands[k] or verdict.abandoned or chunk.offsets[r] in verdict.landed.duplicates):
                give_back[owner].append(key)
        dedup_key = ds.effective_dedup_key if ds is not None else ""
        lines = chunk.lines if errors else []
        for r in errors:
            kind = chunk.claimed[r]
            if kind and lands[chunk.record_of[r]]:
                try:
                    row = orjson.loads(lines[r])
                except orjson.JSONDecodeError:
                    continue
                give_back[chunk.request_ids[r]] += ingest_claims(
                    kind, chunk.workspace, chunk.datasource, row, dedup_key
                )
        for owner, keys in give_back.items():
            if keys:
                self.refs.release(keys, owner)


_LANDS = Verdict(True, Landed())


def _dropped(chunk: Chunk, lands: list[bool], duplicates: set[int], verdicts: dict[int, Verdict]) -> set[int]:
    """The chunk rows that do not land: those of records that do not, and those the decision drops."""
    if all(lands) and not duplicates and not any(v.landed.duplicates for v in verdicts.values()):
        return set()  # the common case, without a pass over every row
    decided = {k: set(v.landed.duplicates) for k, v in verdicts.items()}
    drop: set[int] = set()
    for r, k in enumerate(chunk.record_of):
        if not lands[k]:
            drop.add(r)
        elif k in decided:
            if chunk.offsets[r] in decided[k]:
                drop.add(r)
        elif r in duplicates:
            drop.add(r)
    return drop
