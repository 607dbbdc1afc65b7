"""moto's app behind one lock: calls take turns, each answered whole, each body read before its turn."""

import io
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from lakegate_local.moto_server import OneCallAtATime


class App:
    """A WSGI app that notes how many calls are inside it at once, and what body each one read."""

    def __init__(self) -> None:
        self.inside = self.most = 0
        self.bodies: list[bytes] = []
        self.closed = 0
        self._guard = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._guard:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.01)  # long enough for the other threads to try to come in
        self.bodies.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        with self._guard:
            self.inside -= 1
        return self._body()

    def _body(self) -> Iterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            self.closed += 1


def _environ(body: bytes, **extra: Any) -> dict[str, Any]:
    return {"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))} | extra


def test_calls_take_turns() -> None:
    app = App()
    wrapped = OneCallAtATime(app)
    answers: list[list[bytes]] = []

    def call(n: int) -> None:
        answers.append(list(wrapped(_environ(b"x%d" % n), lambda *a: None)))

    threads = [threading.Thread(target=call, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert app.most == 1
    assert answers == [[b"ab"]] * 8  # produced under the lock, whole
    assert app.closed == 8
    assert sorted(app.bodies) == sorted(b"x%d" % n for n in range(8))


def test_exactly_the_declared_body_is_read() -> None:
    app = App()
    stream = io.BytesIO(b"0123456789 and what comes after")
    environ = {"wsgi.input": stream, "CONTENT_LENGTH": "10"}

    list(OneCallAtATime(app)(environ, lambda *a: None))

    assert app.bodies == [b"0123456789"]
    assert stream.tell() == 10


def test_a_chunked_body_is_read_to_its_end() -> None:
    app = App()
    environ = {"wsgi.input": io.BytesIO(b"chunks, de-chunked"), "wsgi.input_terminated": True}

    list(OneCallAtATime(app)(environ, lambda *a: None))

    assert app.bodies == [b"chunks, de-chunked"]


def test_no_body() -> None:
    app = App()

    list(OneCallAtATime(app)({"wsgi.input": io.BytesIO(b"ignored")}, lambda *a: None))

    assert app.bodies == [b""]
