"""AWS errors as the domain sees them: every adapter translates through here, one way for every service."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from lakegate.errors import StoreUnavailable


def error_code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def unavailable(e: ClientError | BotoCoreError, what: str) -> StoreUnavailable:
    """A throttled, failing or unreachable service, as the domain sees it."""
    code = error_code(e) if isinstance(e, ClientError) else type(e).__name__
    return StoreUnavailable(f"{what} failed: {code}")
