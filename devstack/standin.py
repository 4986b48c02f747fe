"""What the local stand-ins of outside services share: a loopback HTTP server answering in a
thread of its own, started and stopped, or used as a context (``with SlackApiStandIn() as s``)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class StandIn:
    server: ThreadingHTTPServer
    thread: threading.Thread

    def _listen(self, handler: type[BaseHTTPRequestHandler], port: int) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
