"""HTTP API route selection: which declared route (if any) a method and path reach, as API Gateway picks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from lakegate_local.template import Route

_PARAM = re.compile(r"\{([A-Za-z0-9_.-]+)(\+?)\}")


@dataclass(frozen=True, slots=True)
class Match:
    """The route a request took and the path parameters it bound."""

    route_key: str
    path_parameters: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Compiled:
    route: Route
    pattern: re.Pattern[str]
    rank: tuple[int, int, int]


def _compile(route: Route) -> _Compiled:
    parts: list[str] = []
    last = 0
    params = greedy = 0
    for m in _PARAM.finditer(route.path):
        parts.append(re.escape(route.path[last : m.start()]))
        if m.group(2):
            greedy = 1
            parts.append(f"(?P<{_group(m.group(1))}>.+)")
        else:
            params += 1
            parts.append(f"(?P<{_group(m.group(1))}>[^/]+)")
        last = m.end()
    parts.append(re.escape(route.path[last:]))
    # API Gateway prefers the most specific route: literal paths, then fewer parameters, then
    # greedy ones; a route for the method before one for ANY.
    rank = (greedy, params, 1 if route.method == "ANY" else 0)
    return _Compiled(route, re.compile("".join(parts)), rank)


def _group(name: str) -> str:
    # Regex group names cannot hold `.` or `-`; the parameter name is recovered from the route.
    return "p_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


class Router:
    """The routes a function declares; a request matching none goes to `$default`, else 404."""

    def __init__(self, routes: Sequence[Route]) -> None:
        declared = [r for r in routes if r.path != "$default"]
        self._default = any(r.path == "$default" for r in routes)
        self._routes = sorted((_compile(r) for r in declared), key=lambda c: c.rank)

    def match(self, method: str, path: str) -> Match | None:
        decoded = unquote(path)
        for compiled in self._routes:
            if compiled.route.method not in ("ANY", method.upper()):
                continue
            m = compiled.pattern.fullmatch(decoded)
            if m is None:
                continue
            names = [p.group(1) for p in _PARAM.finditer(compiled.route.path)]
            return Match(compiled.route.key, {name: m.group(_group(name)) for name in names})
        if self._default:
            return Match("$default", {})
        return None
