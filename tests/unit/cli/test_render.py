"""Formatting: tokens never shown in full, schemas as Tinybird `.datasource` lines."""

from __future__ import annotations

from datetime import UTC, datetime

from lakegate.ingest.auth import Token, hash_token
from lakegate.lake.catalog import table_name
from lakegate.schema import Column, DataSource, legacy_id
from lakegate_cli.admin import Quarantined, Registered
from lakegate_cli.render import datasource_detail, quarantine_rows, schema_lines, table, token_rows


def test_table_pads_columns_to_the_widest_cell() -> None:
    assert table(["A", "BB"], [["xyz", "1"], ["q", "22"]]).splitlines() == ["A    BB", "xyz  1", "q    22"]


def test_token_listing_shows_a_short_id_never_the_hash_or_token() -> None:
    plain = "secret-plain-token"
    token = Token(
        hash_token(plain), "ws1", "default", frozenset({"ADMIN"}), name="ops", expires_at=0.0, revoked=True
    )
    out = token_rows([token], now=100.0)
    assert hash_token(plain)[:12] in out
    assert hash_token(plain) not in out
    assert plain not in out
    assert "1970-01-01T00:00:00Z (expired)" in out
    assert out.splitlines()[1].endswith("yes")


def test_schema_lines_are_tinybird_datasource_syntax() -> None:
    ds = DataSource(
        name="events_test",
        columns=(Column("date", "DateTime", "$.date"), Column("city", "Nullable(String)", "$.city")),
        sorting_key=("date",),
    )
    assert schema_lines(ds) == [
        "SCHEMA >",
        "    `date` DateTime `json:$.date`,\n    `city` Nullable(String) `json:$.city`",
        "",
        'ENGINE_SORTING_KEY "date"',
    ]


def test_detail_names_workspace_version_and_dedup_key() -> None:
    ds = DataSource(name="e", columns=(Column("ref", "String", "$.ref"),), version=3)
    out = datasource_detail(Registered("ws1", ds, None))
    assert out.splitlines()[:2] == [
        f"# e ({legacy_id('e')}): workspace ws1, schema version 3",
        "# dedup key $.ref (at ingest with wait=true, else at landing), window for ever",
    ]
    assert "`ref` String `json:$.ref`" in out
    ws = table_name("ws1", "e")[: -len("_e")]
    assert (
        f"# lake datasources/ws1/e/ (and e_quarantine/ beside it); Glue tables {ws}_e, {ws}_e_quarantine"
        in out
    )
    stored = DataSource(name="e", columns=ds.columns, id="t_" + "a" * 32)
    assert datasource_detail(Registered("ws1", stored, None)).startswith(f"# e (t_{'a' * 32}): workspace")


def test_quarantine_rows() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    out = quarantine_rows([Quarantined("ws1", "events", 2, 300, when)])
    assert out.splitlines()[1].split() == ["events_quarantine", "ws1", "2", "300", "2026-01-02T03:04:05Z"]
