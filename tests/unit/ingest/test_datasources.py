"""The Data Sources API use case on an in-memory registry: define, list, show, analyze, and each refusal."""

from __future__ import annotations

import gzip

import orjson
import pytest

from lakegate.config import Limits
from lakegate.definitions import parse_schema
from lakegate.errors import Conflict, Forbidden, InvalidRequest, NameTaken, NotFound
from lakegate.ingest.auth import Token
from lakegate.ingest.datasources import DataSources, body_params, defined, describe, schema_text
from lakegate.memory import MemoryRegistry
from lakegate.schema import ID_RE, Column, DataSource

SCHEMA = "`timestamp` DateTime `json:$.timestamp`, `action` LowCardinality(String) `json:$.action` DEFAULT 'view', `tags` Array(String) `json:$.tags[:]`"
PARAMS = {
    "name": "events",
    "schema": SCHEMA,
    "engine_sorting_key": "action, timestamp",
    "engine_partition_key": "toYYYYMM(timestamp)",
    "engine_ttl": "timestamp + toIntervalDay(60)",
}


def token(*scopes: str, workspace: str = "ws1") -> Token:
    return Token("h", workspace, "default", frozenset(scopes))


ADMIN = token("ADMIN")
CREATE = token("DATASOURCE:CREATE")
APPEND = token("DATASOURCE:APPEND")


def api(registry: MemoryRegistry | None = None) -> DataSources:
    return DataSources(registry or MemoryRegistry(), Limits(max_columns=10))


# --- define ---------------------------------------------------------------------------------------


def test_a_definition_is_stored_with_its_engine_settings() -> None:
    registry = MemoryRegistry()

    ds, created = api(registry).create(CREATE, PARAMS)

    assert created
    assert registry.get("ws1", "events") == ds
    assert ds.columns == (
        Column("timestamp", "DateTime", "$.timestamp"),
        Column("action", "String", "$.action", "'view'"),
        Column("tags", "Array(String)", "$.tags[:]"),
    )
    assert (ds.sorting_key, ds.partition_key, ds.ttl) == (
        ("action", "timestamp"),
        "toYYYYMM(timestamp)",
        "timestamp + toIntervalDay(60)",
    )


def test_the_same_definition_again_is_not_an_error_another_one_is_a_conflict() -> None:
    registry = MemoryRegistry()
    first, _ = api(registry).create(ADMIN, PARAMS)

    again, created = api(registry).create(ADMIN, dict(PARAMS))
    assert (again, created) == (first, False)

    with pytest.raises(Conflict, match="'events' already exists with another schema"):
        api(registry).create(ADMIN, {"name": "events", "schema": "`x` String"})
    assert registry.get("ws1", "events") == first


def test_workspaces_do_not_share_names() -> None:
    registry = MemoryRegistry()
    api(registry).create(CREATE, PARAMS)
    _, created = api(registry).create(
        token("ADMIN", workspace="ws2"), {"name": "events", "schema": "`x` String"}
    )
    assert created


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"name": "events"}, "The 'schema' parameter is required"),
        ({"schema": SCHEMA}, "The 'name' parameter is required"),
        ({"name": "1bad", "schema": SCHEMA}, "Invalid Data Source name '1bad'"),
        ({"name": "e", "schema": "`a` Strin"}, "on column 'a'"),
        ({"name": "e", "schema": SCHEMA, "engine_sorting_key": "action, nope"}, "does not have: nope"),
        ({"name": "e", "schema": SCHEMA, "engine_ttl": "timestamp + 60"}, "Unsupported engine_ttl"),
        (
            {"name": "e", "schema": SCHEMA, "engine_ttl": "action + toIntervalDay(1)"},
            "not a Date or DateTime",
        ),
        ({"name": "e", "schema": SCHEMA, "mode": "append"}, "mode 'append' is not supported here"),
        ({"name": "e", "schema": SCHEMA, "dedup_key": "ref"}, "Invalid jsonpath 'ref'"),
        ({"name": "e", "schema": SCHEMA, "dedup_key": "$.tags[:]"}, "not an array"),
        ({"name": "e", "schema": SCHEMA, "dedup_window_seconds": "-1"}, "Invalid dedup_window_seconds"),
        ({"name": "e", "schema": SCHEMA, "dedup_window_seconds": "soon"}, "Invalid dedup_window_seconds"),
        ({"name": "e", "schema": SCHEMA, "exactly_once": "yes"}, "Invalid exactly_once 'yes': true or false"),
        (
            {"name": "e", "schema": SCHEMA, "schema_evolution": "add"},
            "Invalid schema_evolution 'add': true or false",
        ),
    ],
)
def test_a_definition_that_could_not_land_is_a_400(params: dict[str, str], message: str) -> None:
    registry = MemoryRegistry()
    with pytest.raises(InvalidRequest, match=message):
        api(registry).create(ADMIN, params)
    assert registry.items == {}


