"""DynamoDB items to and from plain values, for the DynamoDB adapters."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

# boto3's TypeSerializer would pull all of boto3 into the cold start for the few types we store.


def to_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"BOOL": v}
    if isinstance(v, str):
        return {"S": v}
    if isinstance(v, int | float | Decimal):
        return {"N": str(v)}
    if isinstance(v, list | tuple):
        return {"L": [to_value(x) for x in v]}
    if isinstance(v, dict):
        return {"M": to_item(v)}
    raise TypeError(f"cannot store {type(v).__name__} in DynamoDB")


def from_value(v: Mapping[str, Any]) -> Any:
    (kind, raw), *_ = v.items()
    if kind in {"S", "BOOL"}:
        return raw
    if kind == "N":
        return int(raw) if raw.lstrip("-").isdigit() else float(raw)
    if kind == "L":
        return [from_value(x) for x in raw]
    if kind == "M":
        return from_item(raw)
    if kind == "SS":
        return set(raw)
    if kind == "NULL":
        return None
    raise TypeError(f"unexpected DynamoDB type {kind}")


def to_item(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: to_value(v) for k, v in d.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: from_value(v) for k, v in item.items()}
