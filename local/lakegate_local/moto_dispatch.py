"""moto's server app without Flask around each call: the backend's own handler, called as Flask would call it.

moto's server wraps every service in a Flask app whose one job, per AWS call, is to match the URL to a
handler (`convert_to_flask_response`) and call it with the request. Flask's part costs more than it does:
a request and app context pushed and popped, a request class that asks the app's config for its size
limits on every read, after-request hooks (CORS headers no AWS client reads), and moto's Flask app runs
with `debug=True`. Under the local server's load that was ~15% of the one process that serves moto
(bench/local_server.py, py-spy in GIL mode). Here the same URL map picks the same handler and it gets the
same request moto's Flask app would give it (moto's server-side Request, built on the same environ), and
the same answer: the handler's (status, headers, body), a moto or werkzeug HTTP error as its own
response, botocore's ClientError as the 400 moto's wrapper makes of it. Anything else (moto's own API and
dashboard, a URL no rule matches) still goes through moto's Flask app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError
from flask import Response
from moto.core.request import Request
from moto.core.utils import convert_to_flask_response
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from werkzeug.exceptions import HTTPException
from werkzeug.routing import MapAdapter

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ServerRequest(Request):
    """moto's request as its server makes it (moto_server's BackendRequest without Flask's half)."""

    from_wsgi_server = True


class DirectDispatch:
    """A WSGI app: moto's DomainDispatcherApplication, calling each service's handler without Flask."""

    def __init__(self, dispatcher: DomainDispatcherApplication) -> None:
        self._dispatcher = dispatcher

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = self._dispatcher.get_application(environ)
        if getattr(app, "service", None) == "moto_api":  # its pages need Flask's templates
            return app(environ, start_response)
        adapter: MapAdapter = app.url_map.bind_to_environ(environ)
        try:
            endpoint, _ = adapter.match()
        except HTTPException:  # no rule: Flask answers it (404, 405, a redirect) as moto's server does
            return app(environ, start_response)
        view = app.view_functions[endpoint]
        if not isinstance(view, convert_to_flask_response):
            return app(environ, start_response)
        return _call(view.callback, environ)(environ, start_response)


def _call(handler: Callable[..., Any], environ: dict[str, Any]) -> Response | HTTPException:
    """What `convert_to_flask_response` and Flask together answer for one call of `handler`."""
    request = ServerRequest(environ)
    try:
        recorder._record_request(request)
        try:
            result = handler(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
    except HTTPException as e:  # Flask answers an HTTP error raised by a view with the error itself
        return e
    status, headers, content = result if len(result) == 3 else (200, {}, result)
    # Flask's Response, for its default content type (text/html), which a handler may leave as it is.
    response = Response(response=content, status=status, headers=headers)
    if request.method == "HEAD" and "content-length" in headers:
        response.headers["Content-Length"] = headers["content-length"]
    return response
