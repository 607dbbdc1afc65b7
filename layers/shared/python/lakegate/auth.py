"""Tokens and scopes: who may append to or create which data source. Pure rules, no AWS."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from lakegate.errors import Forbidden, WrongCluster

ADMIN = "ADMIN"
CREATE = "DATASOURCE:CREATE"
APPEND = "DATASOURCE:APPEND"


def hash_token(plain: str) -> str:
    """Tokens are stored and looked up by SHA-256, so a table dump leaks no usable token."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def normalize_scope(scope: str) -> str:
    """Accept Tinybird's `DATASOURCES:` spelling as well as `DATASOURCE:`."""
    scope = scope.strip()
    if scope.upper().startswith("DATASOURCES:"):
        scope = "DATASOURCE:" + scope[len("DATASOURCES:") :]
    head, sep, name = scope.partition(":")
    if not sep:
        return scope.upper()
    action, sep2, target = name.partition(":")
    normalized = f"{head.upper()}:{action.upper()}"
    return f"{normalized}:{target}" if sep2 else normalized


@dataclass(frozen=True, slots=True)
class Token:
    """A resolved token: its workspace, the cluster that workspace lives in, and its scopes."""

    token_hash: str
    workspace_id: str
    cluster: str
    scopes: frozenset[str]
    name: str = ""
    expires_at: float | None = None
    revoked: bool = False
    # Per-token overrides of the requests/s a data source and the workspace take (0 = default).
    datasource_rate_limit: int = 0
    workspace_rate_limit: int = 0

    @classmethod
    def from_item(cls, item: Mapping[str, object]) -> Token:
        raw_scopes = item.get("scopes") or ()
        scopes = frozenset(normalize_scope(str(s)) for s in raw_scopes)  # type: ignore[attr-defined]
        expires = item.get("expires_at")
        return cls(
            token_hash=str(item["token_hash"]),
            workspace_id=str(item["workspace_id"]),
            cluster=str(item["cluster"]),
            scopes=scopes,
            name=str(item.get("name", "")),
            expires_at=float(expires) if expires is not None else None,  # type: ignore[arg-type]
            revoked=bool(item.get("revoked", False)),
            datasource_rate_limit=int(item.get("datasource_rate_limit", 0)),  # type: ignore[call-overload]
            workspace_rate_limit=int(item.get("workspace_rate_limit", 0)),  # type: ignore[call-overload]
        )

    def is_live(self, now: float) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > now)

    def can_create(self) -> bool:
        return ADMIN in self.scopes or CREATE in self.scopes

    def can_append(self, datasource: str) -> bool:
        return (
            ADMIN in self.scopes
            or APPEND in self.scopes
            or f"{APPEND}:{datasource}" in self.scopes
            # Creating a data source implies appending to it: Tinybird's CREATE tokens can append.
            or CREATE in self.scopes
        )


def authorize(token: Token | None, cluster_id: str, now: float) -> Token:
    """Check a looked-up token is usable here: unknown, revoked or expired is 403, elsewhere 404."""
    if token is None or not token.is_live(now):
        raise Forbidden("Invalid token")
    if token.cluster != cluster_id:
        raise WrongCluster(
            "The token's Workspace doesn't belong to this cluster: check the token's region and the host"
        )
    return token


def token_from_request(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """Bearer header first, then `?token=`, as Tinybird accepts both."""
    auth = headers.get("authorization", "")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    token = query.get("token", "")
    return token or None
