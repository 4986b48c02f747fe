"""A ticketing system's endpoint for ticket callbacks: an HTTP server on loopback."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A ticketing system's endpoint: records every request, answers ``answers`` in turn (then
    200), optionally after ``delay`` seconds."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict] = []
        self.answers: list[int] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(
                    {
                        "path": self.path,
                        "body": body,
                        "headers": {key.lower(): value for key, value in self.headers.items()},
                    }
                )
                status = receiver.answers.pop(0) if receiver.answers else 200
                time.sleep(receiver.delay)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True, kwargs={"poll_interval": 0.02}
        )  # quick to shut down
        self.thread.start()

    def url(self, path: str = "/hooks/T-5") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fail(self, times: int, status: int = 500) -> None:
        self.answers.extend([status] * times)

    def close(self) -> None:
        """Down for good: nothing listens on the port any more."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()
