"""The local front door: API Gateway's HTTP API (routes, body cap, its own errors) or a Lambda Function URL
(every path, its CORS configuration), before the real handler."""

from __future__ import annotations

import base64
import os
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, TextIO

from lakegate_local.apigw import (
    MAX_BODY_BYTES,
    HttpRequest,
    HttpResponse,
    MalformedResponseError,
    RequestInfo,
    build_event,
    message,
    to_response,
)
from lakegate_local.function_url import preflight, with_cors
from lakegate_local.routing import Match
from lakegate_local.template import FunctionUrl


class Routes(Protocol):
    def match(self, method: str, path: str) -> Match | None: ...


class Invoker(Protocol):
    def invoke(self, event: dict[str, Any]) -> Any: ...


class _BadRequestError(ValueError):
    """A body that cannot be framed (bad Content-Length or chunking)."""


class _TooLargeError(ValueError):
    """A body over HTTP API's cap."""


# How long a connection may wait for its next request, and a request's body may take to arrive, before the
# server closes it: without them a client that declares a body and never sends it, or leaves a kept-alive
# connection open, holds a thread for ever. The local server's own choice: 30 s is also the longest an
# HTTP API waits for its integration, so no request lasts longer in AWS.
IDLE_TIMEOUT_SECONDS = 60.0
BODY_TIMEOUT_SECONDS = 30.0


class ApiServer(ThreadingHTTPServer):
    """One thread per connection, like API Gateway's front; `function` decides how many calls run at once
    (the local server's InstancePool: one per warm instance)."""

    daemon_threads = True
    # socketserver listens with a backlog of 5: connections opened at once past that (a load test's
    # 64 and its stalled clients) were taken seconds later, or never: the client believed it was
    # connected while the kernel retried the handshake (bench/local_server.py: 7 of 20 idle clients
    # still unanswered after 120 s).
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        router: Routes,
        function: Invoker,
        log: TextIO | None = None,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        body_timeout: float = BODY_TIMEOUT_SECONDS,
        url: FunctionUrl | None = None,
    ) -> None:
        super().__init__(address, _RequestHandler)
        self.router = router
        self.function_url = url  # a Function URL's CORS, when that is the front door (function_url.UrlRouter)
        self.function = function
        self.log = log or sys.stderr
        self.idle_timeout = idle_timeout
        self.body_timeout = body_timeout

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up before its answer (one that gave up on a stalled body, say) is
        # routine: one line, not socketserver's traceback.
        if isinstance(sys.exception(), ConnectionError):
            self.log.write(f"{client_address[0]} closed the connection before its answer\n")
            return
        super().handle_error(request, client_address)


def _request_id() -> str:
    # API Gateway's request ids look like `JKJaXmPLvHcESHA=`.
    return base64.b64encode(os.urandom(10)).decode("ascii")


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two sends (_write): with Nagle's algorithm the body would wait for
    # the client's delayed ACK of the headers, ~40 ms a response.
    disable_nagle_algorithm = True
    server: ApiServer

    # Every method goes through the routes, as in API Gateway: a route may be `ANY`.
    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _handle(self) -> None:
        started = time.monotonic()
        info = RequestInfo(_request_id())
        response = self._respond(info)
        self._write(response)
        path = self.path.partition("?")[0]  # never the query: it may hold `?token=`
        ms = (time.monotonic() - started) * 1000
        request = f'{self.client_address[0]} "{self.command} {path}"'
        self.server.log.write(f"{request} {response.status} {ms:.1f}ms {info.request_id}\n")
        self.server.log.flush()

    def setup(self) -> None:
        super().setup()
        # Every blocking read or write on the connection gives up after this long.
        self.connection.settimeout(self.server.idle_timeout)

    def _respond(self, info: RequestInfo) -> HttpResponse:
        deadline = time.monotonic() + self.server.body_timeout
        try:
            body = self._read_body(deadline)
        except TimeoutError:
            self.close_connection = True
            self._log_error(info, f"the body did not arrive within {self.server.body_timeout:g} s")
            return message(408, "Request Timeout", info.request_id)
        except _TooLargeError:
            self.close_connection = True  # the rest of the body is never read
            return message(413, "Request Entity Too Large", info.request_id)
        except _BadRequestError:
            self.close_connection = True
            return message(400, "Bad Request", info.request_id)
        url = self.server.function_url
        lowered = {name.lower(): value for name, value in self.headers.items()}
        if url is not None and (answer := preflight(url, self.command, lowered, info.request_id)):
            return answer
        match = self.server.router.match(self.command, self.path.partition("?")[0])
        if match is None:
            return message(404, "Not Found", info.request_id)
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            server_port=self.server.server_address[1],
            protocol=self.request_version,
        )
        try:
            result = self.server.function.invoke(build_event(request, match, info))
            response = to_response(result, info.request_id)
            return response if url is None else with_cors(url, response, lowered)
        except MalformedResponseError as e:
            self._log_error(info, f"malformed Lambda response: {e}")
        except Exception:  # noqa: BLE001 - any function error is API Gateway's 500, never a crash
            self._log_error(info, traceback.format_exc())
        return message(500, "Internal Server Error", info.request_id)

    def _read_body(self, deadline: float) -> bytes:
        try:
            return self._read_framed_body(deadline)
        finally:
            self.connection.settimeout(self.server.idle_timeout)

    def _read_framed_body(self, deadline: float) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(deadline)
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError as e:
            raise _BadRequestError(raw_length) from e
        if length < 0:
            raise _BadRequestError(raw_length)
        if length > MAX_BODY_BYTES:
            raise _TooLargeError
        return self._read_exactly(length, deadline)

    def _until(self, deadline: float) -> None:
        """The next reads may wait only what is left until `deadline` (TimeoutError after)."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.connection.settimeout(left)

    def _read_exactly(self, length: int, deadline: float) -> bytes:
        # In pieces, so that a client trickling its body cannot stretch the deadline read by read.
        chunks: list[bytes] = []
        while length:
            self._until(deadline)
            chunk = self.rfile.read1(min(length, 1 << 16))
            if not chunk:
                raise _BadRequestError("the body ended early")
            chunks.append(chunk)
            length -= len(chunk)
        return b"".join(chunks)

    def _read_chunked(self, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            self._until(deadline)
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                length = int(line, 16)
            except ValueError as e:
                raise _BadRequestError("chunk size") from e
            if length == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    self._until(deadline)  # trailers
                return b"".join(chunks)
            size += length
            if size > MAX_BODY_BYTES:
                raise _TooLargeError
            chunks.append(self._read_exactly(length, deadline))
            self._until(deadline)
            self.rfile.readline(1024)  # the CRLF after the chunk

    def _write(self, response: HttpResponse) -> None:
        # Not send_response(): it adds a `Server` header API Gateway does not send, and logs the
        # request line, query string (and so a `?token=`) included.
        self.send_response_only(response.status)
        self.send_header("date", self.date_time_string())
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _log_error(self, info: RequestInfo, detail: str) -> None:
        self.server.log.write(f"request {info.request_id} failed: {detail}\n")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: the request line holds the query string, and so any `?token=` (see _handle)."""

    def log_error(self, format: str, *args: Any) -> None:
        # http.server's one timeout: a connection that sent no (whole) request line or headers in time.
        # Closing an idle kept-alive connection is routine, not an error.
        if not format.startswith("Request timed out"):
            super().log_error(format, *args)

    def log_message(self, format: str, *args: Any) -> None:
        # Only http.server's own protocol errors come here now; they carry no query string.
        self.server.log.write(f"{self.client_address[0]} {format % args}\n")
