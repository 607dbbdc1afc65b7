"""moto's server app on a local endpoint, as `moto.server.ThreadedMotoServer` runs it, one AWS call at a time.

moto's backends are plain dicts and lists with no locks of their own, and its threaded server lets every
connection's thread into them at once: with several clients (the ingest's instances, the compactor, an
`aws` command) a call that iterates a table while another writes it fails with moto's 500
"dictionary changed size during iteration". Each call here takes one lock around moto's own handling;
the request body is read before, so a client that is slow to send holds only its own thread.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OneCallAtATime:
    """A WSGI app that runs the app it wraps under a lock, its response complete before the lock is let go."""

    def __init__(self, app: Wsgi) -> None:
        self._app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        _read_body(environ)
        with self.lock:
            result = self._app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


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
    # werkzeug writes a response's headers and body in two sends: with Nagle's algorithm the body
    # waits for the client's delayed ACK of the headers, ~40 ms a call (measured: 75 -> 43 ms a request).
    disable_nagle_algorithm = True


class MotoServer:
    """moto on host:port in a thread of this process; its backends are this process's moto backends."""

    def __init__(self, host: str, port: int) -> None:
        app = OneCallAtATime(DomainDispatcherApplication(create_backend_app))
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
