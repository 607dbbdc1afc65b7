"""Data-source schemas: columns with jsonpaths and types, and inferring one from a batch of rows."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from lakegate.column_types import ColumnType, infer_scalar, parse_type, widen
from lakegate.errors import InvalidRequest
from lakegate.names import QUARANTINE_SUFFIX, free_name

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What a getter returns for a path the row does not have (None is a JSON null).
MISSING = object()
# A data source's id, as Tinybird shapes them (`t_` and 32 hex digits); `name=` takes a name or an id.
ID_RE = re.compile(r"t_[0-9a-f]{32}")
_ID_LIKE = re.compile(r"t_[0-9a-f]{32}", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its name, type and where its value sits in each JSON row."""

    name: str
    type: str
    jsonpath: str
    default: str | None = None

    @property
    def parsed_type(self) -> ColumnType:
        return parse_type(self.type)

    @property
    def path(self) -> JsonPath:
        return parse_jsonpath(self.jsonpath)

    @property
    def keys(self) -> tuple[str, ...]:
        """The object keys that lead to the column's value (an array column's list)."""
        return self.path.keys


@dataclass(frozen=True, slots=True)
class DataSource:
    """A registry entry: the schema every row of this data source is checked against."""

    name: str
    columns: tuple[Column, ...]
    version: int = 1
    sorting_key: tuple[str, ...] = ()
    partition_key: str = ""
    ttl: str = ""
    # Exactly-once for wait=true: the jsonpath of the row's idempotency key ("" = `$.ref` if a
    # column reads `$.ref`, else none) and how long a key stays taken (0 = for ever).
    dedup_key: str = ""
    dedup_window_seconds: int = 0
    # Requests per second for this data source (0 = the deployment's default).
    rate_limit: int = 0
    # Every record of this data source is claimed when it lands (keyed ones always are), so even rows
    # without a dedup key land exactly once though Firehose delivers at least once.
    exactly_once: bool = False
    # Given once, when the registry stores it (`new_id`); "" for data sources stored before ids were.
    id: str = ""
    # Fields no column reads become columns when they land (lake.evolution). True for inferred data
    # sources; a defined one keeps its schema unless its definition says `schema_evolution=true`. Stored
    # only when False: a data source stored before the flag existed evolved, and still does.
    schema_evolution: bool = True

    @property
    def effective_dedup_key(self) -> str:
        if self.dedup_key:
            return self.dedup_key
        return "$.ref" if any(c.jsonpath == "$.ref" for c in self.columns) else ""

    @property
    def ident(self) -> str:
        """The data source's id: the stored one, or for one stored before ids were, the one derived from
        its name that the API showed then (`legacy_id`)."""
        return self.id or legacy_id(self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **({"id": self.id} if self.id else {}),
            "columns": [
                {"name": c.name, "type": c.type, "jsonpath": c.jsonpath}
                | ({"default": c.default} if c.default is not None else {})
                for c in self.columns
            ],
            "version": self.version,
            "sorting_key": list(self.sorting_key),
            "partition_key": self.partition_key,
            "ttl": self.ttl,
            "dedup_key": self.dedup_key,
            "dedup_window_seconds": self.dedup_window_seconds,
            "rate_limit": self.rate_limit,
            **({} if self.schema_evolution else {"schema_evolution": False}),
        } | ({"exactly_once": True} if self.exactly_once else {})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DataSource:
        return cls(
            name=str(d["name"]),
            columns=tuple(
                Column(str(c["name"]), str(c["type"]), str(c["jsonpath"]), c.get("default"))
                for c in d["columns"]
            ),
            version=int(d.get("version", 1)),
            id=str(d.get("id", "")),
            sorting_key=tuple(d.get("sorting_key", ())),
            partition_key=str(d.get("partition_key", "")),
            ttl=str(d.get("ttl", "")),
            dedup_key=str(d.get("dedup_key", "")),
            dedup_window_seconds=int(d.get("dedup_window_seconds", 0)),
            rate_limit=int(d.get("rate_limit", 0)),
            exactly_once=bool(d.get("exactly_once", False)),
            schema_evolution=bool(d.get("schema_evolution", True)),
        )


