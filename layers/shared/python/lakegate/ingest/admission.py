"""Admission, the first step of every request: who is asking (403 for no usable token, 404 for another
cluster's), a valid data source name (400), the right on that data source (403), and room in its
rate-limit windows (429). Nothing of the request's body is read before it passes, and a request refused
for its token or its scope never counts in a window: a token with no right on a data source cannot use
up that data source's requests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from lakegate.errors import Forbidden
from lakegate.ingest.auth import Token, authorize, hash_token, require_append, require_create
from lakegate.ingest.rate_limits import Decision, RateLimiter, check, scopes_for
from lakegate.ingest.registry import Registry, resolve
from lakegate.ingest.tokens import TokenStore
from lakegate.schema import validate_name


class Access(Enum):
    """The right a route needs on its data source, checked before the request counts anywhere."""

    # /v0/events: DATASOURCE:APPEND on an existing data source; DATASOURCE:CREATE for a missing one.
    EVENTS = "events"
    # Vayu's routes: DATASOURCE:APPEND on the target, existing or not (its schema is the deployment's).
    APPEND = "append"


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request let in: its token, the data source it targets (by name, when `name=` was an id), and the
    rate-limit figures its answer carries."""

    token: Token
    decision: Decision
    name: str


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

    def admit(self, plain: str | None, name: str | None, access: Access) -> Admitted:
        """Check the name, authenticate, check the token's right on the data source (`name` may be its id),
        then count the request in its data source's and workspace's windows."""
        name = validate_name(name)
        token = self.authenticate(plain)
        ds = resolve(self.registry, token.workspace_id, name)
        target = ds.name if ds is not None else name
        if ds is None and access is Access.EVENTS:
            require_create(token, target)
        else:
            require_append(token, target)
        scopes = scopes_for(
            token,
            target,
            ds.rate_limit if ds else 0,
            self.datasource_rate_limit,
            self.workspace_rate_limit,
        )
        return Admitted(token, check(self.limiter, scopes, self.clock()), target)
