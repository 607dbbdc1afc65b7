"""Quarantined rows back into their data source once its schema takes them (`lakegate quarantine replay`).

Each quarantine file of the data source (`<name>_quarantine/date=.../hour=.../part-*.parquet`) is read, and
each row's original line checked again, as the ingest checks rows, against the data source's current
schema. The rows that fit now land exactly once, however often the replay is run or wherever it dies:

1. The fitting rows are framed as Firehose records (one per row, the row's own ingestion time and import
   id, the record id `replay:<digest>:<row>`) into one staged object whose key derives from the quarantine
   file's key and a digest of its bytes (`layout.replay_key`): the same file content always stages the
   same object.
2. The compactor lands that object as it lands any raw object (its record claims are owned by the staged
   key; its part files are named after it, so landing it again overwrites them with the same rows).
3. The quarantine file is rewritten without those rows (the rest keep their new error), or deleted when
   none is left: one PUT, atomic. The staged object is deleted last.

A replay that dies before 3 finds the file unchanged on the next run, hence the same digest and the same
staged object, and lands that object as it was staged (not recomputed: the schema may have changed since),
overwriting the files its first landing wrote. After 3 the rows are no longer in the quarantine. A staged
object whose quarantine file is gone or changed is finished and deleted. One replay of a data source runs
at a time (two at once may stage one object with different rows). Rows whose ref landed meanwhile (the
client resent them) are dropped by the compactor's dedup and counted as skipped.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from lakegate.config import Limits
from lakegate.framing import RecordHeader, frame_rows
from lakegate.ingest.rows import compile_validator, parse
from lakegate.lake.compactor import Outcome
from lakegate.lake.layout import (
    PARQUET_CONTENT_TYPE,
    folder,
    hour_span,
    quarantine_file_id,
    quarantine_name,
    replay_key,
    replay_prefix,
    replay_source,
)
from lakegate.lake.objects import ObjectStore
from lakegate.lake.parquet import to_parquet
from lakegate.lake.raw import read_raw
from lakegate.names import ERROR, ERROR_COLUMN, IMPORT_ID, INSERTION_DATE, LINE
from lakegate.schema import DataSource

STAGED_CONTENT_TYPE = "application/octet-stream"
_MAX_LINE_BYTES = Limits().max_line_bytes


class ReplayStore(ObjectStore, Protocol):
    def keys(self, prefix: str) -> list[str]:
        """Every object key under `prefix`, sorted."""
        ...

    def delete(self, key: str) -> None: ...


class Lander(Protocol):
    def process(self, source_key: str) -> Outcome:
        """Land one raw-framed object (lakegate.lake.compactor.Compactor)."""
        ...


@dataclass(slots=True)
class Replayed:
    """What a replay did (or, dry, would do): rows landed, rows left in quarantine, rows skipped (outside
    --since/--until, or already landed under their ref), and the files it read and rewrote."""

    replayed: int = 0
    still_failing: int = 0
    skipped: int = 0
    files: int = 0
    rewritten: int = 0


@dataclass(frozen=True, slots=True)
class _Checked:
    """One quarantine file checked again: the rows that fit now, the new error of each row that does not,
    and the rows outside the window."""

    fits: list[int]
    failing: dict[int, tuple[str, str]]
    outside: int


def _seconds(table: pa.Table) -> list[int]:
    """Each row's insertion_date in Unix seconds (Parquet gives it back in milliseconds)."""
    column = table.column(INSERTION_DATE)
    return [int(t.timestamp()) for t in column.to_pylist()]


def _window(table: pa.Table, since: datetime | None, until: datetime | None) -> list[bool]:
    seconds = _seconds(table)
    low = since.timestamp() if since else float("-inf")
    high = until.timestamp() if until else float("inf")
    return [low <= s < high for s in seconds]


def check_again(
    ds: DataSource, table: pa.Table, since: datetime | None = None, until: datetime | None = None
) -> _Checked:
    """Each quarantined line of `table` (in the window) against `ds`, as the ingest checks a row."""
    validator = compile_validator(ds)
    fits: list[int] = []
    failing: dict[int, tuple[str, str]] = {}
    inside = _window(table, since, until)
    for i, line in enumerate(table.column(LINE).to_pylist()):
        if not inside[i]:
            continue
        parsed = parse(line.encode(), _MAX_LINE_BYTES)
        if parsed.rejected:
            failing[i] = (parsed.rejected[0].column, parsed.rejected[0].error)
        elif not parsed.objects:
            failing[i] = ("", "the line is empty")
        else:
            fault = validator(parsed.objects[0])
            if fault is None:
                fits.append(i)
            else:
                failing[i] = fault
    return _Checked(fits, failing, inside.count(False))