def validate_name(name: str | None) -> str:
    """Data-source names follow Tinybird's rule; anything else is a 400 before any work is done.
    `<x>_quarantine` (in any case: Glue lowercases table names) is `<x>`'s quarantine, never a target."""
    if not name:
        raise InvalidRequest("The 'name' parameter is required: the name of the Data Source to append to")
    if not NAME_RE.fullmatch(name):
        raise InvalidRequest(
            f"Invalid Data Source name '{name[:300]}': it must start with a letter or underscore "
            "and contain only letters, numbers and underscores (at most 255 characters)"
        )
    if name.lower().endswith(QUARANTINE_SUFFIX):
        raise InvalidRequest(
            f"The name '{name}' is reserved: '<name>{QUARANTINE_SUFFIX}' holds the rows of '<name>' that did "
            "not fit, and only lakegate writes there"
        )
    return name


def validate_new_name(name: str) -> str:
    """A name a new data source may take: a valid one that is not shaped like an id (`name=` takes either,
    and an id-shaped name would shadow that id)."""
    validate_name(name)
    if _ID_LIKE.fullmatch(name):
        raise InvalidRequest(
            f"'{name}' is shaped like a Data Source id (t_ and 32 hex digits) and no Data Source of the "
            "workspace has that id: a new Data Source needs a name of another shape"
        )
    return name


def new_id() -> str:
    """A new data source's id: random, so two workspaces' (or a re-created) data sources never share one."""
    return "t_" + secrets.token_hex(16)


def legacy_id(name: str) -> str:
    """The id the API derived from the name alone before ids were stored: kept for those data sources."""
    return "t_" + hashlib.sha256(name.encode()).hexdigest()[:32]


class JsonPath(NamedTuple):
    """Where a column's value sits in a row: the keys that lead to it, and whether it is an array (a final
    `[:]`, whose items the column holds)."""

    keys: tuple[str, ...]
    array: bool


_STEP = re.compile(r"\.\[?'((?:[^'\\]|\\.)*)'\]|\.([^.\['\s]+)|\['((?:[^'\\]|\\.)*)'\]|(\[:\])")


def parse_jsonpath(jsonpath: str) -> JsonPath:
    """`$.a.b`, `$.['a b'].c` and `$.tags[:]` into (('a', 'b'), False) / (('a b', 'c'), False) /
    (('tags',), True). A quoted key is a key whatever it reads (`$.['[:]']` is the key `[:]`); `[:]` is
    read only at the end. Anything else is a 400 naming the jsonpath."""
    if not jsonpath.startswith("$"):
        raise InvalidRequest(f"Invalid jsonpath '{jsonpath[:200]}': it must start with '$'")
    keys: list[str] = []
    array = False
    pos = 1
    while pos < len(jsonpath):
        m = _STEP.match(jsonpath, pos)
        if m is None or array:
            raise InvalidRequest(
                f"Invalid jsonpath '{jsonpath[:200]}': use $.key, $.['any key'] and [:] only at the end"
            )
        if m.group(4) is not None:
            array = True
        else:
            quoted = m.group(1) if m.group(1) is not None else m.group(3)
            keys.append(re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else m.group(2))
        pos = m.end()
    if not keys:
        raise InvalidRequest(f"Invalid jsonpath '{jsonpath[:200]}': it names no key")
    return JsonPath(tuple(keys), array)


def getter(keys: tuple[str, ...]) -> Callable[[Mapping[str, Any]], object]:
    """The value at `keys` in a row (an array column's list), or MISSING."""
    if len(keys) == 1:
        (k,) = keys

        def get_one(row: Mapping[str, Any]) -> object:
            return row.get(k, MISSING)

        return get_one

    def get_nested(row: Mapping[str, Any]) -> object:
        v: object = row
        for k in keys:
            if v.__class__ is not dict:
                return MISSING
            v = v.get(k, MISSING)
            if v is MISSING:
                return v
        return v

    return get_nested


