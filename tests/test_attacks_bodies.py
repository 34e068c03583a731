"""Request bodies are bounded on every route, before they are read: a 50 MB body costs the server nothing.

The server of these tests takes uploads of at most 2 MB (conftest), so a JSON body may be 3.7 MB (one
upload inline as base64, and a megabyte) and an upload request 9 MB (four files and a megabyte).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
from gradio.routes import App

from support.http import raw_call

pytest.importorskip("gradio_client")

MB = 1024 * 1024
FIFTY = memoryview(b"x" * (50 * MB))  # made once: the client's copy is not the server's memory


def send(server: str, route: str, body: memoryview, *, declared: bool = True) -> tuple[int, str]:
    """POST ``body`` over a plain socket, a megabyte at a time and copied nowhere (an HTTP client's
    buffers would count as the server's memory here), reading the answer meanwhile: the server may
    answer and close before the body is sent. With ``declared=False`` it goes in chunks, without a length."""
    url = urlsplit(server)
    head = f"POST {route} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n" if declared else "Transfer-Encoding: chunked\r\n\r\n"
    answer = bytearray()
    with socket.create_connection((url.hostname, url.port), timeout=60) as sock:

        def read() -> None:
            try:
                while chunk := sock.recv(65536):
                    answer.extend(chunk)
            except OSError:
                pass

        reader = threading.Thread(target=read)
        reader.start()
        try:
            sock.sendall(head.encode())
            for start in range(0, len(body), MB):
                piece = body[start : start + MB]
                if not declared:
                    sock.sendall(f"{len(piece):x}\r\n".encode())
                sock.sendall(piece)
                if not declared:
                    sock.sendall(b"\r\n")
            if not declared:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server has answered and closed
        reader.join(60)
    status_line, _, rest = bytes(answer).partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(payload).get("error", payload.decode()[:300])


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


class PeakRSS:
    """This process's peak resident memory above its level at the start (the server runs in it)."""

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.005)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def delta(self) -> float:
        return self.peak - self.start


def post_routes(demo) -> list[str]:
    """Every route of the app that takes a body, with its path parameters filled in."""
    app = App.create_app(demo)
    found = []

    def walk(routes) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                walk(inner.routes)
            elif {"POST", "PUT", "PATCH"} & (getattr(route, "methods", None) or set()):
                found.append(route.path.replace("{api_name}", "gatys").replace("{event_id}", "e1"))

    walk(app.routes)
    return sorted(set(found))


@pytest.fixture(scope="module")
def routes(app_module):
    return post_routes(app_module.build_demo())


def test_every_route_that_takes_a_body_is_known(routes):
    for route in ("/gradio_api/call/gatys", "/gradio_api/queue/join", "/gradio_api/upload", "/login"):
        assert route in routes, routes
    assert len(routes) >= 15, routes


def test_fifty_megabytes_to_any_route_is_refused_unread(server, routes):
    for route in routes:
        with PeakRSS() as peak:
            status, text = send(server, route, FIFTY)
        assert status == 413, (route, status, text)
        if route.startswith("/gradio_api/upload"):
            assert text == (
                "This request is 50 MB; this server takes at most 9 MB in one upload (2 MB per file). "
                "Upload fewer or smaller files at a time."
            ), text
        else:
            assert text == (
                "This request is 50 MB; this server takes at most 3.7 MB in one request. Upload images first "
                "(gradio_client's handle_file(path) does that) and send what the upload returned."
            ), text
        assert peak.delta < 20, f"{route}: the server's memory grew by {peak.delta:.0f} MB"


def test_a_body_without_a_length_is_cut_off_at_the_limit(server):
    with PeakRSS() as peak:
        status, text = send(server, "/gradio_api/call/gatys", FIFTY, declared=False)
    assert status == 413, (status, text)
    assert text.startswith("This request is too large; this server takes at most 3.7 MB in one request."), (
        text
    )
    assert peak.delta < 20, f"the server's memory grew by {peak.delta:.0f} MB"


def test_bodies_under_the_limit_still_work(server, content_path):
    """Just under the JSON limit: a call whose text parameter is 3 MB is read and answered by the package."""
    from support.http import upload

    photo = upload(server, content_path)
    event, data = raw_call(server, "cyclegan", {"content": photo, "strength": 0, "painter": "m" * (3 * MB)})
    assert event == "error" and "painter" in str(data), (event, str(data)[:300])
