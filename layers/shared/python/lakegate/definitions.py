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
from lakegate.errors import InvalidRequest
from lakegate.schema import NAME_RE, Column, DataSource, format_jsonpath, parse_jsonpath, validate_name

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
        try:
            ctype = parse_type(m.group("type"))
        except UnknownType as e:
            raise InvalidRequest(f"{e} on column '{name}'") from e
        jsonpath = m.group("path") or format_jsonpath([name]) + ("[:]" if ctype.array else "")
        parse_jsonpath(jsonpath)  # raises InvalidRequest when it is not one
        default = m.group("default")
        columns.append(Column(name, str(ctype), jsonpath, default.strip() if default else None))
    if not columns:
        raise InvalidRequest("The schema defines no columns")
    # Counted once, not with list.count per name: a schema of thousands of columns is refused, not slow.
    duplicated = sorted(n for n, k in Counter(c.name for c in columns).items() if k > 1)
    if duplicated:
        raise InvalidRequest(f"Duplicated column names: {', '.join(duplicated)}")
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
    keys = tuple(k.strip() for k in _split(sorting_key) if k.strip())
    return DataSource(
        name=validate_name(name),
        columns=columns,
        sorting_key=keys,
        partition_key=partition_key.strip(),
        ttl=ttl.strip(),
    )
