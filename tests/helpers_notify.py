"""A local group robot on 127.0.0.1 for notification tests: records requests, answers from a script."""

from __future__ import annotations

import json
import socketserver
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


@dataclass
class MailBox:
    """A local SMTP server's received messages (raw DATA, as bytes)."""

    server: socketserver.ThreadingTCPServer
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])


@pytest.fixture
def mailbox() -> Iterator[MailBox]:
    """Just enough SMTP (EHLO, MAIL, RCPT, DATA, QUIT) to receive what smtplib sends."""
    holder: list[MailBox] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 localhost test SMTP\r\n")
            recipients: list[str] = []
            while line := self.rfile.readline():
                command = line.decode("ascii", "replace").strip()
                verb = command[:4].upper()
                if verb in ("EHLO", "HELO"):
                    self.wfile.write(b"250 localhost\r\n")
                elif verb == "MAIL":
                    recipients = []
                    self.wfile.write(b"250 OK\r\n")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip(" <>"))
                    self.wfile.write(b"250 OK\r\n")
                elif verb == "DATA":
                    self.wfile.write(b"354 go ahead\r\n")
                    data = b""
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data += chunk
                    holder[0].messages.append((recipients, data))
                    self.wfile.write(b"250 OK\r\n")
                elif verb == "QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 OK\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder.append(MailBox(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()
