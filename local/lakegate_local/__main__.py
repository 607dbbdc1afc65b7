"""`make run`: the real ingest handler behind a local HTTP API, backed by moto on a local AWS endpoint."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from lakegate_local import aws, cfn_yaml, moto_expressions, moto_memo, moto_transactions
from lakegate_local.compactor_loop import CompactorLoop, rate_seconds
from lakegate_local.function_url import UrlRouter
from lakegate_local.instances import InstancePool
from lakegate_local.intrinsics import TemplateError
from lakegate_local.routing import Router
from lakegate_local.runtime import lambda_environment
from lakegate_local.server import ApiServer
from lakegate_local.template import Function, Stack, load_function, load_stack

REPO = Path(__file__).resolve().parents[2]
READY = "lakegate local server ready"
COMPACTOR = "CompactorFunction"
# The AWS endpoint's port unless AWS_ENDPOINT_PORT says otherwise, as the CLI's `--local` assumes it.
AWS_PORT = 4566
QUERY_EXAMPLE = "make query SQL='SELECT city, count(*) FROM events_test GROUP BY city'"


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise SystemExit(f"{name} must be a port number, got {raw!r}") from None


def _required(env: dict[str, str], name: str) -> str:
    if not env.get(name):
        raise SystemExit(f"template.yaml: the ingest function sets no {name}, the local server needs it")
    return env[name]


def default_instances(cores: int | None) -> int:
    """One warm ingest instance per core, at least 2 (a slow request leaves one free) and at most 4.

    Past the cores they only take turns on them: moto answers one call at a time, and each instance
    leases its own share of every rate-limit window (one more DynamoDB write each). On 2 cores,
    bench/local_server.py (100 keyed req/s, 3 runs each, alternating): 4 instances served 80-96 req/s at
    15.7-19.0 ms of CPU a request, 2 served 92-100 req/s at 14.1-15.6 ms."""
    return min(4, max(2, cores or 2))


def _instances() -> int:
    raw = os.environ.get("INGEST_INSTANCES", "")
    try:
        value = int(raw) if raw else default_instances(os.cpu_count())
    except ValueError:
        raise SystemExit(f"INGEST_INSTANCES must be a number of instances, got {raw!r}") from None
    if value < 1:
        raise SystemExit(f"INGEST_INSTANCES must be at least 1, got {raw!r}")
    return value


def _interval() -> float:
    raw = os.environ.get("COMPACT_INTERVAL_SECONDS", "")
    try:
        value = float(raw) if raw else 5.0
    except ValueError:
        raise SystemExit(f"COMPACT_INTERVAL_SECONDS must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"COMPACT_INTERVAL_SECONDS must be positive, got {raw!r}")
    return value


def _expiry_period(template: Path) -> float:
    """How often the TTL runs: template.yaml's ExpirySchedule, as deployed."""
    rule = cfn_yaml.load(template)["Resources"].get("ExpirySchedule")
    if rule is None:
        raise SystemExit(f"{template}: no ExpirySchedule rule, the local server runs TTL expiry as it says")
    return rate_seconds(rule["Properties"]["ScheduleExpression"])


def _front(stack: Stack) -> str:
    if stack.function_url is not None:
        return "a Function URL: every path and method reaches the function"
    return ", ".join(r.key for r in stack.function.routes)


def _banner(
    api: str, endpoint: str, token: str, stack: Stack, lake: Path, interval: float, instances: int
) -> str:
    """What is running and commands that work as printed: the Makefile's targets, run in the repository
    (its venv and PYTHONPATH), with this server's lake folder and endpoint when they are not the defaults."""
    stream = stack.raw_stream
    lake_env = "" if lake == (REPO / "lake").resolve() else f"LAKE_DIR={shlex.quote(str(lake))} "
    local = "--local" if endpoint == f"http://127.0.0.1:{AWS_PORT}" else f"--local --endpoint-url {endpoint}"
    # The AWS CLI is no requirement of the project: shown only where it is installed.
    aws_cli = (
        f"""
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws --endpoint-url {endpoint} --region us-east-1 \\
    s3 ls s3://{stream.bucket}/{stream.listing_prefix} --recursive"""
        if shutil.which("aws")
        else ""
    )
    return f"""{READY}: api={api} aws={endpoint} bucket={stream.bucket}
  API:          {api}  ({_front(stack)})
                {instances} warm instances of {stack.function.name}, one request at a time each
  AWS endpoint: {endpoint}  (moto: S3, DynamoDB, Firehose, Glue; any credentials, region us-east-1)
  Admin token:  {token}
  Bucket:       {stream.bucket}  (raw Firehose objects under {stream.listing_prefix})
  Lake on disk: {lake}  (raw objects compacted to Parquet every {interval:g} s, mirrored here)

Send an event (the Tinybird Events API reference's first example):
  curl -H "Authorization: Bearer {token}" -d '{{"date": "2020-04-05 00:05:38", "city": "Chicago"}}' \\
    '{api}/v0/events?name=events_test'
See what landed, in another terminal, in {REPO}:
  find {shlex.quote(str(lake))} -name '*.parquet'
  {lake_env}{QUERY_EXAMPLE}
  make lakegate ARGS='{local} datasources list'{aws_cli}
Stop with Ctrl-C."""


