"""The deployment's own commands, run as the systemd units run them: gunicorn with gunicorn.conf.py and
``python -m jobs``, against the test database (PostgreSQL in CI's second run), driven over HTTP."""

from __future__ import annotations

import http.cookiejar
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from tracker.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SAMPLE = ROOT / "sample_orders" / "城管诉件导出_2026-11-20.csv"


def exec_start(unit: str) -> list[str]:
    """The unit's ExecStart, with the install folder's virtual environment replaced by this one."""
    line = next(
        line for line in (DEPLOY / unit).read_text(encoding="utf-8").splitlines() if line.startswith("ExecStart=")
    )
    argv = shlex.split(line.removeprefix("ExecStart="))
    assert argv[0].startswith("/opt/tracker/.venv/bin/"), argv
    return [str(Path(sys.executable).parent / Path(argv[0]).name), *argv[1:]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    """A cookie-keeping client that reads CSRF tokens from the forms, as a person's browser would."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=30) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8")

    def post(self, path: str, body: bytes, content_type: str) -> tuple[int, str, str]:
        request = urllib.request.Request(self.base + path, data=body, headers={"Content-Type": content_type})
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, response.geturl(), response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, "", exc.read().decode("utf-8")

    def token(self, path: str) -> str:
        status, page = self.get(path)
        assert status == 200, (path, status)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, path
        return found.group(1)

    def form(self, path: str, form_page: str, fields: dict[str, str]) -> tuple[int, str, str]:
        data = {"csrf_token": self.token(form_page), **fields}
        return self.post(path, urllib.parse.urlencode(data).encode(), "application/x-www-form-urlencoded")

    def upload(self, path: str, form_page: str, file: Path, fields: dict[str, str]) -> tuple[int, str, str]:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in {"csrf_token": self.token(form_page), **fields}.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file.name}"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
            + file.read_bytes()
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.post(path, body, f"multipart/form-data; boundary={boundary}")


def wait_until(check, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


@pytest.mark.slow
def test_the_units_commands_serve_sign_in_import_and_scan(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    port = free_port()
    key_file = tmp_path / "secret_key"
    key_file.write_text(uuid.uuid4().hex, encoding="utf-8")
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": database_url,
        "TRACKER_SECRET_KEY_FILE": str(key_file),
        "TRACKER_BIND": f"127.0.0.1:{port}",
        "TRACKER_WEB_WORKERS": "2",
        "TRACKER_SCAN_EVERY_MINUTES": "0.05",
        "TRACKER_INBOX_DIR": str(tmp_path / "inbox"),
    }
    env.pop("TRACKER_SECRET_KEY", None)
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi"]
    # the README's production steps: migrate, then the first administrator
    subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [
            *flask,
            "create-user",
            "--username",
            "chief",
            "--name",
            "王敏",
            "--role",
            "管理员",
            "--password",
            "chief-pass-2026",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    logs = tmp_path / "web.log"
    with logs.open("wb") as out:
        web = subprocess.Popen(exec_start("tracker-web.service"), cwd=ROOT, env=env, stdout=out, stderr=out)
        scheduler = subprocess.Popen(exec_start("tracker-scheduler.service"), cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            base = f"http://127.0.0.1:{port}"
            browser = Browser(base)
            assert wait_until(lambda: browser.get("/healthz")[0] == 200, 30), logs.read_text()
            assert wait_until(lambda: browser.get("/readyz")[0] == 200, 60), browser.get("/readyz")

            status, landed, _ = browser.form(
                "/login", "/login", {"username": "chief", "password": "chief-pass-2026", "next": "/imports/"}
            )
            assert status == 200 and landed.endswith("/account/password"), (status, landed)  # given password
            new = {
                "old_password": "chief-pass-2026",
                "new_password": "own-pass-2026-x",
                "confirm_password": "own-pass-2026-x",
            }
            status, landed, _ = browser.form("/account/password", "/account/password", new)
            assert status == 200 and landed.endswith("/login"), (status, landed)
            status, landed, _ = browser.form(
                "/login", "/login", {"username": "chief", "password": "own-pass-2026-x", "next": "/imports/"}
            )
            assert status == 200 and landed.endswith("/imports/"), (status, landed)

            status, landed, page = browser.upload("/imports/uploads", "/imports/", SAMPLE, {"profile": "城管诉件"})
            assert status == 200 and "/imports/uploads/" in landed, page[:500]
            upload_path = landed.removeprefix(base)
            status, landed, page = browser.form(upload_path + "/commit", upload_path, {})
            assert status == 200 and "/imports/batches/" in landed, page[:500]
            assert "已导入" in page

            def count(sql: str) -> int:
                with engine.connect() as conn:  # a new snapshot each time: the processes write meanwhile
                    return int(conn.execute(text(sql)).scalar_one())

            assert count("SELECT count(*) FROM work_order") > 0
            after_import = (
                "SELECT count(*) FROM job_run WHERE job_id = 'scan' AND outcome = 'ok' "
                "AND started_at > (SELECT max(finished_at) FROM import_batch)"
            )
            assert wait_until(lambda: count(after_import) > 0, 60), "no scan after the import"
            # the sample has overdue orders; the scheduler's scans raise them. Not necessarily the first scan
            # after finished_at: the batch's time is set inside the import's transaction, and a scan that
            # starts before its commit sees none of its orders (seen once in a PostgreSQL run)
            assert wait_until(lambda: count("SELECT count(*) FROM alert") > 0, 60), "no alert raised"
        finally:
            for process in (web, scheduler):
                process.terminate()
            for process in (web, scheduler):
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
            engine.dispose()
    log_text = logs.read_text(encoding="utf-8", errors="replace")
    assert "chief-pass-2026" not in log_text and "own-pass-2026-x" not in log_text
    assert not re.search(r"\?[^ \"]*=", log_text.split("Booting worker")[-1])  # access log lines carry no query string
