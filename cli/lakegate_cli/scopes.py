"""Scope spellings a token may be given: the ones `lakegate.ingest.auth` grants, nothing else."""

from __future__ import annotations

from lakegate.ingest.auth import ADMIN, APPEND, CREATE, normalize_scope
from lakegate.schema import NAME_RE
from lakegate_cli.errors import CliError

KNOWN = (ADMIN, CREATE, APPEND, f"{APPEND}:<name>")


def validate_scope(raw: str) -> str:
    """The scope in the spelling the tokens table stores (Tinybird's `DATASOURCES:` accepted)."""
    scope = normalize_scope(raw)
    if scope in (ADMIN, CREATE, APPEND):
        return scope
    prefix = f"{APPEND}:"
    if scope.startswith(prefix):
        name = scope[len(prefix) :]
        if NAME_RE.fullmatch(name):
            return scope
        raise CliError(f"bad scope {raw!r}: {name!r} is not a valid data source name")
    raise CliError(f"bad scope {raw!r}: use one of {', '.join(KNOWN)}")


def validate_scopes(raw: list[str]) -> list[str]:
    """Each scope validated, duplicates dropped, the order kept."""
    return list(dict.fromkeys(validate_scope(s) for s in raw))