def test_dedup_settings_are_lakegate_extensions_of_the_definition() -> None:
    ds = defined(PARAMS | {"dedup_key": "$.id", "dedup_window_seconds": "3600"})
    assert (ds.dedup_key, ds.dedup_window_seconds, ds.exactly_once) == ("$.id", 3600, False)
    assert describe(ds)["exactly_once"] is True  # keyed rows always land once


@pytest.mark.parametrize(("text", "flag"), [("true", True), ("1", True), ("false", False), ("", False)])
def test_exactly_once_is_a_lakegate_extension_stored_with_the_definition(text: str, flag: bool) -> None:
    registry = MemoryRegistry()
    ds, _ = api(registry).create(ADMIN, PARAMS | {"exactly_once": text})
    assert ds.exactly_once is flag
    assert describe(ds)["exactly_once"] is flag
    assert DataSource.from_dict(orjson.loads(orjson.dumps(ds.to_dict()))) == ds


@pytest.mark.parametrize(("text", "flag"), [("true", True), ("1", True), ("false", False), ("", False)])
def test_a_defined_schema_is_kept_unless_its_definition_opts_in_to_evolution(text: str, flag: bool) -> None:
    registry = MemoryRegistry()
    ds, _ = api(registry).create(ADMIN, PARAMS | {"schema_evolution": text})
    assert ds.schema_evolution is flag
    assert describe(ds)["schema_evolution"] is flag
    assert DataSource.from_dict(orjson.loads(orjson.dumps(ds.to_dict()))) == ds
    if flag:  # sent again without the flag: the same definition (see the next test), still evolving
        assert api(registry).create(ADMIN, PARAMS) == (ds, False)
    else:  # a kept schema asked to evolve is another definition
        with pytest.raises(Conflict):
            api(registry).create(ADMIN, PARAMS | {"schema_evolution": "true"})


def test_a_definition_stored_before_the_flag_keeps_evolving_and_its_resend_is_a_retry() -> None:
    registry = MemoryRegistry()
    legacy = {k: v for k, v in defined(PARAMS).to_dict().items() if k != "schema_evolution"}
    stored = registry.create("ws1", DataSource.from_dict(legacy))
    assert stored.schema_evolution is True
    assert api(registry).create(ADMIN, PARAMS) == (stored, False)


@pytest.mark.parametrize("who", [APPEND, token("DATASOURCE:APPEND:events"), token()])
def test_only_admin_or_create_tokens_manage_data_sources(who: Token) -> None:
    registry = MemoryRegistry()
    with pytest.raises(Forbidden, match="DATASOURCE:CREATE"):
        api(registry).create(who, PARAMS)
    with pytest.raises(Forbidden):
        api(registry).list(who)
    with pytest.raises(Forbidden):
        api(registry).show(who, "events")
    assert registry.items == {}


# --- list and show ----------------------------------------------------------------------------------


def test_list_and_show_the_workspaces_data_sources() -> None:
    registry = MemoryRegistry()
    api(registry).create(ADMIN, PARAMS | {"name": "zeta"})
    api(registry).create(ADMIN, PARAMS)
    api(registry).create(token("ADMIN", workspace="ws2"), PARAMS | {"name": "other"})

    assert [ds.name for ds in api(registry).list(CREATE)] == ["events", "zeta"]
    assert api(registry).show(CREATE, "zeta").name == "zeta"
    with pytest.raises(NotFound, match="Data Source 'other' not found"):
        api(registry).show(CREATE, "other")
    with pytest.raises(InvalidRequest):
        api(registry).show(CREATE, "bad-name")


