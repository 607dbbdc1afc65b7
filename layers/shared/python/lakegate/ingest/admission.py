"""Admission, the first step of every request: who is asking (403 for no usable token, 404 for another
cluster's), a valid data source name (400), and room in its rate-limit windows (429). Nothing of the
request's body is read before it passes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lakegate.errors import Forbidden
from lakegate.ingest.auth import Token, authorize, hash_token
from lakegate.ingest.rate_limits import Decision, RateLimiter, check, scopes_for
from lakegate.ingest.registry import Registry
from lakegate.ingest.tokens import TokenStore
from lakegate.schema import validate_name


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request let in: its token, and the rate-limit figures its answer carries."""

    token: Token
    decision: Decision


@dataclass
class Admission:
    tokens: TokenStore
    registry: Registry
    limiter: RateLimiter
    cluster_id: str
    datasource_rate_limit: int
    workspace_rate_limit: int
    clock: Callable[[], float]

    def authenticate(self, plain: str | None) -> Token:
        """The token a request presents (None: it presented none), looked up by its hash."""
        if plain is None:
            raise Forbidden("Invalid token: send it as 'Authorization: Bearer <token>' or '?token=<token>'")
        return authorize(self.tokens.get(hash_token(plain)), self.cluster_id, self.clock())

    def admit(self, plain: str | None, name: str | None) -> Admitted:
        """Check the name, authenticate, and count the request in its data source's and workspace's windows."""
        name = validate_name(name)
        token = self.authenticate(plain)
        ds = self.registry.get(token.workspace_id, name)
        scopes = scopes_for(
            token,
            name,
            ds.rate_limit if ds else 0,
            self.datasource_rate_limit,
            self.workspace_rate_limit,
        )
        return Admitted(token, check(self.limiter, scopes, self.clock()))
