"""IngestFunction: the Events API behind an HTTP API. Thin: read the event, call one use case, map the answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

import orjson
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.metrics import MetricUnit

from lakegate.aws import clients
from lakegate.aws.firehose import FirehoseSink
from lakegate.aws.rate_limits import DynamoWindowCounters
from lakegate.aws.refs import DynamoRefStore
from lakegate.aws.registry import DynamoRegistry
from lakegate.aws.tokens import DynamoTokenStore
from lakegate.config import Settings
from lakegate.errors import LakegateError, NotFound, StoreUnavailable, Unavailable
from lakegate.http import JSON, documentation, error_response, internal_error_body
from lakegate.ingest import body, vayu
from lakegate.ingest.admission import Access, Admission, Admitted
from lakegate.ingest.auth import api_token, issue_access_token, token_from_request
from lakegate.ingest.events import Ingestor, IngestResult
from lakegate.ingest.rate_limits import LeasingRateLimiter
from lakegate.ingest.registry import CachedRegistry
from lakegate.ingest.tokens import CachedTokenStore
from lakegate.ingest.vayu import VayuEvents
from telemetry import Tally, sampled

if TYPE_CHECKING:
    from lakegate.ingest.datasources import DataSources

logger = Logger()  # service name and level come from POWERTOOLS_SERVICE_NAME and LOG_LEVEL
metrics = Metrics()  # printed by the Tally (telemetry.py): sums over invocations, not one document each

_T = TypeVar("_T")
_CORS_HEADERS = ["Authorization", "Content-Type", "Content-Encoding"]
_EXPOSED = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"]


@dataclass
class Service:
    """The use cases a request may call, wired to AWS once per warm Lambda."""

    settings: Settings
    admission: Admission
    ingestor: Ingestor
    vayu: VayuEvents
    registry: CachedRegistry

    @cached_property
    def datasources(self) -> DataSources:
        """The Data Sources API, built (and its modules imported: schema definitions, alter, retention)
        by the first request of one of its routes, not on every cold start: /v0/events never needs it.
        bench/ingest.py times that first request as well as the events route's."""
        from lakegate.ingest.datasources import DataSources

        return DataSources(self.registry, self.settings.limits)

    @classmethod
    def from_env(cls) -> Service:
        settings = Settings.from_env()
        ddb = clients.dynamodb()
        tokens = CachedTokenStore(
            DynamoTokenStore(settings.tokens_table, ddb), settings.token_cache_ttl_seconds, time.monotonic
        )
        registry = CachedRegistry(DynamoRegistry(settings.datasources_table, ddb), 10.0, time.monotonic)
        sink = FirehoseSink(settings.delivery_stream, clients.firehose())
        refs = DynamoRefStore(settings.refs_table, ddb)
        admission = Admission(
            tokens,
            registry,
            LeasingRateLimiter(DynamoWindowCounters(settings.rate_limits_table, ddb)),
            settings.cluster_id,
            settings.datasource_rate_limit,
            settings.workspace_rate_limit,
            time.time,
        )
        limits = settings.limits
        return cls(
            settings,
            admission,
            Ingestor(registry, sink, refs, limits, time.time, time.sleep),
            VayuEvents(
                registry,
                sink,
                refs,
                settings.vayu_datasource,
                settings.send_budget_seconds,
                time.time,
                time.sleep,
            ),
            registry,
        )


def _events_answer(result: IngestResult) -> bytes:
    answer: dict[str, object] = {
        "successful_rows": result.successful_rows,
        "quarantined_rows": result.quarantined_rows,
    }
    if result.duplicate_rows:
        answer["duplicate_rows"] = result.duplicate_rows
    if result.fields_not_stored:  # their rows are quarantined: the data source is at its column cap
        answer["fields_not_stored"] = list(result.fields_not_stored)
        logger.warning("fields past the column limit", extra={"fields": answer["fields_not_stored"]})
    return orjson.dumps(answer)


def _json(status: int, payload: bytes, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=payload.decode(), headers=headers or {})


