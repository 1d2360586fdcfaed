"""The PDF renderer fetches nothing: not an http URL, not a local file.

A real HTTP server on 127.0.0.1 counts requests, and a named pipe stands for a local file:
a reader opening it blocks until a writer arrives, and the watcher thread notices the reader
by its own non-blocking open succeeding. Each test first shows that WeasyPrint's default
fetcher does reach both, so a pass means the fetcher refused, not that the probe was blind.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from raidt.services.reports import html_to_pdf


class _Counter(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        body = b"body { color: red }"
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    handler = type("Handler", (_Counter,), {"requests": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler.requests
    finally:
        httpd.shutdown()
        httpd.server_close()


class _PipeWatch:
    """Records whether anyone opened the FIFO for reading (and then feeds them CSS)."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self.opened = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.001):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no reader yet
                    continue
                raise
            self.opened = True
            os.write(fd, b"body { color: blue }")
            os.close(fd)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _page(base: str, secret: Path) -> str:
    return (
        "<html><head>"
        f'<link rel="stylesheet" href="{base}/style.css">'
        f'<link rel="stylesheet" href="file://{secret}">'
        f'</head><body><img src="{base}/pixel.png"><p>report</p></body></html>'
    )


def _render_with(render: Callable[[str, Path], None], page: str, out: Path) -> None:
    render(page, out)
    assert out.read_bytes().startswith(b"%PDF")


def _default_render(page: str, out: Path) -> None:
    from weasyprint import HTML

    HTML(string=page).write_pdf(str(out))


def test_default_fetcher_would_reach_both(server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, requests = server
    pipe = _PipeWatch(tmp_path / "secret.css")
    try:
        _render_with(_default_render, _page(base, pipe.path), tmp_path / "default.pdf")
    finally:
        pipe.stop()
    assert "/style.css" in requests and pipe.opened


def test_html_to_pdf_fetches_nothing(server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, requests = server
    pipe = _PipeWatch(tmp_path / "secret.css")
    try:
        _render_with(html_to_pdf, _page(base, pipe.path), tmp_path / "report.pdf")
    finally:
        pipe.stop()
    assert requests == []
    assert pipe.opened is False
