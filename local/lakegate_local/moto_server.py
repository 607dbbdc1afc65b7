"""moto's server app on a local endpoint, as `moto.server.ThreadedMotoServer` runs it, one AWS call at a time.

moto's backends are plain dicts and lists with no locks of their own, and its threaded server lets every
connection's thread into them at once: with several clients (the ingest's instances, the compactor, an
`aws` command) a call that iterates a table while another writes it fails with moto's 500
"dictionary changed size during iteration". Each call here takes one lock around moto's own handling;
the request body is read before, so a client that is slow to send holds only its own thread.

Connections are kept alive, where werkzeug's development server closes each one after its answer: every
AWS call then cost a TCP connection and a server thread, and werkzeug waits up to 10 ms after each
answer for body bytes the client never sends (bench/local_server.py: a single-row request makes ~2-3
AWS calls).
"""

from __future__ import annotations

import io
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.exceptions import InternalServerError
from werkzeug.serving import BaseWSGIServer, make_server

from lakegate_local.moto_dispatch import DirectDispatch
from lakegate_local.runtime import BACKGROUND_APP_ID

_BACKGROUND = f"app/{BACKGROUND_APP_ID}"
# How long a kept-alive connection may wait for its next call (botocore opens another when it has closed).
IDLE_TIMEOUT_SECONDS = 300.0

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ForegroundFirst:
    """A lock that a background call takes when no foreground call is waiting for it, or once it has waited
    `patience` seconds: then the next holder hands it the lock, so that requests that keep moto busy slow
    background work down without stopping it.

    The compactor claims each record of a round in its own call, on 16 threads: with a plain lock the
    requests' calls queued among them. `with lock:` takes it as foreground."""

    def __init__(self, patience: float = 0.25) -> None:
        self._patience = patience
        self._guard = threading.Lock()
        self._foreground_turn = threading.Condition(self._guard)
        self._background_turn = threading.Condition(self._guard)
        self._overdue_turn = threading.Condition(self._guard)
        self._held = False
        self._foreground_waiting = 0
        self._overdue = 0  # background calls out of patience, each owed the lock on a release
        self._handed_over = False  # released to an overdue call that has not taken it yet

    def acquire(self, background: bool = False) -> None:
        with self._guard:
            if background:
                deadline = time.monotonic() + self._patience
                while self._held or self._foreground_waiting:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._wait_handed_over()
                        return
                    self._background_turn.wait(left)
            else:
                self._foreground_waiting += 1
                while self._held:
                    self._foreground_turn.wait()
                self._foreground_waiting -= 1
            self._held = True

    def _wait_handed_over(self) -> None:
        """Out of patience: a holder's release gives the lock to this call, still held, so that no call
        that comes after can take it first."""
        self._overdue += 1
        while not self._handed_over:
            self._overdue_turn.wait()
        self._handed_over = False
        self._overdue -= 1

    def release(self) -> None:
        with self._guard:
            if not self._held:
                raise RuntimeError("released a ForegroundFirst lock that is not held")
            if self._overdue and not self._handed_over:
                self._handed_over = True  # still held: the overdue call takes it as it is
                self._overdue_turn.notify()
                return
            self._held = False
            (self._foreground_turn if self._foreground_waiting else self._background_turn).notify()

    def __enter__(self) -> ForegroundFirst:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class OneCallAtATime:
    """A WSGI app that runs the app it wraps under a lock, its response complete before the lock is let go;
    calls from background work (BACKGROUND_APP_ID in their User-Agent) after the others, each waiting
    at most ForegroundFirst's patience for them."""

    def __init__(self, app: Wsgi) -> None:
        self._app = app
        self.lock = ForegroundFirst()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        _read_body(environ)
        self.lock.acquire(background=_BACKGROUND in environ.get("HTTP_USER_AGENT", ""))
        try:
            result = self._app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        finally:
            self.lock.release()


def _read_body(environ: dict[str, Any]) -> None:
    """The whole request body, read now and handed on from memory."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked: werkzeug de-chunks it and ends the stream
        body = stream.read()
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)


class _RequestHandler(MotoRequestHandler):
    """werkzeug's handler (moto's environ, its 100-continue) with HTTP/1.1 keep-alive: the app's answer is
    whole (OneCallAtATime) and its request body read to the end before the app runs, so the next request
    on the connection starts right after it."""

    # Headers and body go out in two sends: with Nagle's algorithm the body waits for the client's
    # delayed ACK of the headers, ~40 ms a call (measured: 75 -> 43 ms a request).
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    # An idle kept-alive connection gives its thread back after this long (the client opens another).
    timeout = IDLE_TIMEOUT_SECONDS

    def run_wsgi(self) -> None:
        environ = self.make_environ()
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer[:] = [status, headers]
            return _no_write

        try:
            body = b"".join(self.server.app(environ, start_response))
            status, headers = answer
        except Exception:  # noqa: BLE001 - as werkzeug: the client gets its 500 page, the server goes on
            self.server.log("error", f"Error on request:\n{traceback.format_exc()}")
            self.close_connection = True
            body = b"".join(InternalServerError()(environ, start_response))  # werkzeug's own 500 page
            status, headers = answer
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        head = self.command == "HEAD"
        for name, value in headers:
            # A body's length is what is sent; a HEAD answer keeps the length the app gave it.
            if head or name.lower() != "content-length":
                self.send_header(name, value)
        if not head and int(code) >= 200 and int(code) not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection or environ.get("wsgi.input_terminated"):
            # After a failure the body may be read in part, and a chunked body's trailer may be left
            # unread: no next request on this connection.
            self.send_header("Connection", "close")
        self.end_headers()
        if body and not head:
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced as aws.start silences werkzeug's logger: one line per AWS call would bury the handler's."""

    def log_error(self, format: str, *args: Any) -> None:
        # Closing a connection that stayed idle past its timeout is routine, not an error.
        if not format.startswith("Request timed out"):
            super().log_error(format, *args)


def _no_write(data: bytes) -> None:
    raise NotImplementedError("moto's app answers through its iterable, never write()")


class MotoServer:
    """moto on host:port in a thread of this process; its backends are this process's moto backends."""

    def __init__(self, host: str, port: int) -> None:
        app = OneCallAtATime(DirectDispatch(DomainDispatcherApplication(create_backend_app)))
        # Held by every AWS call; whoever touches moto's backends in this process directly holds it too.
        self.lock = app.lock
        # Binds now: werkzeug answers a busy port with sys.exit, so callers check the port first.
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_RequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
