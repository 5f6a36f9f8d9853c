"""Sign-in throttling as deployed: gunicorn with 4 workers behind one proxy (``TRACKER_TRUSTED_PROXIES=1``).

The test plays nginx: every request reaches gunicorn from 127.0.0.1 with ``X-Forwarded-For`` holding
whatever the client wrote, then the client's real address appended last, as
``$proxy_add_x_forwarded_for`` does. The back-off lives in the database, so it must hold whichever
worker answers; the attacks are sent from several threads at once so that several workers check the
same account at the same moment. Runs on the suite's database (PostgreSQL in CI's second run).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import subprocess
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tests.operations.test_deploy import ROOT, exec_start, free_port, wait_until
from tracker.domain.roles import Role
from tracker.models import LoginAttempt, utcnow
from tracker.services.accounts import users
from tracker.web.auth import KNOWN_DEVICE_COOKIE

BACKOFF_SECONDS = 10  # TRACKER_SIGNIN_BACKOFF_SECONDS for this server: the documented curve, shorter
WRONG = "wrong-guess-2026"
THROTTLED = re.compile(r"登录失败次数过多，请 (\d+) 秒后再试。")
BAD = users.BAD_CREDENTIALS


def spoof() -> str:
    """What an attacker writes into its own X-Forwarded-For: one or two made-up addresses."""
    made_up = [f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}" for _ in range(2)]
    return ", ".join(made_up[: random.choice((1, 2))])


class Client:
    """A browser behind the proxy: ``address`` is the real one, appended by the proxy after the spoofed part."""

    def __init__(self, port: int, address: str) -> None:
        self.port, self.address = port, address
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        headers = {"X-Forwarded-For": f"{spoof()}, {self.address}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            page = response.read().decode("utf-8")
            for value in response.headers.get_all("Set-Cookie") or []:
                cookie: SimpleCookie = SimpleCookie()
                cookie.load(value)
                for name, morsel in cookie.items():
                    if morsel.value and morsel["max-age"] != "0":
                        self.cookies[name] = morsel.value
                    else:
                        self.cookies.pop(name, None)
            return response.status, response.getheader("Location") or "", page
        finally:
            connection.close()

    def token(self, path: str) -> str:
        status, _, page = self.request("GET", path)
        assert status == 200, (path, status)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, path
        return found.group(1)

    def sign_in(self, username: str, password: str) -> tuple[int, str, str]:
        form = {"csrf_token": self.token("/login"), "username": username, "password": password, "next": ""}
        return self.request("POST", "/login", form)


def outcome(answer: tuple[int, str, str]) -> str:
    """'ok' (signed in), 'bad' (counted failure) or 'throttled' (refused by the back-off, not counted)."""
    status, location, page = answer
    if status == 302 and "/login" not in location:
        return "ok"
    assert status == 401, answer[:2]
    if THROTTLED.search(page):
        return "throttled"
    assert BAD in page, page[:300]
    return "bad"


def attack(port: int, address: str, usernames: list[str], threads: int = 8) -> list[str]:
    """One wrong password per name in ``usernames``, from ``address``, sent ``threads`` at a time.

    The attacker fetches one CSRF token and replays it, as a script would.
    """
    attacker = Client(port, address)
    token = attacker.token("/login")
    cookies = dict(attacker.cookies)

    def one(username: str) -> str:
        client = Client(port, address)
        client.cookies = dict(cookies)
        form = {"csrf_token": token, "username": username, "password": WRONG, "next": ""}
        return outcome(client.request("POST", "/login", form))

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, usernames))


def attempts(engine: Engine, since: datetime, username: str | None = None) -> list[LoginAttempt]:
    """The recorded sign-in attempts since ``since`` (of ``username``), oldest first."""
    query = select(LoginAttempt).where(col(LoginAttempt.at) >= since)
    if username is not None:
        query = query.where(LoginAttempt.username == username)
    with Session(engine) as session:
        return list(session.exec(query.order_by(col(LoginAttempt.at), col(LoginAttempt.id))))


def backoff_refusals_by_worker(log: Path) -> dict[int, int]:
    """The app's own JSON log lines of refusals by the back-off, counted by the worker process that answered."""
    found: dict[int, int] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if str(record.get("message", "")).startswith("sign-in refused by back-off"):
            found[record["pid"]] = found.get(record["pid"], 0) + 1
    return found


