"""IngestFunction: the Events API behind an HTTP API. Thin: read the event, call the core, map the answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote

import orjson
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lakegate.aws import clients
from lakegate.aws.firehose import FirehoseSink
from lakegate.aws.rate_limits import DynamoRateLimiter
from lakegate.aws.refs import DynamoRefStore
from lakegate.aws.registry import DynamoRegistry
from lakegate.aws.tokens import DynamoTokenStore
from lakegate.config import Settings
from lakegate.dedup import RefStore
from lakegate.errors import Forbidden, LakegateError, NotFound, StoreUnavailable, Unavailable
from lakegate.http import JSON, error_response, internal_error_body
from lakegate.ingest import body, datasources, vayu
from lakegate.ingest import rate_limits as limits
from lakegate.ingest.auth import (
    Token,
    api_token,
    authorize,
    hash_token,
    issue_access_token,
    token_from_request,
)
from lakegate.ingest.datasources import DataSources, describe
from lakegate.ingest.events import Ingestor, Limits
from lakegate.ingest.rate_limits import Decision, RateLimiter, scopes_for
from lakegate.ingest.registry import CachedRegistry, Registry
from lakegate.ingest.tokens import CachedTokenStore, TokenStore
from lakegate.ingest.vayu import VayuEvents
from lakegate.schema import validate_name

logger = Logger()  # service name and level come from POWERTOOLS_SERVICE_NAME and LOG_LEVEL
metrics = Metrics()

_T = TypeVar("_T")
_CORS_HEADERS = ["Authorization", "Content-Type", "Content-Encoding"]
_EXPOSED = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"]


@dataclass
class Service:
    """Everything a request needs, built once per warm Lambda."""

    settings: Settings
    tokens: TokenStore
    registry: Registry
    limiter: RateLimiter
    refs: RefStore
    ingestor: Ingestor
    vayu: VayuEvents

    @classmethod
    def from_env(cls) -> Service:
        settings = Settings.from_env()
        ddb = clients.dynamodb()
        tokens = CachedTokenStore(
            DynamoTokenStore(settings.tokens_table, ddb), settings.token_cache_ttl_seconds, time.monotonic
        )
        registry = CachedRegistry(DynamoRegistry(settings.datasources_table, ddb), 10.0, time.monotonic)
        limits = Limits(
            max_line_bytes=settings.max_line_bytes,
            max_columns=settings.max_columns,
            max_json_depth=settings.max_json_depth,
            send_budget_seconds=settings.send_budget_seconds,
        )
        sink = FirehoseSink(settings.delivery_stream, clients.firehose())
        limiter = DynamoRateLimiter(settings.rate_limits_table, ddb)
        refs = DynamoRefStore(settings.refs_table, ddb)
        ingestor = Ingestor(registry, sink, refs, limits, time.time, time.sleep)
        batches = VayuEvents(
            registry,
            sink,
            refs,
            settings.vayu_datasource,
            settings.send_budget_seconds,
            time.time,
            time.sleep,
        )
        return cls(settings, tokens, registry, limiter, refs, ingestor, batches)

    def authenticate(self, headers: Mapping[str, str], query: Mapping[str, str], now: float) -> Token:
        """Who is asking: 403 for no usable token, 404 for a token of another cluster."""
        plain = token_from_request(headers, query)
        if plain is None:
            raise Forbidden("Invalid token: send it as 'Authorization: Bearer <token>' or '?token=<token>'")
        return authorize(self.tokens.get(hash_token(plain)), self.settings.cluster_id, now)

    def admit(
        self, headers: Mapping[str, str], query: Mapping[str, str], name: str
    ) -> tuple[Token, Decision]:
        """Who is asking, and whether their window has room: 403/404, then 429. Nothing is read yet."""
        now = time.time()
        token = self.authenticate(headers, query, now)
        validate_name(name)
        ds = self.registry.get(token.workspace_id, name)
        scopes = scopes_for(
            token,
            name,
            ds.rate_limit if ds else 0,
            self.settings.datasource_rate_limit,
            self.settings.workspace_rate_limit,
        )
        return token, limits.check(self.limiter, scopes, now)


def _json(status: int, payload: bytes, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=payload.decode(), headers=headers or {})


def build_app(service: Service) -> APIGatewayHttpResolver:
    """Routes and error mapping; CORS (preflight included) is answered here and only here."""
    origins = [o.strip() for o in service.settings.cors_allow_origin.split(",") if o.strip()] or ["*"]
    app = APIGatewayHttpResolver(
        cors=CORSConfig(
            allow_origin=origins[0],
            extra_origins=origins[1:] or None,
            allow_headers=_CORS_HEADERS,
            expose_headers=_EXPOSED,
            max_age=600,
        )
    )

    @app.post("/v0/events")
    def events() -> Response[str]:
        event = app.current_event
        query = event.query_string_parameters or {}
        headers = event.headers or {}
        token, decision = service.admit(headers, query, validate_name(query.get("name")))
        try:
            return _ingest(token, query["name"], decision)
        except LakegateError as e:
            e.headers.update(decision.headers())
            raise
        except StoreUnavailable as e:
            raise _unavailable(e, decision) from e

    def _ingest(token: Token, name: str, decision: Decision) -> Response[str]:
        event = app.current_event
        query = event.query_string_parameters or {}
        headers = event.headers or {}
        wait = query.get("wait", "false").lower() in ("true", "1")
        raw = body.raw_body(event.get("body"), bool(event.get("isBase64Encoded")))
        data = body.decode(
            raw,
            headers.get("content-encoding", ""),
            service.settings.max_compressed_bytes,
            service.settings.max_decompressed_bytes,
        )
        request_id = event.request_context.request_id or app.lambda_context.aws_request_id
        logger.append_keys(datasource=name, workspace=token.workspace_id, wait=wait, import_id=request_id)
        time_left = app.lambda_context.get_remaining_time_in_millis() / 1000
        result = service.ingestor.ingest(token, name, data, request_id, wait=wait, time_left=time_left)
        metrics.add_metric(name="SuccessfulRows", unit=MetricUnit.Count, value=result.successful_rows)
        metrics.add_metric(name="QuarantinedRows", unit=MetricUnit.Count, value=result.quarantined_rows)
        metrics.add_metric(name="BytesReceived", unit=MetricUnit.Bytes, value=len(raw))
        logger.info(
            "ingested",
            extra={
                "rows": result.successful_rows,
                "quarantined_rows": result.quarantined_rows,
                "bytes": len(raw),
                "decompressed_bytes": len(data),
                "duplicate_rows": result.duplicate_rows,
                "created_datasource": result.created,
                "firehose_calls": result.delivery.calls,
            },
        )
        answer = {"successful_rows": result.successful_rows, "quarantined_rows": result.quarantined_rows}
        if result.duplicate_rows:
            answer["duplicate_rows"] = result.duplicate_rows
        return _json(200 if wait else 202, orjson.dumps(answer), decision.headers())

    _vayu_routes(app, service)
    _datasource_routes(app, service)

    def domain_error(e: LakegateError) -> Response[str]:
        status, payload, headers = error_response(e)
        logger.info("rejected", extra={"status": status, "reason": e.message})
        metrics.add_metric(name=f"Status{status // 100}xx", unit=MetricUnit.Count, value=1)
        return _json(status, payload, headers)

    def store_unavailable(e: StoreUnavailable) -> Response[str]:
        return domain_error(_unavailable(e, None))

    def unexpected(e: Exception) -> Response[str]:
        logger.exception("unexpected error")
        metrics.add_metric(name="Status5xx", unit=MetricUnit.Count, value=1)
        return _json(500, internal_error_body())

    # Registered by call, not decorator: powertools' decorator is untyped and would untype these.
    app.exception_handler(LakegateError)(domain_error)
    app.exception_handler(StoreUnavailable)(store_unavailable)
    app.exception_handler(Exception)(unexpected)
    # Without this the catch-all above would answer a path no route serves with a 500.
    app.not_found(lambda _: domain_error(NotFound(f"No route for {app.current_event.path}")))
    return app


def _vayu_routes(app: APIGatewayHttpResolver, service: Service) -> None:
    """Vayu's batch API: `POST /events`, `POST /events/dry-run`, `GET /events/{ref}` (lakegate.ingest.vayu),
    and `POST /login`, where Vayu's SDKs exchange the API token for the access token they send."""
    target = service.settings.vayu_datasource

    def admit(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[Token, Decision]:
        """`Service.admit` on the target, an access token from `POST /login` standing for its API token."""
        plain = token_from_request(headers, query)
        credential = {"authorization": f"Bearer {api_token(plain, time.time())}"} if plain else {}
        return service.admit(credential, {}, target)

    @app.post("/login")
    def vayu_login() -> Response[str]:
        event = app.current_event
        plain = vayu.parse_login(body.raw_body(event.get("body"), bool(event.get("isBase64Encoded"))))
        token, decision = service.admit({"authorization": f"Bearer {plain}"}, {}, target)
        access = issue_access_token(plain, time.time(), token.expires_at)
        logger.info("vayu login", extra={"workspace": token.workspace_id})
        return _json(200, orjson.dumps({"accessToken": access}), decision.headers())

    @app.post("/events")
    def vayu_events() -> Response[str]:
        return _vayu_batch(dry_run=False)

    @app.post("/events/dry-run")
    def vayu_dry_run() -> Response[str]:
        return _vayu_batch(dry_run=True)

    @app.get("/events/<ref>")
    def vayu_event(ref: str) -> Response[str]:
        event = app.current_event
        # API Gateway passes the path parameter decoded; powertools' match is the raw path segment.
        ref = event.path_parameters.get("ref") or unquote(ref)
        token, decision = admit(event.headers or {}, event.query_string_parameters or {})
        payload = _limited(decision, lambda: service.vayu.lookup(token, ref))
        return _json(200, payload, decision.headers())

    def _vayu_batch(dry_run: bool) -> Response[str]:
        event = app.current_event
        headers = event.headers or {}
        token, decision = admit(headers, event.query_string_parameters or {})

        def run() -> vayu.Answer:
            raw = body.raw_body(event.get("body"), bool(event.get("isBase64Encoded")))
            data = body.decode(
                raw,
                headers.get("content-encoding", ""),
                service.settings.max_compressed_bytes,
                vayu.MAX_BODY_BYTES,
            )
            if dry_run:
                return service.vayu.dry_run(token, data)
            request_id = event.request_context.request_id or app.lambda_context.aws_request_id
            time_left = app.lambda_context.get_remaining_time_in_millis() / 1000
            return service.vayu.submit(token, data, request_id, time_left)

        answer = _limited(decision, run)
        logger.info(
            "vayu events",
            extra={
                "datasource": target,
                "workspace": token.workspace_id,
                "dry_run": dry_run,
                "valid_events": len(answer.valid),
                "invalid_events": len(answer.invalid),
            },
        )
        if not dry_run:
            metrics.add_metric(name="ValidEvents", unit=MetricUnit.Count, value=len(answer.valid))
            metrics.add_metric(name="InvalidEvents", unit=MetricUnit.Count, value=len(answer.invalid))
        return _json(200, answer.body(), decision.headers())


def _datasource_routes(app: APIGatewayHttpResolver, service: Service) -> None:
    """Tinybird's Data Sources API: define a schema before sending rows, list, show (lakegate.ingest.datasources),
    and `POST /v0/analyze`: what the Events API would make of a batch, writing nothing."""
    limits = service.ingestor.limits
    api = DataSources(service.registry, limits)

    def caller() -> tuple[Token, dict[str, str]]:
        event = app.current_event
        query = event.query_string_parameters or {}
        return service.authenticate(event.headers or {}, query, time.time()), query

    @app.post("/v0/datasources")
    def create_datasource() -> Response[str]:
        token, query = caller()
        event = app.current_event
        raw = body.raw_body(event.get("body"), bool(event.get("isBase64Encoded")))
        # Tinybird's clients send the parameters in the query string or as a form body: both count.
        sent = datasources.body_params(raw, (event.headers or {}).get("content-type", ""))
        params = sent | {k: v for k, v in query.items() if k != "token"}
        ds, created = api.create(token, params)
        # Not `created`: a LogRecord attribute, which `extra` may not overwrite.
        logger.info("datasource defined", extra={"datasource": ds.name, "new_datasource": created})
        return _json(200, orjson.dumps({"datasource": describe(ds)}))

    @app.get("/v0/datasources")
    def list_datasources() -> Response[str]:
        token, _ = caller()
        return _json(200, orjson.dumps({"datasources": [describe(ds) for ds in api.list(token)]}))

    @app.get("/v0/datasources/<name>")
    def show_datasource(name: str) -> Response[str]:
        token, _ = caller()
        return _json(200, orjson.dumps(describe(api.show(token, unquote(name)))))

    @app.post("/v0/analyze")
    def analyze() -> Response[str]:
        token, query = caller()
        event = app.current_event
        raw = body.raw_body(event.get("body"), bool(event.get("isBase64Encoded")))
        data = body.decode(
            raw,
            (event.headers or {}).get("content-encoding", ""),
            service.settings.max_compressed_bytes,
            service.settings.max_decompressed_bytes,
        )
        return _json(200, orjson.dumps(api.analyze(token, query.get("name"), data)))


def _limited(decision: Decision, call: Callable[[], _T]) -> _T:
    """Run the work of an admitted request: its errors carry the rate-limit headers too."""
    try:
        return call()
    except LakegateError as e:
        e.headers.update(decision.headers())
        raise
    except StoreUnavailable as e:
        raise _unavailable(e, decision) from e


def _unavailable(e: StoreUnavailable, decision: Decision | None) -> Unavailable:
    logger.warning("store unavailable", extra={"reason": str(e)})
    error = Unavailable("The service is temporarily unavailable: no rows were inserted, retry later")
    if decision is not None:
        error.headers.update(decision.headers())
    return error


_app: APIGatewayHttpResolver | None = None


def _get_app() -> APIGatewayHttpResolver:
    global _app  # noqa: PLW0603 - one app per warm Lambda, built on the first request, not at import
    if _app is None:
        _app = build_app(Service.from_env())
    return _app


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    return _get_app().resolve(event, context)
