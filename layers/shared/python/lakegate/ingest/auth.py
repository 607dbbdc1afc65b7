"""Tokens and scopes: who may append to or create which data source. Pure rules, no AWS."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from lakegate.errors import Forbidden, WrongCluster

ADMIN = "ADMIN"
CREATE = "DATASOURCE:CREATE"
APPEND = "DATASOURCE:APPEND"
ACCESS_TOKEN_SECONDS = 3600  # what Vayu's `POST /login` promises: an access token lasts an hour
_ACCESS_HEADER = {"alg": "none", "typ": "JWT"}


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


def require_append(token: Token, datasource: str) -> None:
    if not token.can_append(datasource):
        raise Forbidden(f"The token lacks the DATASOURCE:APPEND scope for the Data Source '{datasource}'")


def require_create(token: Token, datasource: str) -> None:
    if not token.can_create():
        raise Forbidden(
            f"The Data Source '{datasource}' does not exist and the token lacks the DATASOURCE:CREATE scope "
            "needed to create it"
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


def issue_access_token(plain: str, now: float, token_expires_at: float | None = None) -> str:
    """The access token `POST /login` hands a Vayu SDK: the API token in an unsigned JWT with an `exp`.

    The SDKs decode it (without checking a signature) only to read `exp`. Unsigned on purpose: it
    carries the API token itself, so it is exactly as secret as that token and grants nothing more,
    and every request still looks the API token up, so revoking the token revokes its access tokens.
    """
    exp = int(now) + ACCESS_TOKEN_SECONDS
    if token_expires_at is not None:
        exp = min(exp, int(token_expires_at))
    return f"{_b64(_ACCESS_HEADER)}.{_b64({'exp': exp, 'tkn': plain})}."


def api_token(bearer: str, now: float) -> str:
    """The API token a bearer value stands for: the one inside an access token, else the value itself.

    Only our own header (`alg` none) marks an access token, so an API token that happens to have
    three dot-separated parts (Tinybird's do) is taken as it is. An expired access token is 403.
    """
    parts = bearer.split(".")
    if len(parts) != 3 or parts[2] or _b64_json(parts[0]) != _ACCESS_HEADER:
        return bearer
    claims = _b64_json(parts[1])
    if not isinstance(claims, dict):
        raise Forbidden("Invalid token")
    plain, exp = claims.get("tkn"), claims.get("exp")
    if not isinstance(plain, str) or not plain or not isinstance(exp, int) or isinstance(exp, bool):
        raise Forbidden("Invalid token")
    if exp <= now:
        raise Forbidden("Invalid token: the access token has expired, log in again")
    return plain


def _b64(claims: Mapping[str, object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()


def _b64_json(segment: str) -> object:
    try:
        return orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):  # orjson.JSONDecodeError is a ValueError
        return None
