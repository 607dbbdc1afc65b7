"""`make run`: the real ingest handler behind a local HTTP API, backed by moto on a local AWS endpoint."""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from lakegate_local import aws
from lakegate_local.intrinsics import TemplateError
from lakegate_local.routing import Router
from lakegate_local.runtime import LocalFunction, lambda_environment
from lakegate_local.server import ApiServer
from lakegate_local.template import Stack, load_stack

REPO = Path(__file__).resolve().parents[2]
READY = "lakegate local server ready"


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


def _banner(api: str, endpoint: str, token: str, stack: Stack) -> str:
    stream = stack.raw_stream
    return f"""{READY}: api={api} aws={endpoint} bucket={stream.bucket}
  API:          {api}  ({", ".join(r.key for r in stack.function.routes)})
  AWS endpoint: {endpoint}  (moto: S3, DynamoDB, Firehose; any credentials, region us-east-1)
  Admin token:  {token}
  Bucket:       {stream.bucket}  (raw Firehose objects under {stream.listing_prefix})

Send an event (the Tinybird Events API reference's first example):
  curl -H "Authorization: Bearer {token}" -d '{{"date": "2020-04-05 00:05:38", "city": "Chicago"}}' \\
    '{api}/v0/events?name=events_test'
See what landed:
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws --endpoint-url {endpoint} --region us-east-1 \\
    s3 ls s3://{stream.bucket}/{stream.listing_prefix} --recursive
Stop with Ctrl-C."""


def main() -> int:
    template = Path(os.environ.get("LAKEGATE_TEMPLATE") or REPO / "template.yaml")
    try:
        stack = load_stack(template)
    except (OSError, TemplateError) as e:
        print(f"cannot read {template}: {e}", file=sys.stderr)
        return 1
    env = stack.function.environment
    tokens_table, cluster = _required(env, "TOKENS_TABLE"), _required(env, "CLUSTER_ID")

    aws_port, api_port = _port("AWS_ENDPOINT_PORT", 4566), _port("PORT", 8000)
    try:
        local_aws = aws.start(aws_port)
    except OSError as e:
        print(f"cannot serve AWS on 127.0.0.1:{aws_port} ({e}): set AWS_ENDPOINT_PORT", file=sys.stderr)
        return 1
    try:
        aws.create_resources(local_aws, stack)
        token = os.environ.get("ADMIN_TOKEN") or secrets.token_urlsafe(32)
        aws.seed_admin_token(local_aws, tokens_table, cluster, token)
        # Set before the handler is imported (on the first request), as Lambda sets it before a cold start.
        os.environ.update(lambda_environment(stack.function, local_aws.endpoint))
        function = LocalFunction(stack.function)
        api = ApiServer(("127.0.0.1", api_port), Router(stack.function.routes), function)
    except OSError as e:
        local_aws.stop()
        print(f"cannot serve the API on 127.0.0.1:{api_port} ({e}): set PORT", file=sys.stderr)
        return 1
    except BaseException:
        local_aws.stop()
        raise

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    serving = threading.Thread(target=api.serve_forever, name="api", daemon=True)
    serving.start()
    print(_banner(api.url, local_aws.endpoint, token, stack), flush=True)
    try:
        stop.wait()
    finally:
        api.shutdown()
        api.server_close()
        local_aws.stop()
    print("lakegate local server stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
