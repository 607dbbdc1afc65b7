"""Route selection as HTTP API does it: exact before parameters before greedy, method before ANY."""

from pathlib import Path

from lakegate_local.routing import Match, Router
from lakegate_local.template import Route, load_stack


def test_exact_route_and_method() -> None:
    router = Router([Route("POST", "/v0/events")])
    assert router.match("POST", "/v0/events") == Match("POST /v0/events", {})
    assert router.match("GET", "/v0/events") is None
    assert router.match("POST", "/v0/events/") is None
    assert router.match("POST", "/v0") is None


def test_most_specific_route_wins() -> None:
    router = Router(
        [
            Route("ANY", "/{proxy+}"),
            Route("ANY", "/v0/{thing}"),
            Route("POST", "/v0/{thing}"),
            Route("POST", "/v0/events"),
        ]
    )
    assert router.match("POST", "/v0/events") == Match("POST /v0/events", {})
    assert router.match("POST", "/v0/other") == Match("POST /v0/{thing}", {"thing": "other"})
    assert router.match("GET", "/v0/other") == Match("ANY /v0/{thing}", {"thing": "other"})
    assert router.match("GET", "/a/b/c") == Match("ANY /{proxy+}", {"proxy": "a/b/c"})


def test_path_parameters_are_decoded() -> None:
    router = Router([Route("GET", "/v0/datasources/{name}")])
    assert router.match("GET", "/v0/datasources/a%20b") == Match(
        "GET /v0/datasources/{name}", {"name": "a b"}
    )


def test_default_route_catches_the_rest() -> None:
    router = Router([Route("POST", "/events"), Route("ANY", "$default")])
    assert router.match("POST", "/events") == Match("POST /events", {})
    assert router.match("GET", "/anything") == Match("$default", {})


def test_the_templates_routes_serve_vayus_put_and_leave_undeclared_methods_to_api_gateway() -> None:
    """What the deployed HTTP API invokes the function for: PUT /events (Vayu's text says PUT) is declared;
    GET /v0/events or DELETE /events never reach it (API Gateway's own 404, `{"message": "Not Found"}`)."""
    router = Router(load_stack(Path(__file__).resolve().parents[3] / "template.yaml").function.routes)

    assert router.match("PUT", "/events") == Match("PUT /events", {})
    assert router.match("POST", "/events") == Match("POST /events", {})
    for method, path in (("GET", "/v0/events"), ("DELETE", "/events"), ("PUT", "/v0/events"), ("GET", "/")):
        assert router.match(method, path) is None
