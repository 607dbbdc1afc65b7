"""DEFAULT expressions, as Tinybird users write them: a literal of the column's type (`'view'`, `0`, `-1.5`,
`true`, `'2020-01-01'`, `[]`, `NULL` for a Nullable), or `now()`, `today()`, `now64()`, `now64(p)` for a
date or time column, evaluated at the row's ingestion time. A column's DEFAULT fills a value that is
missing or null. Anything else is refused when the data source is defined (a 400 naming the expression),
so a stored DEFAULT always applies."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from lakegate.column_types import ColumnType
from lakegate.times import TIME_BASES, utc_now_ticks
from lakegate.values import BadValue, arrow_scale, column_time_type, converter

_NOW = re.compile(r"(now|today|now64)\(\s*(?:([0-9])\s*)?\)", re.IGNORECASE)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


class BadDefault(ValueError):
    """A DEFAULT lakegate cannot evaluate for its column; the message says why."""


@dataclass(frozen=True, slots=True)
class Default:
    """A compiled DEFAULT: `value(ingested_ms)` is what lands (as pyarrow takes it for the column)."""

    expression: str
    value: Callable[[int], object]


def _literal(text: str) -> object:
    """A literal's JSON value: a quoted string ('' or \\' for a quote), a number, true/false, [] or NULL."""
    if len(text) >= 2 and text[0] == text[-1] == "'":
        body = text[1:-1]
        if re.search(r"(?<![\\'])'(?!')", body):
            raise BadDefault("a quote inside the string is not escaped")
        return body.replace("\\'", "'").replace("''", "'").replace("\\\\", "\\")
    if _NUMBER.fullmatch(text):
        return orjson.loads(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if text.replace(" ", "") == "[]":
        return []
    raise BadDefault("expected a literal of the column's type, now(), today() or now64()")


def parse_default(text: str, t: ColumnType) -> Default:
    """The DEFAULT `text` of a column of type `t`, or BadDefault."""
    expression = text.strip()
    m = _NOW.fullmatch(expression)
    if m is not None:
        if t.array or t.base not in TIME_BASES:
            raise BadDefault(f"{m.group(1)}() is a default for Date and DateTime columns only")
        tt, scale = column_time_type(t), arrow_scale(t)
        return Default(expression, lambda ms: utc_now_ticks(tt, ms) * scale)
    value = _literal(expression)
    if value is None:
        if not t.nullable:
            raise BadDefault("NULL is a default for Nullable columns only")
        return Default(expression, lambda ms: None)
    if t.array:
        if value != []:
            raise BadDefault("an Array column's default is []")
        return Default(expression, lambda ms: [])
    if t.base == "String" and value.__class__ is not str:
        raise BadDefault("a String column's default is a quoted string")
    try:
        landed = converter(t)(value)
    except BadValue as e:
        raise BadDefault(f"the value does not fit {t}") from e
    return Default(expression, lambda ms: landed)
