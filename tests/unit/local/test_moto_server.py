"""moto's app behind one lock: calls take turns, each answered whole, each body read before its turn, the
requests' calls before background work's."""

import io
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import botocore.session
import pytest

from lakegate_local.moto_server import ForegroundFirst, OneCallAtATime
from lakegate_local.runtime import BACKGROUND_APP_ID


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


def _waiting_for(lock: ForegroundFirst, background: bool, order: list[str], name: str) -> threading.Thread:
    def take() -> None:
        lock.acquire(background=background)
        order.append(name)
        lock.release()

    thread = threading.Thread(target=take)
    thread.start()
    return thread


def _settle() -> None:
    time.sleep(0.05)  # long enough for a started thread to reach the lock and wait


def test_a_foreground_call_goes_before_background_calls_that_waited_longer() -> None:
    lock, order = ForegroundFirst(), list[str]()
    lock.acquire()
    first_background = _waiting_for(lock, True, order, "background 1")
    second_background = _waiting_for(lock, True, order, "background 2")
    _settle()
    foreground = _waiting_for(lock, False, order, "foreground")
    _settle()

    lock.release()
    for t in (first_background, second_background, foreground):
        t.join(5)

    assert order[0] == "foreground"
    assert sorted(order[1:]) == ["background 1", "background 2"]


def test_a_background_call_does_not_slip_in_ahead_of_a_waiting_foreground_call() -> None:
    lock, order = ForegroundFirst(), list[str]()
    lock.acquire()
    foreground = _waiting_for(lock, False, order, "foreground")
    _settle()

    lock.release()
    lock.acquire(background=True)  # the lock is free, but the foreground call is still waking up
    order.append("background")
    lock.release()
    foreground.join(5)

    assert order == ["foreground", "background"]


def test_background_calls_take_the_lock_when_no_foreground_call_waits() -> None:
    lock, order = ForegroundFirst(), list[str]()
    with lock:
        waiting = [_waiting_for(lock, True, order, f"background {n}") for n in range(3)]
        _settle()
    for t in waiting:
        t.join(5)

    assert sorted(order) == ["background 0", "background 1", "background 2"]


def test_one_holder_at_a_time_in_either_lane() -> None:
    lock, inside, most = ForegroundFirst(), [0], [0]

    def work(background: bool) -> None:
        for _ in range(50):
            lock.acquire(background=background)
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            time.sleep(0.0005)
            inside[0] -= 1
            lock.release()

    threads = [threading.Thread(target=work, args=(n % 2 == 0,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert most[0] == 1
    assert not any(t.is_alive() for t in threads)  # background calls were never starved for good


def test_releasing_a_lock_not_held_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        ForegroundFirst().release()


def test_a_call_marked_as_background_work_takes_the_background_lane() -> None:
    lanes: list[bool] = []

    class Spy(ForegroundFirst):
        def acquire(self, background: bool = False) -> None:
            lanes.append(background)
            super().acquire(background)

    wrapped = OneCallAtATime(App())
    wrapped.lock = Spy()
    agent = "Botocore/1.44.5 ua/2.1 lang/python#3.13.0 cfg/retry-mode#standard"
    for user_agent in (agent, f"{agent} app/{BACKGROUND_APP_ID}"):
        list(wrapped(_environ(b"", HTTP_USER_AGENT=user_agent), lambda *a: None))

    assert lanes == [False, True]


def test_botocore_names_the_app_id_in_its_user_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The channel the background instances use (AWS_SDK_UA_APP_ID) reaches the request as the lock reads it."""
    monkeypatch.setenv("AWS_SDK_UA_APP_ID", BACKGROUND_APP_ID)
    client = botocore.session.get_session().create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    sent: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        sent.append(request.headers["User-Agent"].decode())
        raise _Captured

    client.meta.events.register("before-send", capture)
    with pytest.raises(_Captured):
        client.list_tables()  # type: ignore[attr-defined]

    assert f"app/{BACKGROUND_APP_ID}" in sent[0].split()


class _Captured(Exception):
    """Stops the call once its request is seen."""


def _background_behind_a_foreground_stream(patience: float, wait: float) -> bool:
    """Whether a background call got the lock within `wait` seconds while two threads kept taking it (so
    that one of them was always waiting for it); the stream is stopped before this returns."""
    lock, stop, got_in = ForegroundFirst(patience=patience), threading.Event(), threading.Event()

    def stream() -> None:
        while not stop.is_set():
            with lock:
                time.sleep(0.001)

    def background() -> None:
        lock.acquire(background=True)
        got_in.set()
        lock.release()

    streams = [threading.Thread(target=stream) for _ in range(2)]
    for t in streams:
        t.start()
    _settle()
    waiter = threading.Thread(target=background)
    waiter.start()
    answer = got_in.wait(wait)
    stop.set()
    for t in [*streams, waiter]:
        t.join(5)
    assert got_in.is_set() and not waiter.is_alive()  # and once the stream stops, it always gets in
    return answer


def test_a_background_call_waits_no_longer_than_its_patience_behind_a_stream_of_foreground_calls() -> None:
    # The patience and one foreground call's turn, with room for a loaded machine.
    assert _background_behind_a_foreground_stream(patience=0.05, wait=1.0)


def test_within_its_patience_a_background_call_waits_for_the_foreground_stream() -> None:
    assert not _background_behind_a_foreground_stream(patience=60, wait=0.5)
