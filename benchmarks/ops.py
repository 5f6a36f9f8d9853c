"""Operations benchmark (`make bench-ops`): two web instances and two schedulers on PostgreSQL, one of each killed.

On a PostgreSQL database (``--pg-url``; its public schema is dropped and rebuilt): ``init-db`` and the demo
data, then two gunicorn instances (gunicorn.conf.py, 2 workers each) on two local ports and two
``python -m jobs`` (a scan every 6 s). Ten simulated users (8 squads, 2 supervisors; threads, each with its
own cookie jar) sign in through the form on one of the instances, then for ``--duration`` seconds open the
order list, an order in their scope, and perform 签收 or 先行联系 where the page offers it. A third of
the way in, instance A (master and workers) and the active scheduler are killed with SIGKILL; users who
were on A go on against B with the same session (sessions live in the database).

Checked and printed (last line, one JSON object):
- every action answered with its success page is in the audit trail exactly once (``actions_missing``,
  ``actions_doubled`` must be 0);
- 5xx answers, outside the killed instance (``errors_5xx``) — connection errors to A after the kill are
  counted apart (``refused_after_kill``);
- the standby scheduler's first scan after the kill (``takeover_s``, target ≤ 60) and scans run twice for one
  tick (``duplicate_scans``, target 0).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from http.cookiejar import CookieJar
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-ops-2026"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ACTION_FORM = re.compile(r'action="/orders/(\d+)/actions/(sign|first_contact)"')
ORDER_LINK = re.compile(r'href="/orders/(\d+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, env: dict[str, str]) -> list[tuple[str, str | None]]:
    """A fresh schema with the demo data and ten users who may work at once; returns (username, street)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    engine.dispose()
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi"]
    for args in (["init-db"], ["demo-load"]):
        subprocess.run([*flask, *args], cwd=ROOT, env=env, check=True, capture_output=True)
    script = """
import sys
from sqlmodel import Session, select
from tracker import create_app
from tracker.db import get_engine
from tracker.domain.roles import Role
from tracker.models import Street, utcnow
from tracker.services.accounts import create_user
app = create_app()
with app.app_context(), Session(get_engine()) as s:
    streets = [r.name for r in s.exec(select(Street)).all()]
    for i in range(10):
        street = None if i >= 8 else streets[i % len(streets)]
        role = Role.SQUAD if street else Role.SUPERVISOR
        user = create_user(s, username=f"ops{i}", display_name=f"压测{i}", role=role,
                           street=street, password=sys.argv[1], now=utcnow())
        user.must_change_password = False  # a load test's own accounts; the forced change is tested elsewhere
        print(f"ops{i}\\t{street or ''}")
    s.commit()
"""
    done = subprocess.run(
        [sys.executable, "-c", script, PASSWORD], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return [(line.split("\t")[0], line.split("\t")[1] or None) for line in done.stdout.splitlines() if line]


class User(threading.Thread):
    """One person: signs in on an instance, then reads and acts until the end; on a dead instance, the other."""

    def __init__(self, username: str, bases: list[str], first: int, stop: threading.Event, stats: dict) -> None:  # type: ignore[type-arg]
        super().__init__(daemon=True)
        self.username, self.bases, self.current, self.stop, self.stats = username, bases, first, stop, stats
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.rng = random.Random(username)

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        while True:
            base = self.bases[self.current]
            try:
                with self.opener.open(base + path, data=body, timeout=30) as response:
                    result = response.status, response.geturl(), response.read().decode("utf-8")
            except urllib.error.HTTPError as exc:
                result = exc.code, base + path, exc.read().decode("utf-8", "replace")
            except OSError:
                with self.stats["lock"]:
                    key = "refused_after_kill" if self.stats["killed"] and self.current == 0 else "connection_errors"
                    self.stats[key] += 1
                if self.stats["killed"] and self.current == 0:
                    self.current = 1  # instance A is gone: the same session goes on at B
                    continue
                time.sleep(0.5)
                continue
            with self.stats["lock"]:
                self.stats["requests"] += 1
                if result[0] >= 500:
                    self.stats["errors_5xx"] += 1
                    self.stats["errors_by_path"][path.split("?")[0]] += 1
            return result

    def run(self) -> None:
        status, _, page = self.request("/login")
        token = CSRF.search(page)
        if status != 200 or token is None:
            return
        status, landed, _ = self.request(
            "/login", {"csrf_token": token.group(1), "username": self.username, "password": PASSWORD, "next": "/"}
        )
        if "/login" in landed:
            with self.stats["lock"]:
                self.stats["sign_in_failed"] += 1
            return
        while not self.stop.is_set():
            _, _, listing = self.request(f"/?page={self.rng.randint(1, 3)}")
            ids = ORDER_LINK.findall(listing)
            if ids:
                order_id = self.rng.choice(ids)
                _, _, detail = self.request(f"/orders/{order_id}")
                forms = ACTION_FORM.findall(detail)
                token = CSRF.search(detail)
                if forms and token:
                    order, action = forms[0]
                    data = {"csrf_token": token.group(1)}
                    if action == "first_contact":
                        data |= {"contact_result": "已联", "contact_person": "压测"}
                    status, _, after = self.request(f"/orders/{order}/actions/{action}", data)
                    label = "签收" if action == "sign" else "先行联系"
                    if status == 200 and f"已{label}。" in after:
                        with self.stats["lock"]:
                            self.stats["actions"].append((int(order), action, self.username))
            time.sleep(self.rng.uniform(0.2, 0.8))


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_ready(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{base} 未能启动")


def main() -> None:
    parser = argparse.ArgumentParser(description="运维基准：两个 Web 实例、两个定时任务进程，各杀掉一个")
    parser.add_argument("--pg-url", default=os.environ.get("TRACKER_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-ops-"))
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": args.pg_url,
        "TRACKER_SECRET_KEY": "bench-ops-shared-key",
        "TRACKER_WEB_WORKERS": "2",
        "TRACKER_SCAN_EVERY_MINUTES": "0.1",
        "TRACKER_SCHEDULER_LEASE_SECONDS": "15",
        "TRACKER_LOG_FORMAT": "json",
    }
    users = prepare(args.pg_url, env)
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"]
    web = [
        start(gunicorn, {**env, "TRACKER_BIND": f"127.0.0.1:{p}"}, logs / f"web{i}.log") for i, p in enumerate(ports)
    ]
    schedulers = [start([sys.executable, "-m", "jobs"], env, logs / f"jobs{i}.log") for i in range(2)]
    engine = create_engine(args.pg_url)
    stats: dict = {  # type: ignore[type-arg]
        "lock": threading.Lock(),
        "requests": 0,
        "errors_5xx": 0,
        "errors_by_path": Counter(),
        "connection_errors": 0,
        "refused_after_kill": 0,
        "sign_in_failed": 0,
        "actions": [],
        "killed": False,
    }
    try:
        for base in bases:
            wait_ready(base)
        stop = threading.Event()
        people = [User(name, bases, i % 2, stop, stats) for i, (name, _) in enumerate(users)]
        started = time.monotonic()
        for person in people:
            person.start()
        time.sleep(args.duration / 3)
        with engine.connect() as conn:
            runner = conn.execute(
                text("SELECT runner FROM job_run WHERE job_id = 'scan' ORDER BY started_at DESC LIMIT 1")
            ).scalar()
        active_pid = int(str(runner).split(":")[1]) if runner else None
        killed_scheduler = next((p for p in schedulers if p.pid == active_pid), schedulers[0])
        with stats["lock"]:
            stats["killed"] = True
        killed_at = datetime.now(UTC)
        os.killpg(web[0].pid, signal.SIGKILL)
        os.kill(killed_scheduler.pid, signal.SIGKILL)
        time.sleep(max(args.duration - (time.monotonic() - started), 0))
        stop.set()
        for person in people:
            person.join(timeout=40)
        with engine.connect() as conn:
            scans = conn.execute(
                text("SELECT runner, started_at, scheduled_for FROM job_run WHERE job_id = 'scan' ORDER BY started_at")
            ).all()
            counts = Counter(
                (row[0], row[1])
                for row in conn.execute(text("SELECT order_id, action FROM order_event WHERE actor_name LIKE '%压测%'"))
            )
    finally:
        for process in [*web, *schedulers]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*web, *schedulers]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        engine.dispose()
    after = [s for s in scans if s[1] > killed_at and s[0] != runner]
    takeover = (after[0][1] - killed_at).total_seconds() if after else None
    ticks = Counter(s[2] for s in scans if s[2] is not None)
    answered = Counter((order, action) for order, action, _ in stats["actions"])
    result = {
        "benchmark": "ops",
        "duration_s": args.duration,
        "users": len(users),
        "requests": stats["requests"],
        "actions_answered_ok": len(stats["actions"]),
        # an action may be offered again on the same order (a second 先行联系 is allowed): compare the number of
        # success pages with the number of audit events per (order, action)
        "actions_missing": sum(max(n - counts.get(key, 0), 0) for key, n in answered.items()),
        "actions_doubled": sum(max(counts.get(key, 0) - n, 0) for key, n in answered.items()),
        "events_without_answer": sum(n for key, n in counts.items() if key not in answered),
        "errors_5xx": stats["errors_5xx"],
        "errors_5xx_by_path": dict(stats["errors_by_path"]),
        "refused_after_kill": stats["refused_after_kill"],
        "connection_errors_other": stats["connection_errors"],
        "sign_in_failed": stats["sign_in_failed"],
        "scans": len(scans),
        "takeover_s": round(takeover, 1) if takeover is not None else None,
        "duplicate_scans": sum(n - 1 for n in ticks.values() if n > 1),
        "met": bool(
            takeover is not None
            and takeover <= 60
            and stats["errors_5xx"] == 0
            and all(counts.get(key, 0) == n for key, n in answered.items())
            and not any(n > 1 for n in ticks.values())
        ),
        "logs": str(logs),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