def test_describe_speaks_tinybirds_terms_and_its_schema_round_trips() -> None:
    ds, _ = api().create(ADMIN, PARAMS)

    shown = describe(ds)

    assert shown["name"] == "events" and shown["type"] == "ndjson"
    assert shown["engine"] == {
        "engine": "MergeTree",
        "engine_sorting_key": "action, timestamp",
        "engine_partition_key": "toYYYYMM(timestamp)",
        "engine_ttl": "timestamp + toIntervalDay(60)",
    }
    assert shown["columns"][1] == {
        "name": "action",
        "type": "String",
        "jsonpath": "$.action",
        "default_value": "'view'",
        "nullable": False,
    }
    assert shown["quarantine"] == "events_quarantine"
    assert parse_schema(schema_text(ds)) == ds.columns
    assert orjson.loads(orjson.dumps(shown)) == shown


# --- analyze -----------------------------------------------------------------------------------------


def test_analyze_new_rows_shows_the_inferred_schema_and_writes_nothing() -> None:
    registry = MemoryRegistry()
    body = b'{"a": 1, "b": {"c": "x"}}\n{"a": 2}\nnot json\n'

    answer = api(registry).analyze(CREATE, "fresh", body)

    assert registry.items == {}
    assert answer["analysis"]["columns"] == [
        {"name": "a", "recommended_type": "Int64", "path": "$.a", "present_pct": 1.0},
        {"name": "b_c", "recommended_type": "Nullable(String)", "path": "$.b.c", "present_pct": 0.5},
    ]
    assert answer["analysis"]["schema"] == "`a` Int64 `json:$.a`, `b_c` Nullable(String) `json:$.b.c`"
    assert answer["datasource"]["exists"] is False
    assert (answer["rows"], answer["successful_rows"], answer["quarantined_rows"]) == (3, 2, 1)
    assert answer["quarantine"] == [
        {"line": "not json", "column": "", "error": answer["quarantine"][0]["error"], "truncated": False}
    ]


def test_analyze_against_an_existing_data_source_shows_what_would_be_quarantined() -> None:
    registry = MemoryRegistry()
    api(registry).create(ADMIN, {"name": "typed", "schema": "`n` Int8 `json:$.n`"})

    answer = api(registry).analyze(APPEND, "typed", b'{"n": 1}\n{"n": 300}\n{"m": 1}')

    assert answer["datasource"]["exists"] is True
    assert (answer["successful_rows"], answer["quarantined_rows"]) == (1, 2)
    assert [(q["line"], q["column"]) for q in answer["quarantine"]] == [
        ('{"n": 300}', "n"),
        ('{"m": 1}', "n"),
    ]
    assert registry.get("ws1", "typed") is not None and registry.get("ws1", "typed").version == 1  # type: ignore[union-attr]


def test_analyze_shows_at_most_a_hundred_quarantined_rows_but_counts_all() -> None:
    answer = api().analyze(CREATE, None, b"\n".join([b'{"a": 1}', *[b"[]"] * 150]))
    assert (answer["quarantined_rows"], len(answer["quarantine"])) == (150, 100)


