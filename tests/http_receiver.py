"""A real HTTP server for webhook tests: records every POST, answers with scripted statuses.

It runs on 127.0.0.1 and a free port, on its own thread (the stdlib's ThreadingHTTPServer), so
the daemon's httpx client talks real HTTP to it from the test's event loop.

    with Receiver() as receiver:
        receiver.answer(500)           # the next POST gets a 500, later ones 200
        ...
        (request,) = receiver.requests
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

STALL = -1  # a scripted answer: hold the request until the receiver closes


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._script: deque[int] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests.append(Request(self.path, dict(self.headers), body))
                    status = receiver._script.popleft() if receiver._script else 200
                if status == STALL:
                    receiver._release.wait()
                    return
                answer = b"ok" if status < 300 else f"refused with {status}".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # a short poll: shutdown() waits for serve_forever to look (0.5 s a test by default)
        serve = functools.partial(self._server.serve_forever, poll_interval=0.02)
        self._thread = threading.Thread(target=serve, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, *statuses: int) -> None:
        """Answer the next POSTs with these statuses, in order (then 200 again)."""
        with self._lock:
            self._script.extend(statuses)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
