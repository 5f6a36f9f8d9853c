"""Concurrency benchmark (`make bench-concurrency`): people working while a 20,000-row file imports, SQLite and PG.

For each database (a fresh SQLite file under a temporary folder; then PostgreSQL at ``--pg-url``, whose public
schema is dropped and rebuilt): ``init-db``, the demo data, one overdue scan (so there are alerts to
acknowledge), 30 users and an administrator; gunicorn (gunicorn.conf.py) with 4 workers. Then:

1. 30 simultaneous sign-ins (each browser has fetched the form; all post at once, released by a barrier);
2. reference: 10 of them act for ``--reference`` seconds with no import running — open the order list,
   an order, perform 签收 / 先行联系 where offered (else write a 备注), open 逾期预警 and acknowledge one;
3. the same 10 act while the administrator uploads the generated 20,000-row export (the dry run) and
   confirms it (确认导入) through the web pages, until the import is committed.

Counted: every 5xx answer (sign-ins, actions, the upload and its commit) and connection errors; timed:
every request. Printed per database: the slowest sign-in, the slowest write (POST) and the slowest
request of the users during the import, against the median write with no import running (ratio).
Last line, one JSON object: ``errors_sqlite``, ``errors_pg``, ``max_wait_s_sqlite``, ``max_wait_s_pg``
(the slowest user request during the import, in seconds), and the figures behind them.
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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from benchmarks.import_orders import generate_csv

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-concurrency-2026"
ADMIN = "benchadmin"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test_a"
SIGN_INS = 30
ACTORS = 10
IMPORT_ROWS = 20_000
WORKERS = 4
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ORDER_LINK = re.compile(r'href="/orders/(\d+)"')
ACTION_FORM = re.compile(r'action="/orders/(\d+)/actions/(sign|first_contact)"')
ACK_FORM = re.compile(r'action="/alerts/(\d+)/ack"')
UPLOAD_PAGE = re.compile(r"/imports/uploads/(\d+)")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is the answer (a form post's success): timed alone, not followed."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Timings:
    """Every request's (what, seconds, status), and connection errors, shared by the threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    rows: list[tuple[str, str, float, int]] = field(default_factory=list)  # (phase, kind, seconds, status)
    connection_errors: int = 0

    def add(self, phase: str, kind: str, seconds: float, status: int) -> None:
        with self.lock:
            self.rows.append((phase, kind, seconds, status))

    def of(self, phase: str, kind: str | None = None) -> list[float]:
        return [s for p, k, s, _ in self.rows if p == phase and (kind is None or k == kind)]

    def errors(self) -> int:
        return sum(1 for *_, status in self.rows if status >= 500) + self.connection_errors


class Browser:
    """One person's browser: its own cookies; each request timed into ``timings`` under the current phase."""

    def __init__(self, base: str, timings: Timings) -> None:
        self.base, self.timings, self.phase = base, timings, "setup"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect)

    def request(
        self, kind: str, path: str, data: dict[str, str] | None = None, *, body: bytes | None = None, ctype: str = ""
    ) -> tuple[int, str, str]:
        if data is not None:
            body, ctype = urllib.parse.urlencode(data).encode(), "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base + path, data=body, headers={"Content-Type": ctype} if ctype else {})
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=300) as response:
                status, location, text = response.status, "", response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, location, text = exc.code, exc.headers.get("Location", ""), exc.read().decode("utf-8", "replace")
        except OSError:
            with self.timings.lock:
                self.timings.connection_errors += 1
            return 0, "", ""
        self.timings.add(self.phase, kind, time.perf_counter() - started, status)
        return status, location, text

    def token(self, page: str) -> str:
        found = CSRF.search(page)
        return found.group(1) if found else ""

    def sign_in(self, username: str, ready: threading.Barrier | None = None) -> bool:
        _, _, page = self.request("get", "/login")
        form = {"csrf_token": self.token(page), "username": username, "password": PASSWORD, "next": "/"}
        if ready is not None:
            ready.wait()
        status, location, _ = self.request("sign_in", "/login", form)
        return status == 302 and "/login" not in location

    def act(self, rng: random.Random) -> None:
        """One round of work: list, an order (its action, else a note), the alerts (acknowledge one)."""
        _, _, listing = self.request("get", f"/?page={rng.randint(1, 3)}&sort=dispatched_desc")
        ids = ORDER_LINK.findall(listing)
        if ids:
            order_id = rng.choice(ids)
            _, _, detail = self.request("get", f"/orders/{order_id}")
            forms = ACTION_FORM.findall(detail)
            token = self.token(detail)
            if forms:
                _, action = forms[0]
                data = {"csrf_token": token}
                if action == "first_contact":
                    data |= {"contact_result": "已联", "contact_person": "压测"}
                self.request("action", f"/orders/{order_id}/actions/{action}", data)
            else:
                self.request("note", f"/orders/{order_id}/notes", {"csrf_token": token, "text": "压测：现场复核"})
        _, _, alerts = self.request("get", "/alerts/")
        acks = ACK_FORM.findall(alerts)
        if acks:
            self.request("ack", f"/alerts/{rng.choice(acks)}/ack", {"csrf_token": self.token(alerts)})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, env: dict[str, str]) -> list[str]:
    """A fresh database with the demo data, its alerts, 30 users and an administrator; returns the 30 names."""
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine

        engine = create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        engine.dispose()
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi"]
    for args in (["init-db"], ["demo-load"], ["run-job", "scan"]):
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
    people = [(f"bench{i:02d}", Role.SQUAD if i % 5 else Role.SUPERVISOR) for i in range(30)]
    for i, (name, role) in enumerate([*people, (sys.argv[2], Role.ADMIN)]):
        street = streets[i % len(streets)] if role is Role.SQUAD else None
        user = create_user(s, username=name, display_name=f"压测{i}", role=role, street=street,
                           password=sys.argv[1], now=utcnow())
        user.must_change_password = False  # a load test's own accounts; the forced change is tested elsewhere
        if name != sys.argv[2]:
            print(name)
    s.commit()