@pytest.mark.parametrize(
    ("who", "name"),
    [(APPEND, "fresh"), (token("DATASOURCE:APPEND:other"), "typed"), (token(), None)],
)
def test_analyze_needs_the_scope_the_events_api_would(who: Token, name: str | None) -> None:
    registry = MemoryRegistry()
    registry.create("ws1", DataSource("typed", (Column("n", "Int8", "$.n"),)))
    with pytest.raises(Forbidden):
        api(registry).analyze(who, name, b'{"n": 1}')


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"", "no rows"), (b"\n\n", "no rows"), (b"[]\n1", "No line of the body is a JSON object")],
)
def test_analyze_refuses_a_body_with_nothing_to_analyze(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        api().analyze(ADMIN, None, body)


# --- parameters in the body ----------------------------------------------------------------------------


def test_body_params_from_a_form_or_json() -> None:
    form = b"name=events&schema=%60a%60+String+%60json%3A%24.a%60&engine_ttl="
    assert body_params(form, "application/x-www-form-urlencoded; charset=utf-8") == {
        "name": "events",
        "schema": "`a` String `json:$.a`",
        "engine_ttl": "",
    }
    assert body_params(b'{"name": "e", "dedup_window_seconds": 60}', "application/json") == {
        "name": "e",
        "dedup_window_seconds": "60",
    }
    assert body_params(b"", "application/json") == {}


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        (b"{", "application/json", "not valid JSON"),
        (b"[1]", "application/json", "must be an object"),
        (gzip.compress(b"x"), "application/octet-stream", "Unsupported Content-Type"),
        (b"\xff=1", "", "not UTF-8"),
    ],
)
def test_body_params_refuses_what_it_cannot_read(raw: bytes, content_type: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        body_params(raw, content_type)


# --- ids and names that cannot alias --------------------------------------------------------------------


def test_a_defined_data_source_gets_a_stored_id_shown_and_accepted_by_show() -> None:
    registry = MemoryRegistry()
    ds, _ = api(registry).create(CREATE, PARAMS)

    assert ID_RE.fullmatch(ds.id)
    assert describe(ds)["id"] == ds.id
    assert api(registry).show(CREATE, ds.id) == ds
    again, created = api(registry).create(CREATE, PARAMS)  # a retry keeps the first id
    assert not created and again.id == ds.id


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("events_quarantine", "is reserved"),
        ("Events_Quarantine", "is reserved"),
        ("t_" + "0" * 32, "is shaped like a Data Source id"),
    ],
)
def test_a_definition_under_a_reserved_name_is_a_400_and_stores_nothing(name: str, message: str) -> None:
    registry = MemoryRegistry()
    with pytest.raises(InvalidRequest) as e:
        api(registry).create(ADMIN, PARAMS | {"name": name})
    assert message in e.value.message
    assert registry.items == {}


def test_a_definition_whose_name_differs_only_in_case_is_a_400_naming_the_existing_one() -> None:
    registry = MemoryRegistry()
    api(registry).create(ADMIN, PARAMS)

    with pytest.raises(NameTaken) as e:
        api(registry).create(ADMIN, PARAMS | {"name": "EVENTS"})

    assert e.value.existing == "events"
    assert list(registry.items) == [("ws1", "events")]


class EvolvingRegistry(MemoryRegistry):
    """The compactor adds a column to the data source just before each of the first `races` alters is stored."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def evolve(self, workspace: str, ds: DataSource) -> DataSource:
        if self.races:
            self.races -= 1
            current = self.items[(workspace, ds.name)]
            extra = Column(f"new{self.races}", "Nullable(String)", f"$.new{self.races}")
            super().evolve(workspace, DataSource(ds.name, (*current.columns, extra), current.version + 1))
        return super().evolve(workspace, ds)


def test_an_alter_that_loses_the_race_to_the_compactor_is_checked_again_against_the_winner() -> None:
    registry = EvolvingRegistry(races=1)
    registry.create("ws1", DataSource("orders", (Column("qty", "Int32", "$.qty"),)))
    datasources = api(registry)

    # The alter's schema does not restate the column the compactor added meanwhile: it would drop it
    with pytest.raises(InvalidRequest, match="drops or renames column 'new0'"):
        datasources.alter(token("ADMIN"), "orders", {"schema": "`qty` Int64 `json:$.qty`"})
    # Restating it, the alter is stored over the compactor's version
    schema = "`qty` Int64 `json:$.qty`, `new0` Nullable(String) `json:$.new0`"
    stored = datasources.alter(token("ADMIN"), "orders", {"schema": schema})
    assert (stored.version, [c.type for c in stored.columns]) == (3, ["Int64", "Nullable(String)"])


def test_an_alter_that_keeps_losing_is_a_409() -> None:
    registry = EvolvingRegistry(races=10)
    registry.create("ws1", DataSource("orders", (Column("qty", "Int32", "$.qty"),)))
    schema = ", ".join(
        ["`qty` Int64 `json:$.qty`"]
        + [f"`new{i}` Nullable(String) `json:$.new{i}`" for i in range(9, -1, -1)]
    )

    with pytest.raises(Conflict, match="kept changing while it was altered"):
        api(registry).alter(token("ADMIN"), "orders", {"schema": schema})
