"""Schemas: inference from rows (as Tinybird does), name rules, jsonpaths and the registry form."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from lakegate.column_types import ColumnType
from lakegate.errors import InvalidRequest
from lakegate.ingest.rows import compile_validator
from lakegate.schema import (
    ID_RE,
    Column,
    DataSource,
    JsonPath,
    column_name,
    format_jsonpath,
    infer,
    legacy_id,
    new_id,
    parse_jsonpath,
    validate_name,
    validate_new_name,
)

# The rows of the Events API guide and reference.
SEED_ROWS: list[dict[str, Any]] = [
    {"date": "2020-04-05 00:05:38", "city": "Chicago"},
    {"date": "2020-04-05 00:07:22", "city": "Madrid"},
]
# The compression example row of the Events API guide, verbatim.
FLIGHT_LINE = (
    b'{"timestamp":"2022-10-27T11:43:02.099Z","transaction_id":"8d1e1533-6071-4b10-9cda-b8429c1c7a67",'
    b'"name":"Bobby Drake","email":"bobby.drake@pressure.io","age":42,"passport_number":3847665,'
    b'"flight_from":"Barcelona","flight_to":"London","extra_bags":1,"flight_class":"economy",'
    b'"priority_boarding":false,"meal_choice":"vegetarian","seat_number":"15D","airline":"Red Balloon"}'
)


def _infer(rows: list[dict[str, Any]], max_columns: int = 500, max_depth: int = 32) -> tuple[Column, ...]:
    return infer("events_test", rows, max_columns, max_depth).columns


# --- inference ------------------------------------------------------------------------------------


def test_infer_seed_rows() -> None:
    ds = infer("events_test", SEED_ROWS, 500, 32)
    assert ds == DataSource(
        name="events_test",
        columns=(Column("date", "DateTime", "$.date"), Column("city", "String", "$.city")),
        version=1,
        sorting_key=(),
    )


def test_infer_flight_example_row_of_the_guide() -> None:
    assert _infer([orjson.loads(FLIGHT_LINE)]) == (
        Column("timestamp", "DateTime64(3)", "$.timestamp"),
        Column("transaction_id", "String", "$.transaction_id"),
        Column("name", "String", "$.name"),
        Column("email", "String", "$.email"),
        Column("age", "Int64", "$.age"),
        Column("passport_number", "Int64", "$.passport_number"),
        Column("flight_from", "String", "$.flight_from"),
        Column("flight_to", "String", "$.flight_to"),
        Column("extra_bags", "Int64", "$.extra_bags"),
        Column("flight_class", "String", "$.flight_class"),
        Column("priority_boarding", "Bool", "$.priority_boarding"),
        Column("meal_choice", "String", "$.meal_choice"),
        Column("seat_number", "String", "$.seat_number"),
        Column("airline", "String", "$.airline"),
    )


def test_infer_flattens_nested_objects_with_underscore() -> None:
    rows = [{"user": {"id": 7, "geo": {"city": "Madrid", "lat": 40.4}}, "ok": True}]
    assert _infer(rows) == (
        Column("user_id", "Int64", "$.user.id"),
        Column("user_geo_city", "String", "$.user.geo.city"),
        Column("user_geo_lat", "Float64", "$.user.geo.lat"),
        Column("ok", "Bool", "$.ok"),
    )


@pytest.mark.parametrize(
    ("max_depth", "expected"),
    [
        (1, (Column("a", "String", "$.a"),)),
        (2, (Column("a_b", "String", "$.a.b"),)),
        (3, (Column("a_b_c", "Int64", "$.a.b.c"),)),
    ],
)
def test_infer_stops_flattening_at_max_depth(max_depth: int, expected: tuple[Column, ...]) -> None:
    assert _infer([{"a": {"b": {"c": 1}}}], max_depth=max_depth) == expected


def test_infer_empty_object_is_a_string_column() -> None:
    assert _infer([{"meta": {}}]) == (Column("meta", "String", "$.meta"),)


def test_infer_arrays() -> None:
    rows = [
        {
            "tags": ["x", "y"],
            "ids": [1, 2],
            "scores": [1, 2.5],
            "mixed": [1, "a"],
            "nested": [[1], [2]],
            "objs": [{"a": 1}],
            "holes": [None, 3],
            "stamps": ["2020-04-05 00:05:38"],
        }
    ]
    assert _infer(rows) == (
        Column("tags", "Array(String)", "$.tags[:]"),
        Column("ids", "Array(Int64)", "$.ids[:]"),
        Column("scores", "Array(Float64)", "$.scores[:]"),
        Column("mixed", "Array(String)", "$.mixed[:]"),
        Column("nested", "Array(String)", "$.nested[:]"),
        Column("objs", "Array(String)", "$.objs[:]"),
        Column("holes", "Array(Int64)", "$.holes[:]"),
        Column("stamps", "Array(DateTime)", "$.stamps[:]"),
    )


def test_infer_array_missing_in_some_rows_is_not_nullable() -> None:
    # ClickHouse has no Nullable(Array): a missing array is an empty one.
    assert _infer([{"tags": ["a"]}, {}, {"tags": []}]) == (Column("tags", "Array(String)", "$.tags[:]"),)


def test_infer_nullable_when_missing_or_null() -> None:
    rows: list[dict[str, Any]] = [
        {"a": 1, "b": "x", "c": None},
        {"a": 2, "c": None},
        {"a": 3, "b": None, "c": None},
    ]
    assert _infer(rows) == (
        Column("a", "Int64", "$.a"),
        Column("b", "Nullable(String)", "$.b"),
        Column("c", "Nullable(String)", "$.c"),
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2.5], "Float64"),
        ([2**64 - 1, -1], "Float64"),
        ([1, "a"], "String"),
        ([1, True], "String"),
        (["2020-04-05 00:05:38", "2022-10-27T11:43:02.099Z"], "DateTime64(3)"),
        (["2020-04-05", "2020-04-05 00:05:38"], "String"),
        ([[1], 1], "String"),
    ],
)
def test_infer_widens_mixed_values(values: list[object], expected: str) -> None:
    rows: list[dict[str, Any]] = [{"v": v} for v in values]
    assert _infer(rows) == (Column("v", expected, "$.v"),)


def test_infer_quotes_keys_that_are_not_identifiers() -> None:
    rows = [{"a b": 1, "1st": 2, "x-y": "z", "città": 1.5, "a.b": True}]
    assert _infer(rows) == (
        Column("a_b", "Int64", "$.['a b']"),
        Column("_1st", "Int64", "$.['1st']"),
        Column("x_y", "String", "$.['x-y']"),
        Column("citt_", "Float64", "$.['città']"),
        Column("a_b_", "Bool", "$.['a.b']"),
    )


def test_infer_makes_colliding_column_names_unique() -> None:
    assert _infer([{"a_b": 1, "a": {"b": "x"}, "a-b": 2.5}]) == (
        Column("a_b", "Int64", "$.a_b"),
        Column("a_b_", "String", "$.a.b"),
        Column("a_b__", "Float64", "$.['a-b']"),
    )


def test_infer_column_cap_counts_fields_across_rows() -> None:
    assert len(_infer([{"a": 1}, {"b": 2}], max_columns=2)) == 2
    with pytest.raises(InvalidRequest) as info:
        _infer([{"a": 1}, {"b": 2}, {"c": 3}], max_columns=2)
    assert info.value.message == "Too many columns: the rows have more than 2 distinct fields, the limit"


def test_infer_column_cap_counts_flattened_fields() -> None:
    with pytest.raises(InvalidRequest):
        _infer([{"a": {"b": 1, "c": 2, "d": 3}}], max_columns=2)


def test_infer_rows_without_fields_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest) as info:
        _infer([{}, {}])
    assert info.value.message == (
        "Cannot create Data Source 'events_test': the rows have no fields to infer a schema from"
    )


@pytest.mark.parametrize(
    "rows",
    [
        SEED_ROWS,
        [orjson.loads(FLIGHT_LINE)],
        [{"v": 1}, {"v": 2.5}, {"v": None}, {}],
        [{"v": [1]}, {"v": 1}],
        [{"v": {"w": 1}}, {"v": {}}],
        [{"a b": {"c-d": [1, 2]}}, {"a b": None}],
        pytest.param(
            [{"v": []}, {"v": 1}],
            id="empty-array-then-scalar",
        ),
        pytest.param(
            [{"v": {"w": 1}}, {"v": 2}],
            id="object-then-scalar",
        ),
        pytest.param(
            [{"it's": 1}],
            id="key-with-quote",
        ),
    ],
)
def test_inferred_schema_accepts_every_row_it_was_inferred_from(rows: list[dict[str, Any]]) -> None:
    validate = compile_validator(infer("events_test", rows, 500, 32))
    assert [validate(row) for row in rows] == [None] * len(rows)


# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [None, ""])
def test_validate_name_missing_mentions_the_name_parameter(name: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_name(name)
    assert info.value.message == (
        "The 'name' parameter is required: the name of the Data Source to append to"
    )


@pytest.mark.parametrize("name", ["events_test", "_private", "A1", "x", "a" * 255])
def test_validate_name_accepts_tinybird_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["1events", "events-test", "events test", "évents", "a.b", "a" * 256, "a\n"])
def test_validate_name_rejects_invalid_names(name: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_name(name)
    assert info.value.message == (
        f"Invalid Data Source name '{name}': it must start with a letter or underscore "
        "and contain only letters, numbers and underscores (at most 255 characters)"
    )


def test_validate_name_echoes_at_most_300_characters() -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_name("a" * 10_000)
    assert f"'{'a' * 300}'" in info.value.message
    assert "a" * 301 not in info.value.message


@pytest.mark.parametrize("name", ["x_quarantine", "X_Quarantine", "events_QUARANTINE", "_quarantine"])
def test_quarantine_names_are_reserved_in_any_case(name: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_name(name)
    assert info.value.message.startswith(f"The name '{name}' is reserved: '<name>_quarantine' holds the rows")


def test_quarantine_as_a_word_inside_a_name_is_fine() -> None:
    assert validate_name("quarantine_log") == "quarantine_log"
    assert validate_name("x_quarantined") == "x_quarantined"


@pytest.mark.parametrize("name", ["t_" + "0" * 32, "T_" + "ABCDEF0123456789" * 2, "t_" + "a" * 32])
def test_a_new_name_cannot_be_shaped_like_an_id(name: str) -> None:
    assert validate_name(name) == name  # as `name=`, an id is a fine value
    with pytest.raises(InvalidRequest) as info:
        validate_new_name(name)
    assert "is shaped like a Data Source id" in info.value.message


@pytest.mark.parametrize("name", ["t_" + "0" * 31, "t_" + "g" * 32, "t_" + "0" * 33, "tt_" + "0" * 32])
def test_names_near_the_id_shape_are_new_names(name: str) -> None:
    assert validate_new_name(name) == name


def test_ids_are_tinybirds_shape_random_and_stored_ones_are_kept() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100 and all(ID_RE.fullmatch(i) for i in ids)
    ds = DataSource("e", (Column("a", "String", "$.a"),), id="t_" + "1" * 32)
    assert DataSource.from_dict(ds.to_dict()) == ds
    assert ds.ident == ds.id


def test_a_data_source_stored_before_ids_keeps_the_id_the_api_showed_then() -> None:
    legacy = DataSource.from_dict({"name": "events", "columns": []})
    assert legacy.id == "" and "id" not in legacy.to_dict()
    # what `describe` derived from the name alone
    assert legacy.ident == "t_" + hashlib.sha256(b"events").hexdigest()[:32] == legacy_id("events")


# --- jsonpaths and column names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jsonpath", "steps"),
    [
        ("$.a", JsonPath(("a",), False)),
        ("$.a.b", JsonPath(("a", "b"), False)),
        ("$.tags[:]", JsonPath(("tags",), True)),
        ("$.['a b'].c", JsonPath(("a b", "c"), False)),
        ("$['a b']", JsonPath(("a b",), False)),
        ("$.a.['x-y'][:]", JsonPath(("a", "x-y"), True)),
        ("$.['a.b']", JsonPath(("a.b",), False)),
        ("$.['']", JsonPath(("",), False)),
        # A key that reads like the array step is a key: the field `[:]` of a row gets a column of its own.
        ("$.['[:]']", JsonPath(("[:]",), False)),
        ("$.['[:]'][:]", JsonPath(("[:]",), True)),
    ],
)
def test_parse_jsonpath(jsonpath: str, steps: JsonPath) -> None:
    assert parse_jsonpath(jsonpath) == steps


@pytest.mark.parametrize(
    ("jsonpath", "message"),
    [
        ("a.b", "Invalid jsonpath 'a.b': it must start with '$'"),
        ("", "Invalid jsonpath '': it must start with '$'"),
        ("$", "Invalid jsonpath '$': it names no key"),
        ("$[:]", "Invalid jsonpath '$[:]': it names no key"),
        ("$.a[:].b", "Invalid jsonpath '$.a[:].b': use $.key, $.['any key'] and [:] only at the end"),
        ("$.a..b", "Invalid jsonpath '$.a..b': use $.key, $.['any key'] and [:] only at the end"),
        ("$abc", "Invalid jsonpath '$abc': use $.key, $.['any key'] and [:] only at the end"),
        ("$.a[:][:]", "Invalid jsonpath '$.a[:][:]': use $.key, $.['any key'] and [:] only at the end"),
    ],
)
def test_parse_jsonpath_invalid(jsonpath: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_jsonpath(jsonpath)
    assert info.value.message == message


@pytest.mark.parametrize(
    ("keys", "jsonpath"),
    [
        (["a"], "$.a"),
        (["a", "b"], "$.a.b"),
        (["a b"], "$.['a b']"),
        (["_x", "1"], "$._x.['1']"),
        (["città"], "$.['città']"),
        (["it's"], "$.['it\\'s']"),
    ],
)
def test_format_jsonpath(keys: list[str], jsonpath: str) -> None:
    assert format_jsonpath(keys) == jsonpath


@pytest.mark.parametrize(
    "keys",
    [
        ("a",),
        ("a", "b", "c"),
        ("a b", "c-d"),
        ("a.b",),
        ("1", "_"),
        ("città", "x y"),
        pytest.param(
            ("it's",),
        ),
        pytest.param(
            ("back\\",),
        ),
        ("[:]",),
        ("a", "[:]", "b"),
    ],
)
def test_jsonpath_round_trip(keys: tuple[str, ...]) -> None:
    assert parse_jsonpath(format_jsonpath(keys)) == JsonPath(keys, False)


@pytest.mark.parametrize(
    ("keys", "name"),
    [(("a", "b"), "a_b"), (("a b",), "a_b"), (("1x",), "_1x"), (("_x",), "_x"), (("x-y", "z.w"), "x_y_z_w")],
)
def test_column_name(keys: tuple[str, ...], name: str) -> None:
    assert column_name(keys) == name


# --- the registry form ----------------------------------------------------------------------------


def test_column_parsed_type_and_path() -> None:
    col = Column("tags", "Array(Nullable(String))", "$.meta.tags[:]")
    assert col.parsed_type == ColumnType("String", array=True)
    assert col.path == JsonPath(("meta", "tags"), True)
    assert col.keys == ("meta", "tags")


def test_datasource_to_dict() -> None:
    ds = DataSource(
        name="events",
        columns=(Column("date", "DateTime", "$.date"), Column("n", "Int32", "$.n", default="0")),
        version=3,
        sorting_key=("date", "n"),
        partition_key="toYYYYMM(date)",
        ttl="date + INTERVAL 1 DAY",
        dedup_key="$.id",
        dedup_window_seconds=86400,
        rate_limit=50,
    )
    assert ds.to_dict() == {
        "name": "events",
        "columns": [
            {"name": "date", "type": "DateTime", "jsonpath": "$.date"},
            {"name": "n", "type": "Int32", "jsonpath": "$.n", "default": "0"},
        ],
        "version": 3,
        "sorting_key": ["date", "n"],
        "partition_key": "toYYYYMM(date)",
        "ttl": "date + INTERVAL 1 DAY",
        "dedup_key": "$.id",
        "dedup_window_seconds": 86400,
        "rate_limit": 50,
    }


def test_effective_dedup_key_defaults_to_ref_only_when_a_column_reads_it() -> None:
    with_ref = DataSource("e", (Column("ref", "String", "$.ref"),))
    without = DataSource("e", (Column("id", "String", "$.id"),))

    assert with_ref.effective_dedup_key == "$.ref"
    assert without.effective_dedup_key == ""
    assert DataSource("e", without.columns, dedup_key="$.id").effective_dedup_key == "$.id"


def test_datasource_round_trips_through_json() -> None:
    ds = DataSource(
        name="events",
        columns=(
            Column("a_b", "Nullable(Int64)", "$.['a b']"),
            Column("tags", "Array(String)", "$.tags[:]", default="[]"),
        ),
        version=2,
        sorting_key=("a_b",),
        partition_key="",
        ttl="",
    )
    assert DataSource.from_dict(orjson.loads(orjson.dumps(ds.to_dict()))) == ds


def test_datasource_from_minimal_dict() -> None:
    ds = DataSource.from_dict({"name": "e", "columns": [{"name": "a", "type": "String", "jsonpath": "$.a"}]})
    assert ds == DataSource("e", (Column("a", "String", "$.a"),), 1, (), "", "")
