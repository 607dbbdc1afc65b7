"""Data-source definitions as Tinybird takes them (`POST /v0/datasources`): a schema text and engine settings
into a registry `DataSource`. Pure; the route that calls it is the ingest handler's to add.

    `timestamp` DateTime `json:$.timestamp`,
    `action` LowCardinality(String) `json:$.action` DEFAULT 'view',
    `tags` Array(String) `json:$.tags[:]`
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from lakegate.column_types import UnknownType, parse_type
from lakegate.defaults import BadDefault, parse_default
from lakegate.errors import InvalidRequest
from lakegate.lake.layout import partition_column, partition_key_applies
from lakegate.names import INSERTION_DATE, PARTITION_COLUMNS, RESERVED_PREFIX, reserved
from lakegate.schema import NAME_RE, Column, DataSource, format_jsonpath, parse_jsonpath, validate_name
from lakegate.times import zone_exists

_COLUMN = re.compile(
    r"(?:`(?P<quoted>[^`]+)`|(?P<bare>[^\s`]+))\s+(?P<type>.+?)"
    r"(?:\s+`json:(?P<path>[^`]+)`)?(?:\s+DEFAULT\s+(?P<default>.+))?",
    re.DOTALL | re.IGNORECASE,
)


def _split(text: str) -> Iterator[str]:
    """The schema's column definitions: split at commas outside parentheses, quotes and backticks."""
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'`\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            yield text[start:i]
            start = i + 1
    yield text[start:]


def parse_schema(text: str) -> tuple[Column, ...]:
    """Columns from a Tinybird schema; a column without `json:` reads `$.<name>`, as Tinybird's does."""
    columns: list[Column] = []
    for part in _split(text):
        definition = part.strip()
        if not definition:
            continue
        m = _COLUMN.fullmatch(definition)
        if m is None:
            raise InvalidRequest(
                f"Invalid column definition '{definition[:200]}': expected `name` Type `json:$.path`"
            )
        name = m.group("quoted") or m.group("bare")
        if not NAME_RE.fullmatch(name):
            raise InvalidRequest(f"Invalid column name '{name[:200]}'")
        if reserved(name):
            raise InvalidRequest(
                f"The column name '{name}' is reserved: lakegate's tables use it beside the data source's "
                f"columns (names starting with {RESERVED_PREFIX}, {INSERTION_DATE}, {', '.join(PARTITION_COLUMNS)})"
            )
        try:
            ctype = parse_type(m.group("type"))
        except UnknownType as e:
            raise InvalidRequest(f"{e} on column '{name}'") from e
        if ctype.zone and not zone_exists(ctype.zone):
            raise InvalidRequest(f"Unknown time zone '{ctype.zone[:100]}' on column '{name}'")
        path = m.group("path") or format_jsonpath([name]) + ("[:]" if ctype.array else "")
        if parse_jsonpath(path).array != ctype.array:  # parse_jsonpath raises InvalidRequest for a bad one
            raise InvalidRequest(
                f"The jsonpath of column '{name}' must end with [:] exactly when its type is an Array"
            )
        default = m.group("default")
        if default is not None:
            try:
                parse_default(default, ctype)
            except BadDefault as e:
                raise InvalidRequest(
                    f"Unsupported DEFAULT {default.strip()[:200]} on column '{name}': {e}"
                ) from e
        columns.append(Column(name, str(ctype), path, default.strip() if default else None))
    if not columns:
        raise InvalidRequest("The schema defines no columns")
    # Counted once, not with list.count per name: a schema of thousands of columns is refused, not slow.
    folded = Counter(c.name.lower() for c in columns)
    duplicated = sorted(c.name for c in columns if folded[c.name.lower()] > 1)
    if duplicated:
        raise InvalidRequest(
            f"Duplicated column names: {', '.join(duplicated)} (names are compared case-insensitively, "
            "as Glue and Athena fold them to lower case)"
        )
    return tuple(columns)


def column_definition(c: Column) -> str:
    """One column as a Tinybird schema writes it (what `parse_schema` reads back)."""
    default = f" DEFAULT {c.default}" if c.default is not None else ""
    return f"`{c.name}` {c.type} `json:{c.jsonpath}`{default}"


def definition(
    name: str | None, schema: str, sorting_key: str = "", partition_key: str = "", ttl: str = ""
) -> DataSource:
    """A new data source (version 1) from `name`, `schema`, `engine_sorting_key`, `engine_partition_key`
    and `engine_ttl`, as Tinybird's parameters spell them."""
    columns = parse_schema(schema)
    keys = tuple(k.strip().strip("`") for k in _split(sorting_key) if k.strip())
    if keys == ("tuple()",):
        keys = ()
    ds = DataSource(
        name=validate_name(name),
        columns=columns,
        sorting_key=keys,
        partition_key=partition_key.strip(),
        ttl=ttl.strip(),
    )
    _check_engine(ds)
    return ds


def _check_engine(ds: DataSource) -> None:
    """What the compactor cannot apply is refused here, never met at landing: a sorting key names plain
    columns (no Array: Arrow does not order lists), and the partition key is one lakegate writes folders for."""
    columns = {c.name: c for c in ds.columns}
    unknown = [k for k in ds.sorting_key if k not in columns]
    if unknown:
        raise InvalidRequest(
            f"engine_sorting_key names columns the schema does not have: {', '.join(unknown)[:500]} "
            "(lakegate sorts by columns, not expressions)"
        )
    arrays = [k for k in ds.sorting_key if columns[k].parsed_type.array]
    if arrays:
        raise InvalidRequest(f"engine_sorting_key cannot hold Array columns: {', '.join(arrays)}")
    if not partition_key_applies(ds):
        raise InvalidRequest(
            f"Unsupported engine_partition_key '{ds.partition_key[:200]}': use none, or col, toDate(col), "
            "toYYYYMM(col) or toYear(col) of a Date or DateTime column that is not an Array"
        )
    scheme = partition_column(ds)
    if scheme is not None and columns[scheme[1]].parsed_type.nullable:
        # A null has no folder Athena's partition projection reads (`__HIVE_DEFAULT_PARTITION__`), and
        # ClickHouse refuses a nullable partition key too (allow_nullable_key is off by default).
        raise InvalidRequest(
            f"engine_partition_key '{ds.partition_key[:200]}' uses the Nullable column '{scheme[1]}': "
            "partition by a column that is never null (drop Nullable, or give it a DEFAULT)"
        )
