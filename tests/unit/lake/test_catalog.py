"""Glue table definitions derived from the registry: types, partition projection, quarantine tables."""

from __future__ import annotations

import gzip
import re
from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakegate.column_types import parse_type
from lakegate.errors import StoreUnavailable
from lakegate.framing import RecordHeader, frame_rows
from lakegate.lake.catalog import VERSION_PARAMETER, glue_type, table_input, table_name
from lakegate.lake.compactor import Compactor
from lakegate.lake.layout import quarantine_name
from lakegate.memory import MemoryObjectStore, MemoryRegistry
from lakegate.schema import NAME_RE, Column, DataSource

EVENTS = DataSource(
    "Events",
    (
        Column("date", "DateTime", "$.date"),
        Column("city", "String", "$.city"),
        Column("n", "Nullable(UInt64)", "$.n"),
    ),
    version=3,
)


@pytest.mark.parametrize(
    ("tinybird", "glue"),
    [
        ("String", "string"),
        ("Int8", "tinyint"),
        ("Int16", "smallint"),
        ("Int32", "int"),
        ("Int64", "bigint"),
        ("UInt8", "smallint"),
        ("UInt16", "int"),
        ("UInt32", "bigint"),
        ("UInt64", "decimal(20,0)"),
        ("Float32", "float"),
        ("Float64", "double"),
        ("Bool", "boolean"),
        ("Date", "date"),
        ("DateTime", "timestamp"),
        ("DateTime64(3)", "timestamp"),
        ("Nullable(Int32)", "int"),
        ("Array(String)", "array<string>"),
    ],
)
def test_glue_type_of_each_tinybird_type(tinybird: str, glue: str) -> None:
    assert glue_type(parse_type(tinybird)) == glue


def test_a_data_source_table_projects_its_ingestion_partitions() -> None:
    table = table_input("ws1", EVENTS, "lake")
    assert table["Name"] == table_name("ws1", "Events")
    assert table["Name"] == f"ws1_{sha256(b'ws1').hexdigest()[:10]}_events"  # Glue keeps names in lower case
    assert table["TableType"] == "EXTERNAL_TABLE"
    sd = table["StorageDescriptor"]
    assert sd["Location"] == "s3://lake/datasources/ws1/Events/"
    assert sd["Columns"] == [
        {"Name": "date", "Type": "timestamp"},
        {"Name": "city", "Type": "string"},
        {"Name": "n", "Type": "decimal(20,0)"},
    ]
    assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    # The data source's own `date` column and the `date=` folders do not clash: the partition column is renamed.
    assert table["PartitionKeys"] == [
        {"Name": "ingestion_date", "Type": "string"},
        {"Name": "ingestion_hour", "Type": "string"},
    ]
    p = table["Parameters"]
    assert p["storage.location.template"] == (
        "s3://lake/datasources/ws1/Events/date=${ingestion_date}/hour=${ingestion_hour}"
    )
    assert p["projection.enabled"] == "true"
    assert (p["projection.ingestion_date.type"], p["projection.ingestion_date.format"]) == (
        "date",
        "yyyy-MM-dd",
    )
    assert p["projection.ingestion_date.range"] == "2000-01-01,NOW"  # when no start is given
    assert (p["projection.ingestion_hour.type"], p["projection.ingestion_hour.range"]) == ("integer", "0,23")
    assert p["projection.ingestion_hour.digits"] == "2"
    assert p[VERSION_PARAMETER] == "3"


def test_ingestion_dates_are_projected_from_the_deployments_first_day() -> None:
    for quarantine in (False, True):
        p = table_input("ws1", EVENTS, "lake", quarantine, projection_start="2026-12-01")["Parameters"]
        assert p["projection.ingestion_date.range"] == "2026-12-01,NOW"


def test_the_quarantine_table_holds_text_and_the_error_columns() -> None:
    table = table_input("ws1", EVENTS, "lake", quarantine=True)
    assert table["Name"] == table_name("ws1", "Events_quarantine")
    assert table["Name"].endswith("_events_quarantine")
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("date", "string"),
        ("city", "string"),
        ("n", "string"),
        ("c__line", "string"),
        ("c__error_column", "array<string>"),
        ("c__error", "array<string>"),
        ("c__import_id", "string"),
        ("insertion_date", "timestamp"),
    ]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["ingestion_date", "ingestion_hour"]