def build_app(service: Service, tally: Tally) -> APIGatewayHttpResolver:
    """Routes and error mapping; CORS (preflight included) is answered here and only here behind the HTTP
    API (a Function URL answers it from its configuration). Failures are
    always logged; a successful request only when it is one of the sample (LOG_SAMPLE_RATE)."""
    settings = service.settings
    origins = [o.strip() for o in settings.cors_allow_origin.split(",") if o.strip()] or ["*"]
    # Behind a Function URL, the URL's own configuration answers CORS (template.yaml): one place only.
    cors = CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:] or None,
        allow_headers=_CORS_HEADERS,
        expose_headers=_EXPOSED,
        max_age=600,
    )
    app = APIGatewayHttpResolver(cors=cors if settings.front_door == "HttpApi" else None)

    def credential() -> str | None:
        event = app.current_event
        return token_from_request(event.headers or {}, event.query_string_parameters or {})

    def request_body(max_decompressed: int) -> tuple[bytes, bytes]:
        """The body as sent and as decoded (gzip, zstd), each within its cap."""
        event = app.current_event
        headers = event.headers or {}
        as_text = not event.get("isBase64Encoded")
        raw = body.raw_body(event.get("body"), not as_text)
        text_type = (headers.get("content-type", "") or "text/plain") if as_text else ""
        encoding = headers.get("content-encoding", "")
        return raw, body.decode(raw, encoding, settings.max_compressed_bytes, max_decompressed, text_type)

    def request_id() -> str:
        return app.current_event.request_context.request_id or app.lambda_context.aws_request_id

    def time_left() -> float:
        return app.lambda_context.get_remaining_time_in_millis() / 1000

    @app.post("/v0/events")
    def events() -> Response[str]:
        query = app.current_event.query_string_parameters or {}
        admitted = service.admission.admit(credential(), query.get("name"), Access.EVENTS)
        token, name = admitted.token, admitted.name  # `name=` may be the data source's id
        wait = query.get("wait", "false").lower() in ("true", "1")

        def run() -> Response[str]:
            raw, data = request_body(settings.max_decompressed_bytes)
            rid = request_id()
            logger.append_keys(datasource=name, workspace=token.workspace_id, wait=wait, import_id=rid)
            result = service.ingestor.ingest(token, name, data, rid, wait=wait, time_left=time_left())
            tally.add_metric(name="SuccessfulRows", unit=MetricUnit.Count, value=result.successful_rows)
            tally.add_metric(name="QuarantinedRows", unit=MetricUnit.Count, value=result.quarantined_rows)
            tally.add_metric(name="BytesReceived", unit=MetricUnit.Bytes, value=len(raw))
            if sampled(settings.log_sample_rate) or result.created:
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
            return _json(200 if wait else 202, _events_answer(result), admitted.decision.headers())

        return _limited(admitted, run)

    _vayu_routes(app, service, tally, credential, request_body, request_id, time_left)
    _datasource_routes(app, service, credential, request_body)

    def docs() -> str:
        return documentation(settings.documentation_url, app.current_event.raw_path or "")

    def domain_error(e: LakegateError) -> Response[str]:
        status, payload, headers = error_response(e, docs())
        logger.info("rejected", extra={"status": status, "reason": e.message})
        tally.add_metric(name=f"Status{status // 100}xx", unit=MetricUnit.Count, value=1)
        return _json(status, payload, headers)

    def store_unavailable(e: StoreUnavailable) -> Response[str]:
        return domain_error(_unavailable(e, None))

    def unexpected(e: Exception) -> Response[str]:
        logger.exception("unexpected error")
        tally.add_metric(name="Status5xx", unit=MetricUnit.Count, value=1)
        return _json(500, internal_error_body(docs()))

    # Registered by call, not decorator: powertools' decorator is untyped and would untype these.
    app.exception_handler(LakegateError)(domain_error)
    app.exception_handler(StoreUnavailable)(store_unavailable)
    app.exception_handler(Exception)(unexpected)
    # Without this the catch-all above would answer a path no route serves with a 500.
    app.not_found(lambda _: domain_error(NotFound(f"No route for {app.current_event.path}")))
    return app


def _vayu_routes(
    app: APIGatewayHttpResolver,
    service: Service,
    tally: Tally,
    credential: Callable[[], str | None],
    request_body: Callable[[int], tuple[bytes, bytes]],
    request_id: Callable[[], str],
    time_left: Callable[[], float],
) -> None:
    """Vayu's batch API: `POST /events`, `POST /events/dry-run`, `GET /events/{ref}` (lakegate.ingest.vayu),
    and `POST /login`, where Vayu's SDKs exchange the API token for the access token they send."""
    target = service.settings.vayu_datasource

    def admit() -> Admitted:
        """Admission on the target, an access token from `POST /login` standing for its API token."""
        plain = credential()
        return service.admission.admit(
            api_token(plain, time.time()) if plain else None, target, Access.APPEND
        )

    @app.post("/login")
    def vayu_login() -> Response[str]:
        event = app.current_event
        plain = vayu.parse_login(body.raw_body(event.get("body"), bool(event.get("isBase64Encoded"))))
        admitted = service.admission.admit(plain, target, Access.APPEND)
        access = issue_access_token(plain, time.time(), admitted.token.expires_at)
        if sampled(service.settings.log_sample_rate):
            logger.info("vayu login", extra={"workspace": admitted.token.workspace_id})
        return _json(200, orjson.dumps({"accessToken": access}), admitted.decision.headers())

    @app.post("/events")
    def vayu_events() -> Response[str]:
        return _vayu_batch(dry_run=False)

    # Vayu's API text says the batch goes "in the PUT request to '/events'" (its curl and SDKs POST):
    # both are served alike.
    @app.put("/events")
    def vayu_events_put() -> Response[str]:
        return _vayu_batch(dry_run=False)

    @app.post("/events/dry-run")
    def vayu_dry_run() -> Response[str]:
        return _vayu_batch(dry_run=True)

    @app.get("/events/<ref>")
    def vayu_event(ref: str) -> Response[str]:
        # API Gateway passes the path parameter decoded; powertools' match is the raw path segment.
        ref = app.current_event.path_parameters.get("ref") or unquote(ref)
        admitted = admit()
        payload = _limited(admitted, lambda: service.vayu.lookup(admitted.token, ref))
        return _json(200, payload, admitted.decision.headers())

    def _vayu_batch(dry_run: bool) -> Response[str]:
        admitted = admit()
        token = admitted.token

        def run() -> vayu.Answer:
            _, data = request_body(vayu.MAX_BODY_BYTES)
            if dry_run:
                return service.vayu.dry_run(token, data)
            return service.vayu.submit(token, data, request_id(), time_left())

        answer = _limited(admitted, run)
        if sampled(service.settings.log_sample_rate):
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
            tally.add_metric(name="ValidEvents", unit=MetricUnit.Count, value=len(answer.valid))
            tally.add_metric(name="InvalidEvents", unit=MetricUnit.Count, value=len(answer.invalid))
        return _json(200, answer.body(), admitted.decision.headers())