def staged(workspace: str, ds: DataSource, table: pa.Table, rows: Sequence[int], digest: str) -> bytes:
    """The rows as one raw-framed object: a record per row, with the row's ingestion time and import id."""
    lines = table.column(LINE).to_pylist()
    ids = table.column(IMPORT_ID).to_pylist()
    seconds = _seconds(table)
    parts: list[bytes] = []
    for i in rows:
        header = RecordHeader(
            ds.name, workspace, False, ids[i], seconds[i] * 1000, ds.version, record_id=f"replay:{digest}:{i}"
        )
        parts += [r.data for r in frame_rows(header, [lines[i].encode()])]
    return b"".join(parts)


def staged_rows(blob: bytes) -> list[int]:
    """The quarantine rows a staged object holds, from its record ids (`replay:<digest>:<row>/0`)."""
    return [int(r.record_id.rsplit(":", 1)[1].split("/", 1)[0]) for r in read_raw(blob)]


def rest_of(table: pa.Table, landed: Sequence[int], failing: dict[int, tuple[str, str]]) -> pa.Table | None:
    """The quarantine file without the rows that landed, each row still failing with its new error."""
    gone = set(landed)
    keep = [i for i in range(table.num_rows) if i not in gone]
    if not keep:
        return None
    rest = table.take(pa.array(keep, type=pa.int64()))
    columns = rest.column(ERROR_COLUMN).to_pylist()
    errors = rest.column(ERROR).to_pylist()
    for j, i in enumerate(keep):
        if i in failing:
            columns[j], errors[j] = [failing[i][0]], [failing[i][1]]
    for name, values in ((ERROR_COLUMN, columns), (ERROR, errors)):
        at = rest.schema.get_field_index(name)
        rest = rest.set_column(at, rest.schema.field(at), pa.array(values, type=rest.schema.field(at).type))
    return rest


@dataclass
class Replay:
    """A replay of one data source's quarantine (see the module's docstring)."""

    store: ReplayStore
    lander: Lander
    workspace: str
    ds: DataSource
    progress: Callable[[int, int], None] = lambda done, total: None

    def files(self, since: datetime | None = None, until: datetime | None = None) -> list[str]:
        """The quarantine's Parquet files that may hold rows ingested in [since, until)."""
        prefix = folder(self.workspace, quarantine_name(self.ds.name))
        found = []
        for key in self.store.keys(prefix):
            if not key.endswith(".parquet"):
                continue
            span = hour_span(key, prefix)
            if span is not None and (
                (since is not None and span[1] <= since) or (until is not None and span[0] >= until)
            ):
                continue
            found.append(key)
        return found

    def run(
        self, since: datetime | None = None, until: datetime | None = None, dry: bool = False
    ) -> Replayed:
        keys = self.files(since, until)
        done = Replayed()
        digests: dict[str, str] = {}
        for n, key in enumerate(keys):
            self.progress(n, len(keys))
            blob = self.store.get(key)
            digests[quarantine_file_id(key)] = digest = hashlib.sha256(blob).hexdigest()[:24]
            self._one(key, blob, digest, since, until, dry, done)
        self.progress(len(keys), len(keys))
        if not dry:
            self._clean(digests)
        return done

    def _one(
        self,
        key: str,
        blob: bytes,
        digest: str,
        since: datetime | None,
        until: datetime | None,
        dry: bool,
        done: Replayed,
    ) -> None:
        table = pq.read_table(io.BytesIO(blob))
        checked = check_again(self.ds, table, since, until)
        done.files += 1
        done.skipped += checked.outside
        stage = replay_key(self.workspace, self.ds.name, key, digest)
        resumed = self.store.keys(stage)
        rows = staged_rows(self.store.get(stage)) if stage in resumed else checked.fits
        failing = {i: why for i, why in checked.failing.items() if i not in rows}
        done.still_failing += len(failing)
        if dry:
            done.replayed += len(rows)
            return
        if rows:
            if stage not in resumed:
                self.store.put(
                    stage, staged(self.workspace, self.ds, table, rows, digest), STAGED_CONTENT_TYPE
                )
            outcome = self.lander.process(stage)
            done.replayed += outcome.rows
            done.still_failing += outcome.quarantined_rows
            done.skipped += outcome.duplicate_rows
        if rows or failing:
            rest = rest_of(table, rows, failing)
            if rest is None:
                self.store.delete(key)
            else:
                self.store.put(key, to_parquet(rest), PARQUET_CONTENT_TYPE)
            done.rewritten += 1
        if rows:
            self.store.delete(stage)

    def _clean(self, digests: dict[str, str]) -> None:
        """Staged objects left by a replay that died after its rewrite: their file is gone or changed."""
        known = {quarantine_file_id(k) for k in self.files()}
        for stage in self.store.keys(replay_prefix(self.workspace, self.ds.name)):
            which, digest = replay_source(stage)
            if which not in known or digests.get(which, digest) != digest:
                self.store.delete(stage)
