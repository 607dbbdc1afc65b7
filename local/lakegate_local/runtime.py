"""Lambda's side of a local invocation: the function's environment, its context object, one call at a time."""

from __future__ import annotations

import importlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lakegate_local.template import PSEUDO, Function

Handler = Callable[[dict[str, Any], Any], Any]

# The app id (botocore's `AWS_SDK_UA_APP_ID`, `app/<id>` in every call's User-Agent) of background work's
# AWS calls: the local moto serves calls without it first (lakegate_local.moto_server.ForegroundFirst).
BACKGROUND_APP_ID = "lakegate-local-background"


def lambda_environment(function: Function, aws_endpoint: str) -> dict[str, str]:
    """The template's variables plus what Lambda itself sets, with every AWS client aimed at moto."""
    return {
        **function.environment,
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": PSEUDO.region,
        "AWS_REGION": PSEUDO.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        # As `sam local` does: Powertools then keeps X-Ray tracing off.
        "AWS_SAM_LOCAL": "true",
    }


@dataclass(frozen=True, slots=True)
class LambdaContext:
    """The attributes and method of the context object Lambda's Python runtime passes a handler."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float
    clock: Callable[[], float] = time.time
    identity: None = None
    client_context: None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


def fake_context(
    function_name: str = "IngestFunction", request_id: str = "local", timeout_seconds: float = 15.0
) -> LambdaContext:
    """A context for a handler called directly (tests, bench): the function's whole timeout ahead."""
    return LambdaContext(
        function_name=function_name,
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:{PSEUDO.region}:{PSEUDO.account_id}:function:{function_name}",
        memory_limit_in_mb=1024,
        aws_request_id=request_id,
        log_group_name=f"/aws/lambda/{function_name}",
        log_stream_name="local",
        deadline=time.time() + timeout_seconds,
    )


class LocalFunction:
    """One warm instance of a template function: imported on the first call, then kept.

    A Lambda instance serves one request at a time, and handlers are written for that (module-level
    caches, one boto3 client, Powertools' per-request logger keys), so calls are serialised with a
    lock even though the HTTP server runs a thread per connection.
    """

    def __init__(
        self,
        function: Function,
        clock: Callable[[], float] = time.time,
        importer: Callable[[str], Any] = importlib.import_module,
    ) -> None:
        self._function = function
        self._clock = clock
        self._importer = importer
        self._lock = threading.Lock()
        self._handler: Handler | None = None
        self._log_stream = f"{time.strftime('%Y/%m/%d', time.gmtime(clock()))}/[$LATEST]{uuid.uuid4().hex}"

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler with a fresh context; its result goes through JSON as Lambda's would."""
        with self._lock:
            handler = self._load()
            result = handler(event, self._context())
            # Lambda serialises the result: what does not survive json.dumps is a function error.
            return json.loads(json.dumps(result))

    def _load(self) -> Handler:
        # Imported on the first call, as a cold start does, so the module reads the environment
        # the server has set by then.
        if self._handler is None:
            module_name, _, attribute = self._function.handler.rpartition(".")
            handler = getattr(self._importer(module_name), attribute)
            if not callable(handler):
                raise TypeError(f"{self._function.handler} is not callable")
            self._handler = handler
        return self._handler

    def _context(self) -> LambdaContext:
        f = self._function
        return LambdaContext(
            function_name=f.name,
            function_version="$LATEST",
            invoked_function_arn=f.arn,
            memory_limit_in_mb=f.memory_mb,
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{f.name}",
            log_stream_name=self._log_stream,
            deadline=self._clock() + f.timeout_seconds,
            clock=self._clock,
        )