def format_jsonpath(keys: Iterable[str]) -> str:
    out = ["$"]
    for k in keys:
        out.append(
            f".{k}" if _IDENT.fullmatch(k) else ".['{}']".format(k.replace("\\", "\\\\").replace("'", "\\'"))
        )
    return "".join(out)


def column_name(keys: Iterable[str]) -> str:
    """Nested keys are flattened with `_`; characters a column name cannot hold become `_`."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", "_".join(keys))
    return name if name[:1].isalpha() or name[:1] == "_" else f"_{name}"


class _Seen:
    """What inference has learned about one flattened field so far."""

    __slots__ = ("array", "base", "count", "empty_array", "nulls")

    def __init__(self) -> None:
        self.base: str | None = None
        self.array = False
        self.count = 0
        self.nulls = 0
        self.empty_array = False

    def add(self, base: str | None, array: bool) -> None:
        self.count += 1
        if base is None:
            self.nulls += 1
            return
        if self.base is None:
            self.base, self.array = base, array
            if self.empty_array and not array:
                self.base = "String"
        elif self.array != array:
            self.base, self.array = "String", False
        else:
            self.base = widen(self.base, base)


def _walk(
    obj: Mapping[str, Any], prefix: tuple[str, ...], seen: dict[tuple[str, ...], _Seen], depth: int
) -> None:
    base: str | None
    for key, value in obj.items():
        path = (*prefix, key)
        if value.__class__ is dict:
            if depth > 1 and value:
                _walk(value, path, seen, depth - 1)
                continue
            base, array = "String", False
        elif value.__class__ is list:
            kinds = {infer_scalar(v) for v in value if v is not None and v.__class__ not in (dict, list)}
            nested = any(v.__class__ in (dict, list) for v in value)
            if nested or len(kinds) > 1:
                base = "String"
                if not nested and kinds <= {"Int64", "UInt64", "Float64"}:
                    base = "Float64"
            else:
                base = kinds.pop() if kinds else None
            array = True
            if base is None:
                # An empty array says nothing of its element type, but it is an array.
                s = seen.setdefault(path, _Seen())
                s.count += 1
                s.nulls += 1
                if s.base is not None and not s.array:
                    s.base = "String"
                s.empty_array = True
                continue
        else:
            base, array = infer_scalar(value), False
        seen.setdefault(path, _Seen()).add(base, array)


def field_paths(row: Mapping[str, Any], max_depth: int) -> list[tuple[str, ...]]:
    """The flattened fields of one row, as inference makes columns of them."""
    seen: dict[tuple[str, ...], _Seen] = {}
    _walk(row, (), seen, max_depth)
    return list(seen)


def infer(name: str, rows: Iterable[Mapping[str, Any]], max_columns: int, max_depth: int) -> DataSource:
    """Infer a schema as Tinybird does: flatten objects with `_`, Nullable where a field is missing."""
    seen: dict[tuple[str, ...], _Seen] = {}
    total = 0
    for row in rows:
        total += 1
        _walk(row, (), seen, max_depth)
        if len(seen) > max_columns:
            raise InvalidRequest(
                f"Too many columns: the rows have more than {max_columns} distinct fields, the limit"
            )
    columns: list[Column] = []
    used: set[str] = set()
    # A field that is an object in some rows and a value in others: only String holds both.
    parents = {path[:i] for path in seen for i in range(1, len(path))}
    for path, s in seen.items():
        base = s.base or "String"
        if path in parents:
            base, s.array = "String", False
        nullable = (s.count < total or s.nulls > 0) and not s.array
        ctype = replace(parse_type(base), nullable=nullable, array=s.array)
        cname = free_name(column_name(path), used)
        used.add(cname)
        jsonpath = format_jsonpath(path) + ("[:]" if s.array else "")
        columns.append(Column(cname, str(ctype), jsonpath))
    if not columns:
        raise InvalidRequest(
            f"Cannot create Data Source '{name}': the rows have no fields to infer a schema from"
        )
    return DataSource(name=name, columns=tuple(columns), sorting_key=())