def _serve(
    api: ApiServer,
    pool: InstancePool,
    compactor: InstancePool,
    loop: CompactorLoop,
    interval: float,
    local_aws: aws.LocalAws,
    banner: str,
) -> None:
    """Serve the API and run the compactor loop until SIGINT or SIGTERM, then stop both cleanly."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    serving = threading.Thread(target=api.serve_forever, name="api", daemon=True)
    serving.start()
    compacting = threading.Thread(target=loop.run, args=(stop, interval), name="compactor", daemon=True)
    compacting.start()
    print(banner, flush=True)
    try:
        stop.wait()
    finally:
        api.shutdown()
        api.server_close()
        pool.close()
        # Rows accepted just before the stop still land: one last round once the loop has finished its own.
        compacting.join()
        loop.run_once()
        compactor.close()
        local_aws.stop()


def main() -> int:
    template = Path(os.environ.get("LAKEGATE_TEMPLATE") or REPO / "template.yaml")
    try:
        # FRONT_DOOR=FunctionUrl serves the function as template.yaml's FrontDoor parameter would.
        front_door = os.environ.get("FRONT_DOOR")
        stack = load_stack(template, parameters={"FrontDoor": front_door} if front_door else None)
        compactor: Function = load_function(template, COMPACTOR)
    except (OSError, TemplateError) as e:
        print(f"cannot read {template}: {e}", file=sys.stderr)
        return 1
    env = stack.function.environment
    tokens_table, cluster = _required(env, "TOKENS_TABLE"), _required(env, "CLUSTER_ID")
    lake_bucket, glue_database = (compactor.environment.get(k) for k in ("LAKE_BUCKET", "GLUE_DATABASE"))
    if not lake_bucket or not glue_database:
        print(f"template.yaml: {COMPACTOR} must set LAKE_BUCKET and GLUE_DATABASE", file=sys.stderr)
        return 1
    interval, instances, expire_every = _interval(), _instances(), _expiry_period(template)
    lake_dir = Path(os.environ.get("LAKE_DIR") or REPO / "lake").resolve()

    aws_port, api_port = _port("AWS_ENDPOINT_PORT", AWS_PORT), _port("PORT", 8000)
    # Ref claims are transactions: moto's own would copy the refs table once per item of each.
    moto_transactions.install()
    # moto's per-call lookups, made once: ~40% of its CPU per single-row request.
    moto_memo.install()
    # moto's UpdateExpression validation, cheaper: ~1.3 -> ~0.45 ms of its CPU an UpdateItem.
    moto_expressions.install()
    try:
        local_aws = aws.start(aws_port)
    except OSError as e:
        print(f"cannot serve AWS on 127.0.0.1:{aws_port} ({e}): set AWS_ENDPOINT_PORT", file=sys.stderr)
        return 1
    try:
        aws.create_resources(local_aws, stack)
        # The compactor's Glue database (AWS::Glue::Database in the template): tables appear as data lands.
        local_aws.glue().create_database(DatabaseInput={"Name": glue_database})
        token = os.environ.get("ADMIN_TOKEN") or secrets.token_urlsafe(32)
        aws.seed_admin_token(local_aws, tokens_table, cluster, token)
        # Set before the handler is imported (on the first request), as Lambda sets it before a cold start.
        os.environ.update(lambda_environment(stack.function, local_aws.endpoint))
        # Both handlers' instances inherit this process's environment: the compactor's own variables are added.
        for key, value in lambda_environment(compactor, local_aws.endpoint).items():
            os.environ.setdefault(key, value)
        # The compactor's instance is a process of its own, as the ingest's are: in this one it took the
        # GIL from moto, which serves every AWS call, for ~15% of the server's CPU under load.
        compactor_instance = InstancePool(compactor, 1, background=True)
        loop = CompactorLoop(
            compactor_instance,
            local_aws.s3(),
            lake_bucket,
            lake_dir,
            sys.stderr,
            objects=local_aws.objects(lake_bucket),
            expire_every=expire_every,
        )
        # Started once the environment is set: each instance's process inherits it.
        pool = InstancePool(stack.function, instances)
    except BaseException:
        local_aws.stop()
        raise
    try:
        url = stack.function_url
        routes = Router(stack.function.routes) if url is None else UrlRouter()
        api = ApiServer(("127.0.0.1", api_port), routes, pool, url=url)
    except OSError as e:
        pool.close()
        compactor_instance.close()
        local_aws.stop()
        print(f"cannot serve the API on 127.0.0.1:{api_port} ({e}): set PORT", file=sys.stderr)
        return 1

    banner = _banner(api.url, local_aws.endpoint, token, stack, lake_dir, interval, instances)
    _serve(api, pool, compactor_instance, loop, interval, local_aws, banner)
    print("lakegate local server stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
