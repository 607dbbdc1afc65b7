"""A Lambda Function URL's front: every method and path reaches the function as `$default`, and the URL's
CORS configuration answers preflights and puts its headers on the function's answers (template.yaml's
IngestFunctionUrl; the function adds none of its own behind a URL)."""

from __future__ import annotations

from collections.abc import Mapping

from lakegate_local.apigw import HttpResponse
from lakegate_local.routing import Match
from lakegate_local.template import FunctionUrl

DEFAULT = Match("$default", {})


class UrlRouter:
    """Routes as a Function URL does: there are none, every request reaches the function."""

    def match(self, method: str, path: str) -> Match | None:
        return DEFAULT


def _allowed_origin(url: FunctionUrl, origin: str) -> str | None:
    if "*" in url.allow_origins:
        return origin if url.allow_credentials else "*"
    return origin if origin in url.allow_origins else None


def preflight(
    url: FunctionUrl, method: str, headers: Mapping[str, str], request_id: str
) -> HttpResponse | None:
    """The URL's own answer to a CORS preflight (None: not one; the function gets the request)."""
    origin = headers.get("origin")
    wanted = headers.get("access-control-request-method")
    if not url.cors or method != "OPTIONS" or not origin or not wanted:
        return None
    out = [("x-amzn-requestid", request_id)]
    allowed = _allowed_origin(url, origin)
    if allowed is not None:
        out += [
            ("access-control-allow-origin", allowed),
            ("access-control-allow-methods", ",".join(url.allow_methods)),
            ("access-control-allow-headers", ",".join(url.allow_headers)),
            ("access-control-max-age", str(url.max_age)),
            ("vary", "Origin"),
        ]
        if url.allow_credentials:
            out.append(("access-control-allow-credentials", "true"))
    return HttpResponse(200, out)


def with_cors(url: FunctionUrl, response: HttpResponse, headers: Mapping[str, str]) -> HttpResponse:
    """The function's answer with the URL's CORS headers, which replace any the function set."""
    if not url.cors:
        return response
    kept = [(n, v) for n, v in response.headers if not n.startswith("access-control-")]
    origin = headers.get("origin")
    allowed = _allowed_origin(url, origin) if origin else None
    if allowed is not None:
        kept.append(("access-control-allow-origin", allowed))
        if url.expose_headers:
            kept.append(("access-control-expose-headers", ",".join(url.expose_headers)))
        if url.allow_credentials:
            kept.append(("access-control-allow-credentials", "true"))
        kept.append(("vary", "Origin"))
    return HttpResponse(response.status, kept, response.body)
