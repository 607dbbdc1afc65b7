"""`lakegate quarantine replay <name>`: the replay of lakegate.lake.replay wired to the target's bucket and
tables, with the compactor landing the rows as it lands Firehose's objects (record claims, ref dedup)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from lakegate.aws.refs import DynamoRefStore
from lakegate.aws.registry import DynamoRegistry
from lakegate.aws.s3 import S3ObjectStore
from lakegate.lake.compactor import Compactor
from lakegate.lake.replay import Replay, Replayed
from lakegate.schema import DataSource
from lakegate_cli.errors import CliError
from lakegate_cli.target import Connection

_BAR = 30


def parse_time(text: str | None, flag: str) -> datetime | None:
    """`2026-12-01`, `2026-12-01T10:00`, `2026-12-01 10:00:00Z`, `...+02:00`, or Unix seconds; UTC unless an
    offset says otherwise."""
    if text is None:
        return None
    raw = text.strip()
    try:
        if raw.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(raw), UTC)
        when = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise CliError(
            f"{flag} {text!r} is not a time: YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM] (UTC by default) or Unix seconds"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def window(since_text: str | None, until_text: str | None) -> tuple[datetime | None, datetime | None]:
    """--since and --until, parsed and in order."""
    since, until = parse_time(since_text, "--since"), parse_time(until_text, "--until")
    if since and until and since >= until:
        raise CliError("--since must be before --until")
    return since, until


def progress_bar(stream: TextIO) -> Callable[[int, int], None]:
    """A progress callback drawing a bar on `stream` when it is a terminal (else nothing is drawn)."""
    shown = stream.isatty()

    def draw(done: int, total: int) -> None:
        if not shown or not total:
            return
        filled = _BAR * done // total
        stream.write(f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {done}/{total} quarantine files")
        if done == total:
            stream.write("\n")
        stream.flush()

    return draw


def replay(
    connection: Connection,
    bucket: str,
    datasources_table: str,
    refs_table: str,
    workspace: str,
    ds: DataSource,
    since: datetime | None,
    until: datetime | None,
    dry: bool,
) -> Replayed:
    store = S3ObjectStore(bucket, connection.s3())
    ddb = connection.dynamodb()
    refs = DynamoRefStore(refs_table, ddb)
    # No Glue catalog here (the target names none): the compactor syncs the tables with the next object
    # it lands for the data source.
    lander = Compactor(store, DynamoRegistry(datasources_table, ddb), None, refs, claims=refs)
    return Replay(store, lander, workspace, ds, progress_bar(sys.stderr)).run(since, until, dry)


def summary(name: str, done: Replayed, dry: bool) -> str:
    counts = f"replayed {done.replayed}, still failing {done.still_failing}, skipped {done.skipped}"
    files = f"{done.files} quarantine files read, {done.rewritten} rewritten"
    if dry:
        return f"{name}: dry run, nothing written: would be {counts} ({done.files} quarantine files read)"
    return f"{name}: {counts} ({files})"