@pytest.mark.parametrize(
    ("key", "folder", "column", "fmt"),
    [
        ("date", "day", "partition_day", "yyyy-MM-dd"),
        ("toYYYYMM(date)", "month", "partition_month", "yyyyMM"),
        ("toYear(date)", "year", "partition_year", "yyyy"),
    ],
)
def test_a_table_partitioned_by_its_own_date_column(key: str, folder: str, column: str, fmt: str) -> None:
    ds = DataSource("e", EVENTS.columns, partition_key=key)
    table = table_input("ws1", ds, "lake")
    assert table["PartitionKeys"] == [{"Name": column, "Type": "string"}]
    assert (
        table["Parameters"]["storage.location.template"]
        == f"s3://lake/datasources/ws1/e/{folder}=${{{column}}}"
    )
    assert table["Parameters"][f"projection.{column}.format"] == fmt
    # Its own dates may be older than the deployment or in the future: the whole DateTime range is projected,
    # a day beyond each end for a zone's local date, whatever the start.
    started = table_input("ws1", ds, "lake", projection_start="2026-12-01")["Parameters"]
    first, last = {
        "day": ("1969-12-31", "2106-02-08"),
        "month": ("196912", "210602"),
        "year": ("1969", "2106"),
    }[folder]
    assert started[f"projection.{column}.range"] == f"{first},{last}"
    # Its quarantine still lands by ingestion time.
    assert [k["Name"] for k in table_input("ws1", ds, "lake", True)["PartitionKeys"]] == [
        "ingestion_date",
        "ingestion_hour",
    ]


class RecordingCatalog:
    def __init__(self, fail: bool = False) -> None:
        self.synced: list[tuple[str, DataSource]] = []
        self.fail = fail

    def sync(self, workspace: str, ds: DataSource) -> None:
        if self.fail:
            raise StoreUnavailable("catalog update failed: ThrottlingException")
        self.synced.append((workspace, ds))


def _store() -> MemoryObjectStore:
    header = RecordHeader("Events", "ws1", False, "r", 1_700_000_000_000, 3)
    blob = b"".join(r.data for r in frame_rows(header, [b'{"date":0,"city":"x"}', b"[]"]))
    return MemoryObjectStore({"raw/k": gzip.compress(blob)})


def test_the_compactor_syncs_each_landed_data_source_once() -> None:
    registry, catalog = MemoryRegistry(), RecordingCatalog()
    registry.create("ws1", EVENTS)
    outcome = Compactor(_store(), registry, catalog).process("raw/k")
    assert catalog.synced == [("ws1", EVENTS)]
    assert outcome.catalog_error == ""


def test_a_catalog_outage_never_holds_rows_back() -> None:
    registry, store = MemoryRegistry(), _store()
    registry.create("ws1", EVENTS)
    outcome = Compactor(store, registry, RecordingCatalog(fail=True)).process("raw/k")
    assert outcome.rows == 1 and set(outcome.files) <= set(store.objects)
    assert outcome.catalog_error == "ws1/Events: catalog update failed: ThrottlingException"


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["main", "Main", "MAIN", "a/b", "a_b", "a.b", "", "w1", "1", "_x", "ü" * 40])
            | st.text(min_size=0, max_size=80),
            st.from_regex(NAME_RE, fullmatch=True),
        ),
        min_size=2,
        max_size=6,
        unique_by=lambda p: (p[0], p[1].lower()),
    ),
    st.booleans(),
)
def test_table_names_never_collide_and_fit_glue(pairs: list[tuple[str, str]], quarantine: bool) -> None:
    """Distinct (workspace, name) pairs (names unique case-insensitively within a workspace, as the
    registry keeps them) get distinct Glue names, lowercase `a-z0-9_`, starting with a letter, <= 255."""
    names = [table_name(ws, quarantine_name(n) if quarantine else n) for ws, n in pairs]
    assert len(set(names)) == len(names)
    for t in names:
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,254}", t), t


def test_the_longest_names_are_cut_to_glues_limit_and_stay_apart() -> None:
    long = "a" * 255
    other = "a" * 254 + "b"
    names = {table_name("w" * 80, quarantine_name(n)) for n in (long, other)} | {table_name("w" * 80, long)}
    assert len(names) == 3 and all(len(n) == 255 for n in names)


def test_each_workspace_gets_its_own_tables_over_its_own_folder() -> None:
    a, b = table_input("a", EVENTS, "lake"), table_input("A", EVENTS, "lake")
    assert a["Name"] != b["Name"]
    assert a["StorageDescriptor"]["Location"] == "s3://lake/datasources/a/Events/"
    assert b["StorageDescriptor"]["Location"] == "s3://lake/datasources/A/Events/"
    odd = table_input("acme/prod=1", EVENTS, "lake", quarantine=True)
    assert odd["StorageDescriptor"]["Location"] == "s3://lake/datasources/acme%2Fprod%3D1/Events_quarantine/"
    assert odd["Name"].startswith("acme_prod_1_")