def _datasource_routes(
    app: APIGatewayHttpResolver,
    service: Service,
    credential: Callable[[], str | None],
    request_body: Callable[[int], tuple[bytes, bytes]],
) -> None:
    """Tinybird's Data Sources API: define a schema before sending rows, list, show (lakegate.ingest.datasources),
    and `POST /v0/analyze`: what the Events API would make of a batch, writing nothing.
    Its module is imported by the first request of one of these routes (Service.datasources)."""

    @app.post("/v0/datasources")
    def create_datasource() -> Response[str]:
        from lakegate.ingest.datasources import body_params, describe

        token = service.admission.authenticate(credential())
        event = app.current_event
        raw = body.raw_body(event.get("body"), bool(event.get("isBase64Encoded")))
        # Tinybird's clients send the parameters in the query string or as a form body: both count.
        sent = body_params(raw, (event.headers or {}).get("content-type", ""))
        query = event.query_string_parameters or {}
        params = sent | {k: v for k, v in query.items() if k != "token"}
        ds, created = service.datasources.create(token, params)
        # Not `created`: a LogRecord attribute, which `extra` may not overwrite.
        logger.info("datasource defined", extra={"datasource": ds.name, "new_datasource": created})
        return _json(200, orjson.dumps({"datasource": describe(ds)}))

    @app.get("/v0/datasources")
    def list_datasources() -> Response[str]:
        from lakegate.ingest.datasources import describe

        token = service.admission.authenticate(credential())
        return _json(
            200, orjson.dumps({"datasources": [describe(ds) for ds in service.datasources.list(token)]})
        )

    @app.get("/v0/datasources/<name>")
    def show_datasource(name: str) -> Response[str]:
        from lakegate.ingest.datasources import describe

        token = service.admission.authenticate(credential())
        return _json(200, orjson.dumps(describe(service.datasources.show(token, unquote(name)))))

    @app.post("/v0/datasources/<name>/alter")
    def alter_datasource(name: str) -> Response[str]:
        from lakegate.ingest.datasources import body_params, describe

        token = service.admission.authenticate(credential())
        event = app.current_event
        raw = body.raw_body(event.get("body"), bool(event.get("isBase64Encoded")))
        sent = body_params(raw, (event.headers or {}).get("content-type", ""))
        query = event.query_string_parameters or {}
        params = sent | {k: v for k, v in query.items() if k != "token"}
        ds = service.datasources.alter(token, unquote(name), params)
        logger.info("datasource altered", extra={"datasource": ds.name, "version": ds.version})
        return _json(200, orjson.dumps({"datasource": describe(ds)}))

    @app.post("/v0/analyze")
    def analyze() -> Response[str]:
        token = service.admission.authenticate(credential())
        _, data = request_body(service.settings.max_decompressed_bytes)
        name = (app.current_event.query_string_parameters or {}).get("name")
        return _json(200, orjson.dumps(service.datasources.analyze(token, name, data)))


def _limited(admitted: Admitted, call: Callable[[], _T]) -> _T:
    """Run the work of an admitted request: its errors carry the rate-limit headers too."""
    try:
        return call()
    except LakegateError as e:
        e.headers.update(admitted.decision.headers())
        raise
    except StoreUnavailable as e:
        raise _unavailable(e, admitted) from e


def _unavailable(e: StoreUnavailable, admitted: Admitted | None) -> Unavailable:
    logger.warning("store unavailable", extra={"reason": str(e)})
    error = Unavailable("The service is temporarily unavailable: no rows were inserted, retry later")
    if admitted is not None:
        error.headers.update(admitted.decision.headers())
    return error


_app: APIGatewayHttpResolver | None = None
_tally: Tally | None = None


def _get_app() -> APIGatewayHttpResolver:
    global _app, _tally  # noqa: PLW0603 - one app per warm Lambda, built on the first request, not at import
    if _app is None:
        service = Service.from_env()
        _tally = Tally(metrics, service.settings.metrics_flush_seconds, time.monotonic)
        _app = build_app(service, _tally)
    return _app


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`context`: Lambda's context object, or a stand-in with its attributes (lakegate_local.runtime)."""
    app = _get_app()
    assert _tally is not None, "built with the app"
    _tally.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    try:
        return app.resolve(event, context)
    finally:
        _tally.flush_if_due()
