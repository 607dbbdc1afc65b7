"""What the CLI prints: aligned tables and Tinybird-style schema lines. Pure, no AWS."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from lakegate.definitions import column_definition
from lakegate.ingest.auth import Token
from lakegate.lake.catalog import table_name
from lakegate.lake.layout import folder, quarantine_name
from lakegate.schema import DataSource
from lakegate_cli.admin import Quarantined, Registered, token_id


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart; the last column is not padded."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]
    ]
    return "\n".join(lines)


def when(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_rows(tokens: Sequence[Token], now: float) -> str:
    """No plain token and no full hash: the id is the first characters of the hash."""
    rows = [
        [
            token_id(t),
            t.name or "-",
            t.workspace_id,
            t.cluster,
            ",".join(sorted(t.scopes)),
            when(t.expires_at) + (" (expired)" if t.expires_at is not None and t.expires_at <= now else ""),
            "yes" if t.revoked else "no",
        ]
        for t in sorted(tokens, key=lambda t: (t.workspace_id, t.name, t.token_hash))
    ]
    return table(["ID", "NAME", "WORKSPACE", "CLUSTER", "SCOPES", "EXPIRES", "REVOKED"], rows)


def datasource_rows(found: Sequence[Registered]) -> str:
    rows = [
        [
            r.source.name,
            r.source.ident,
            r.workspace,
            str(len(r.source.columns)),
            str(r.source.version),
            when(r.created_at),
        ]
        for r in found
    ]
    return table(["NAME", "ID", "WORKSPACE", "COLUMNS", "VERSION", "CREATED"], rows)


def _quoted(value: str) -> str:
    return '"{}"'.format(value.replace("\\", "\\\\").replace('"', '\\"'))


def schema_lines(ds: DataSource) -> list[str]:
    """The schema as a Tinybird `.datasource` file writes it: `` `col` Type `json:$.path` ``."""
    lines = ["SCHEMA >", ",\n".join(f"    {column_definition(c)}" for c in ds.columns)]
    engine = [
        ("ENGINE_SORTING_KEY", ", ".join(ds.sorting_key)),
        ("ENGINE_PARTITION_KEY", ds.partition_key),
        ("ENGINE_TTL", ds.ttl),
    ]
    settings = [f"{key} {_quoted(value)}" for key, value in engine if value]
    return [*lines, *(["", *settings] if settings else [])]


def datasource_detail(found: Registered) -> str:
    ds = found.source
    notes = [f"# {ds.name} ({ds.ident}): workspace {found.workspace}, schema version {ds.version}"]
    if ds.effective_dedup_key:
        window = f"{ds.dedup_window_seconds} s" if ds.dedup_window_seconds else "for ever"
        notes.append(
            f"# dedup key {ds.effective_dedup_key} (at ingest with wait=true, else at landing), window {window}"
        )
    if ds.rate_limit:
        notes.append(f"# rate limit {ds.rate_limit} requests/s")
    quarantine = quarantine_name(ds.name)
    notes.append(
        f"# lake {folder(found.workspace, ds.name)} (and {quarantine}/ beside it); Glue tables "
        f"{table_name(found.workspace, ds.name)}, {table_name(found.workspace, quarantine)}"
    )
    return "\n".join([*notes, *schema_lines(ds)])


def quarantine_rows(summary: Sequence[Quarantined]) -> str:
    rows = [
        [
            quarantine_name(q.datasource),
            q.workspace,
            str(q.objects),
            str(q.size),
            q.latest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if q.latest else "-",
        ]
        for q in summary
    ]
    return table(["QUARANTINE", "WORKSPACE", "OBJECTS", "BYTES", "LATEST"], rows)
