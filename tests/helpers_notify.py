"""A local group robot on 127.0.0.1 for notification tests: records requests, answers from a script."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Robot:
    """A local group robot: records every request, answers from a script (then ``ok``)."""

    server: ThreadingHTTPServer
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wecom(self, key: str) -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={key}"

    def dingtalk(self, token: str) -> str:
        return f"{self.base}/robot/send?access_token={token}"

    def delivered(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["answer"] == 0]


@pytest.fixture
def robot() -> Iterator[Robot]:
    holder: list[Robot] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            me = holder[0]
            status, answer = me.script.pop(0) if me.script else (200, {"errcode": 0, "errmsg": "ok"})
            parts = urllib.parse.urlsplit(self.path)
            me.requests.append(
                {
                    "path": parts.path,
                    "query": dict(urllib.parse.parse_qsl(parts.query)),
                    "json": json.loads(body),
                    "content_type": self.headers["Content-Type"],
                    "answer": answer["errcode"] if status == 200 else status,
                }
            )
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Robot(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()