@pytest.mark.slow
def test_four_workers_behind_a_proxy_hold_the_budgets_and_the_real_user_gets_in(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    with Session(engine) as session:
        now = utcnow()
        for username, role in [("chief", Role.ADMIN), ("duchao", Role.SUPERVISOR), ("wangwu", Role.SUPERVISOR)]:
            users.create_user(
                session,
                username=username,
                display_name="测试用户",
                role=role,
                password=f"{username}-pass-2026",
                now=now,
            )
        for n in range(8):  # real accounts among the sprayed names
            users.create_user(
                session,
                username=f"staff{n}",
                display_name="测试用户",
                role=Role.SUPERVISOR,
                password="staff-2026x",
                now=now,
            )
        session.commit()
        duchao_id = session.execute(text("SELECT id FROM app_user WHERE username = 'duchao'")).scalar_one()

    port = free_port()
    key_file = tmp_path / "secret_key"
    key_file.write_text(uuid.uuid4().hex, encoding="utf-8")
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": database_url,
        "TRACKER_SECRET_KEY_FILE": str(key_file),
        "TRACKER_BIND": f"127.0.0.1:{port}",
        "TRACKER_WEB_WORKERS": "4",
        "TRACKER_TRUSTED_PROXIES": "1",
        "TRACKER_SIGNIN_BACKOFF_SECONDS": str(BACKOFF_SECONDS),
        "TRACKER_LOG_FORMAT": "json",
    }
    env.pop("TRACKER_SECRET_KEY", None)
    env.pop("TRACKER_CONTROL_SOCKET", None)
    (tmp_path / "home").write_text("", encoding="utf-8")  # a home no one can create .gunicorn in, as /opt/tracker
    env["HOME"] = str(tmp_path / "home")
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        web = subprocess.Popen(exec_start("tracker-web.service"), cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            assert wait_until(lambda: Client(port, "192.0.2.1").request("GET", "/healthz")[0] == 200, 30), (
                log.read_text()
            )
            # wangwu mistypes five times at his desk; the sixth try, even the right password, must wait 10 s
            desk = Client(port, "192.0.2.5")
            assert [outcome(desk.sign_in("wangwu", WRONG)) for _ in range(5)] == ["bad"] * 5
            status, _, page = desk.sign_in("wangwu", "wangwu-pass-2026")
            assert status == 401 and THROTTLED.search(page), page[:300]
            wait_seconds = int(THROTTLED.search(page).group(1))  # type: ignore[union-attr]
            assert 1 <= wait_seconds <= BACKOFF_SECONDS
            wangwu_told_at = time.monotonic()

            # the supervisor's own browser and the administrator's, signed in before the attack
            own = Client(port, "198.51.100.20")
            assert outcome(own.sign_in("duchao", "duchao-pass-2026")) == "ok"
            assert KNOWN_DEVICE_COOKIE in own.cookies
            own.cookies = {KNOWN_DEVICE_COOKIE: own.cookies[KNOWN_DEVICE_COOKIE]}  # the session ends, the device stays
            admin = Client(port, "198.51.100.9")
            assert outcome(admin.sign_in("chief", "chief-pass-2026")) == "ok"
            started = utcnow()

            # (a) 50 wrong passwords for duchao from one address, spoofed X-Forwarded-For rotating
            answers = attack(port, "203.0.113.66", ["duchao"] * 50)
            assert answers.count("bad") == users.FREE_FAILURES_PER_ACCOUNT, answers
            assert answers.count("throttled") == 50 - users.FREE_FAILURES_PER_ACCOUNT
            counted = attempts(engine, started, "duchao")
            assert len(counted) == users.FREE_FAILURES_PER_ACCOUNT  # a refusal by the back-off is not recorded
            assert {a.address for a in counted} == {
                "203.0.113.66"
            }  # the address the proxy appended, not the spoofed ones
            # anyone else, anywhere, guessing duchao's password is refused too, even with the right one
            status, _, page = Client(port, "198.51.100.30").sign_in("duchao", "duchao-pass-2026")
            assert status == 401 and THROTTLED.search(page)

            # (c) the supervisor's own browser gets in at once
            assert outcome(own.sign_in("duchao", "duchao-pass-2026")) == "ok"
            own.cookies = {KNOWN_DEVICE_COOKIE: own.cookies[KNOWN_DEVICE_COOKIE]}
            # the attacker comes back; once more five guesses counted, the rest refused
            again = attack(port, "203.0.113.66", ["duchao"] * 12)
            assert again.count("bad") == users.FREE_FAILURES_PER_ACCOUNT and again.count("throttled") == 7, again
            status, _, page = Client(port, "198.51.100.31").sign_in("duchao", "duchao-pass-2026")
            assert status == 401 and THROTTLED.search(page)
            # an administrator resets the password: duchao signs in with it at once, from a new browser
            form = {
                "csrf_token": admin.token(f"/admin/users/{duchao_id}"),
                "password": "reset-pass-2026",
                "confirm_password": "reset-pass-2026",
            }
            status, location, _ = admin.request("POST", f"/admin/users/{duchao_id}/password", form)
            assert status == 302 and f"/admin/users/{duchao_id}" in location
            status, location, _ = Client(port, "198.51.100.32").sign_in("duchao", "reset-pass-2026")
            assert status == 302 and location.endswith("/account/password")  # in, and asked to choose a password

            # (b) a spray: one wrong password each for 30 names (8 real) from one address
            sprayed = [f"staff{n}" for n in range(8)] + [f"guess{n}" for n in range(22)]
            random.shuffle(sprayed)
            answers = attack(port, "203.0.113.77", sprayed, threads=4)
            assert answers.count("bad") == users.FREE_FAILURES_PER_ADDRESS, answers
            assert answers.count("throttled") == 30 - users.FREE_FAILURES_PER_ADDRESS
            # from that address even a right password waits now; from elsewhere the same account is fine
            status, _, page = Client(port, "203.0.113.77").sign_in("staff0", "staff-2026x")
            assert status == 401 and THROTTLED.search(page)
            assert outcome(Client(port, "198.51.100.40").sign_in("staff0", "staff-2026x")) == "ok"

            # which address was recorded: the one the proxy appended, never a spoofed one or the proxy's own
            recorded = {a.address for a in attempts(engine, started)}
            assert recorded == {"203.0.113.66", "203.0.113.77", "198.51.100.20", "198.51.100.32", "198.51.100.40"}
            # the refusals came from several workers: the count is in the database, not in a worker
            by_worker = backoff_refusals_by_worker(log)
            assert len(by_worker) >= 2, by_worker

            # wangwu, left alone, gets in once the wait he was told has passed
            time.sleep(max(0.0, wangwu_told_at + wait_seconds + 0.5 - time.monotonic()))
            assert outcome(desk.sign_in("wangwu", "wangwu-pass-2026")) == "ok"
            assert "Control server error" not in log.read_text(encoding="utf-8", errors="replace")
        finally:
            web.terminate()
            try:
                web.wait(timeout=20)
            except subprocess.TimeoutExpired:
                web.kill()