"""
    done = subprocess.run(
        [sys.executable, "-c", script, PASSWORD, ADMIN], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return [line for line in done.stdout.splitlines() if line]


def start_gunicorn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"]
    process = subprocess.Popen(
        gunicorn,
        cwd=ROOT,
        env={**env, "TRACKER_BIND": f"127.0.0.1:{port}", "TRACKER_WEB_WORKERS": str(WORKERS)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return process
        except OSError:
            time.sleep(0.5)
    stop(process)
    raise SystemExit(f"gunicorn 未能在 127.0.0.1:{port} 启动，见 {log}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def multipart(fields: dict[str, str], name: str, filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with ``fields`` and one file, as a browser's upload form sends it."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
    parts.append((head + "Content-Type: text/csv\r\n\r\n").encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def run_import(admin: Browser, export: Path) -> dict[str, Any]:
    """Upload (the dry run) and confirm the export through the web pages; seconds and outcome."""
    _, _, page = admin.request("get", "/imports/")
    body, ctype = multipart(
        {"csrf_token": admin.token(page), "profile": "12345"}, "file", "12345工单导出_压测.csv", export.read_bytes()
    )
    started = time.perf_counter()
    status, location, text = admin.request("upload", "/imports/uploads", body=body, ctype=ctype)
    dry_run = time.perf_counter() - started
    found = UPLOAD_PAGE.search(location)
    if status != 303 or found is None:
        return {"ok": False, "upload_status": status, "detail": text[:300]}
    _, _, page = admin.request("get", f"/imports/uploads/{found.group(1)}")
    started = time.perf_counter()
    status, location, text = admin.request(
        "commit", f"/imports/uploads/{found.group(1)}/commit", {"csrf_token": admin.token(page)}
    )
    return {
        "ok": status == 303 and "/imports/batches/" in location,
        "commit_status": status,
        "dry_run_s": round(dry_run, 2),
        "commit_s": round(time.perf_counter() - started, 2),
        "detail": "" if status == 303 else text[:300],
    }


def work(browsers: list[Browser], phase: str, until: threading.Event) -> list[threading.Thread]:
    """Each browser acts round after round under ``phase`` until told to stop."""

    def loop(browser: Browser, seed: int) -> None:
        browser.phase = phase
        rng = random.Random(seed)
        while not until.is_set():
            browser.act(rng)
            time.sleep(rng.uniform(0.1, 0.4))  # a person reads before the next click

    threads = [threading.Thread(target=loop, args=(b, i), daemon=True) for i, b in enumerate(browsers)]
    for thread in threads:
        thread.start()
    return threads


def p(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def measure(name: str, url: str, export: Path, reference_s: float, logs: Path) -> dict[str, Any]:
    """The three phases against one database; the figures for it."""
    files = logs / f"files-{name}"
    env = {
        **os.environ,
        "TRACKER_UPLOAD_DIR": str(files / "uploads"),
        "TRACKER_ATTACHMENT_DIR": str(files / "attachments"),
        "TRACKER_INBOX_DIR": str(files / "inbox"),
        "TRACKER_DATABASE_URL": url,
        "TRACKER_SECRET_KEY": "bench-concurrency-shared-key",
        "TRACKER_LOG_FORMAT": "json",
        "TRACKER_ACCESS_LOG": "-",
    }
    names = prepare(url, env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_gunicorn(env, port, logs / f"web-{name}.log")
    timings = Timings()
    try:
        browsers = [Browser(base, timings) for _ in names]
        ready = threading.Barrier(len(browsers))
        signed: list[bool] = [False] * len(browsers)

        def sign(i: int) -> None:
            browsers[i].phase = "sign_in"
            signed[i] = browsers[i].sign_in(names[i], ready)

        threads = [threading.Thread(target=sign, args=(i,)) for i in range(len(browsers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        actors = [b for b, ok in zip(browsers, signed, strict=True) if ok][:ACTORS]

        done = threading.Event()
        threads = work(actors, "reference", done)
        time.sleep(reference_s)
        done.set()
        for thread in threads:
            thread.join(120)

        admin = Browser(base, timings)
        admin.sign_in(ADMIN)
        admin.phase = "import"
        done = threading.Event()
        threads = work(actors, "during_import", done)
        started = time.perf_counter()
        outcome = run_import(admin, export)
        import_s = time.perf_counter() - started
        done.set()
        for thread in threads:
            thread.join(120)
    finally:
        stop(server)
    writes = ("action", "note", "ack")
    reference = [s for k in writes for s in timings.of("reference", k)]
    during = [s for k in writes for s in timings.of("during_import", k)]
    during_all = timings.of("during_import")
    reference_median = statistics.median(reference) if reference else 0.0
    max_wait = max(during_all, default=0.0)
    figures = {
        "errors": timings.errors(),
        "errors_by_phase": {
            phase: sum(1 for p_, _, _, s in timings.rows if p_ == phase and s >= 500)
            for phase in ("sign_in", "reference", "during_import", "import")
        },
        "connection_errors": timings.connection_errors,
        "signed_in": sum(signed),
        "sign_in_max_s": round(max(timings.of("sign_in"), default=0.0), 2),
        "sign_in_median_s": round(statistics.median(timings.of("sign_in") or [0.0]), 2),
        "import_ok": outcome.get("ok", False),
        "import_s": round(import_s, 2),
        "dry_run_s": outcome.get("dry_run_s"),
        "commit_s": outcome.get("commit_s"),
        "writes_reference": len(reference),
        "write_median_reference_s": round(reference_median, 3),
        "writes_during_import": len(during),
        "write_median_during_import_s": round(statistics.median(during), 3) if during else None,
        "write_p95_during_import_s": round(p(during, 0.95), 2),
        "max_write_wait_s": round(max(during, default=0.0), 2),
        "max_wait_s": round(max_wait, 2),
        "max_wait_vs_reference_median": round(max_wait / reference_median, 1) if reference_median else None,
    }
    if not outcome.get("ok"):
        figures["import_detail"] = outcome
    print(f"[{name}] " + json.dumps(figures, ensure_ascii=False), flush=True)
    return figures


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(
        description="并发基准：导入 2 万行期间 10 人操作、30 人同时登录（SQLite 与 PostgreSQL）"
    )
    parser.add_argument("--pg-url", default=os.environ.get("TRACKER_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--rows", type=int, default=IMPORT_ROWS)
    parser.add_argument("--reference", type=float, default=15.0, help="seconds of work with no import running")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-concurrency-"))
    export = folder / "export.csv"
    generate_csv(export, args.rows)
    results = {"sqlite": measure("sqlite", f"sqlite:///{folder / 'tracker.db'}", export, args.reference, folder)}
    if not args.skip_pg:
        results["pg"] = measure("pg", args.pg_url, export, args.reference, folder)
    summary: dict[str, Any] = {"benchmark": "concurrency", "rows": args.rows, "workers": WORKERS}
    for name, figures in results.items():
        summary[f"errors_{name}"] = figures["errors"]
        summary[f"max_wait_s_{name}"] = figures["max_wait_s"]
        summary[f"max_write_wait_s_{name}"] = figures["max_write_wait_s"]
        summary[f"sign_in_max_s_{name}"] = figures["sign_in_max_s"]
        summary[f"write_median_reference_s_{name}"] = figures["write_median_reference_s"]
        summary[f"max_wait_vs_reference_median_{name}"] = figures["max_wait_vs_reference_median"]
        summary[f"import_s_{name}"] = figures["import_s"]
        summary[f"import_ok_{name}"] = figures["import_ok"]
    summary |= {"cpus": os.cpu_count(), "cpu": cpu_model(), "python": platform.python_version(), "logs": str(folder)}
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
