"""Web load benchmark (`make bench-web`): gunicorn with 4 workers, 1,000,000 orders in SQLite, 20 users.

The database (orders over the district's 14 streets in realistic states, their stage deadlines,
audit events, the alerts a real overdue scan raises, the calendar, the default rules, one
supervisor and one squad user per street) is built once per order count under instance/ and
reused while complete. gunicorn serves ``wsgi:app`` on 127.0.0.1; simulated users (threads, each
with its own cookie jar, standard library only) sign in through /login with the form's CSRF
token and then request, for the length of the run, the order list (first pages and filters), the
work queue (a squad's default list: open orders by next deadline; the same sort district-wide), an
order detail in their scope, the alerts page, a photo's thumbnail on an order in their scope (a
squad's evidence: ``PHOTOS_PER_STREET`` real JPEG thumbnails per street under ``bench-web-attachments/``
beside the database, added once), and the stylesheet. Squad users see their street, supervisors
the district.

Reference, measured in the same run under the same load: ``/static/app.css`` served by the
same gunicorn (no session, no database). Figures per page type and overall: count, median,
95th percentile, errors (any status but 200, or a failed request), and their ratio to the
reference. Target (issue): p95 under 200 ms with zero errors. The last line printed is one JSON
object with every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path

from benchmarks.scan import migrate, timed_scan
from sample_orders.generate import CATEGORIES, REPLIES, REQUEST_TYPES, ROADS, STREETS, SURNAMES

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-web-2026"  # a throwaway account in a generated database
SUPERVISOR = "bench_supervisor"
TARGET_P95_MS = 200.0
CHUNK = 50_000
# what a simulated user asks for, with weights (the stylesheet is the reference)
MIX = (("list", 30), ("queue", 10), ("detail", 30), ("alerts", 15), ("thumbnail", 5), ("static", 10))
PHOTOS_PER_STREET = 40


def squad_username(index: int) -> str:
    """The squad account of the index-th street."""
    return f"bench_squad_{index:02d}"


# ---------------------------------------------------------------------------------------------
# the database


def _stamp(moment: datetime) -> str:
    """A naive UTC time as SQLAlchemy stores it in SQLite (microseconds always written, as scan.FMT)."""
    return moment.isoformat(" ", "microseconds")


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _seed_reference_data(db: Path, now: datetime) -> None:
    """Calendar, default rules, streets, categories and users, through the tracker's own services."""
    os.environ["TRACKER_DATABASE_URL"] = f"sqlite:///{db}"
    from tracker import create_app
    from tracker.db import get_engine, get_session
    from tracker.domain.roles import Role
    from tracker.services.accounts.actors import Actor
    from tracker.services.accounts.users import create_user
    from tracker.services.orders import calendar as calendar_service
    from tracker.services.orders import rules as rules_service
    from tracker.services.orders.directory import add_category, add_street

    app = create_app()
    with app.app_context():
        session = get_session()
        calendar_service.seed_from_package(session, actor=Actor.cli("bench-web"), now=now)
        rules_service.seed_default_rules(session)
        for street in STREETS:
            add_street(session, name=street)
        for category in CATEGORIES:
            add_category(session, name=category)
        create_user(
            session, username=SUPERVISOR, display_name="督察甲", role=Role.SUPERVISOR, password=PASSWORD, now=now
        )
        for index, street in enumerate(STREETS):
            create_user(
                session,
                username=squad_username(index),
                display_name=f"队员{index:02d}",
                role=Role.SQUAD,
                password=PASSWORD,
                street=street,
                now=now,
            )
        session.commit()
    get_engine(app).dispose()


def _fill(conn: sqlite3.Connection, orders: int, open_share: float, now: datetime, seed: int) -> None:
    """Orders, stage deadlines and audit events, written in chunks with executemany."""
    from tracker.domain.deadlines import RuleTable, completion_outcome, try_compute_dues
    from tracker.domain.vocabulary import Stage, Unit
    from tracker.services.orders.calendar import WorkCalendar, package_arrangements

    calendar = WorkCalendar.from_arrangements(package_arrangements())
    table = RuleTable()
    rules = {
        (stage, kind, urgency): table.match(stage, request_type=kind, urgency=urgency)
        for stage in (Stage.FIRST_CONTACT, Stage.CLOSURE, Stage.RETURN_DECISION)
        for kind, _ in REQUEST_TYPES
        for urgency in ("紧急", "普通")
    }
    now = _naive_utc(now)  # every time below is naive UTC, as stored
    rng = random.Random(seed)
    kinds = [k for k, _ in REQUEST_TYPES]
    weights = [w for _, w in REQUEST_TYPES]
    categories = list(CATEGORIES)
    verdicts = list(REPLIES)
    stamp = _stamp(now)
    order_sql = (
        "INSERT INTO work_order (id, source, order_no, cycle, state, return_from_state, cycle_started_at, received_at,"
        " dispatched_at, request_type, urgency, category, content, address, street, handling_unit, complainant,"
        " phone, signed_at, contact_at, contact_result, contact_person, extension_status, return_count,"
        " return_reason_code, return_basis, reply, verdict, reply_method, closed_at, satisfaction, is_repeat, extras,"
        " created_at, updated_at) VALUES (" + ",".join("?" * 35) + ")"
    )
    deadline_sql = (
        "INSERT INTO order_deadline (order_id, cycle, stage, started_at, amount, unit, rule_label, due_at, due_error,"
        " rule_due_at, completed_at, outcome) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    )
    event_sql = (
        "INSERT INTO order_event (order_id, cycle, action, state_before, state_after, actor, actor_name, source, at,"
        " note, changes) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    )
    for first in range(0, orders, CHUNK):
        order_rows = []
        stages: list[tuple[int, Stage, datetime, datetime | None, str, str]] = []  # id, stage, start, done, type, urg
        event_rows = []
        for order_id in range(first + 1, min(first + CHUNK, orders) + 1):
            is_open = rng.random() < open_share
            dispatched = now - timedelta(days=rng.uniform(0, 12) if is_open else rng.uniform(3, 730))
            request_type = rng.choices(kinds, weights)[0]
            urgency = "紧急" if rng.random() < 0.08 else "普通"
            category = rng.choice(categories)
            street = STREETS[rng.randrange(len(STREETS))]
            roll = rng.random()
            state = "closed" if not is_open else "dispatched" if roll < 0.25 else "handling" if roll < 0.93 else ""
            state = state or "return_requested"
            signed = dispatched + timedelta(minutes=rng.uniform(10, 360)) if state != "dispatched" else None
            if signed is not None and signed > now:
                signed = now - timedelta(minutes=1)
            contacted = state == "closed" or (state != "dispatched" and rng.random() < 0.8)
            contact = (signed or dispatched) + timedelta(hours=rng.uniform(0.2, 20)) if contacted else None
            if contact is not None and contact > now:
                contact = now - timedelta(seconds=30)
            closed = None
            if state == "closed":
                closed = max(contact or dispatched, dispatched + timedelta(days=rng.uniform(0.5, 8)))
            verdict = rng.choice(verdicts) if closed else None
            order_rows.append(
                (
                    order_id,
                    "12345",
                    f"SH{dispatched:%Y%m%d}{order_id:07d}",
                    1,
                    state,
                    "handling" if state == "return_requested" else None,
                    _stamp(dispatched),
                    _stamp(dispatched - timedelta(minutes=rng.uniform(10, 180))),
                    _stamp(dispatched),
                    request_type,
                    urgency,
                    category,
                    CATEGORIES[category],
                    f"上海市静安区{rng.choice(ROADS)}{rng.randint(1, 1500)}号",
                    street,
                    f"{street}综合行政执法队",
                    rng.choice(SURNAMES) + rng.choice(("先生", "女士")),
                    f"1{rng.choice('3456789')}{rng.randint(0, 999999999):09d}",
                    _stamp(signed) if signed else None,
                    _stamp(contact) if contact else None,
                    "已联" if contact else None,
                    "张队员" if contact else None,
                    "none",
                    1 if state == "return_requested" else 0,
                    "非本辖区" if state == "return_requested" else None,
                    "诉求地址不在本街道辖区" if state == "return_requested" else None,
                    REPLIES[verdict] if verdict else None,
                    verdict,
                    "电话" if verdict else None,
                    _stamp(closed) if closed else None,
                    rng.choice(("满意", "满意", "基本满意", "一般", "不满意", "未评价")) if closed else None,
                    0,
                    "{}",
                    stamp,
                    stamp,
                )
            )
            stages.append((order_id, Stage.FIRST_CONTACT, dispatched, contact, request_type, urgency))
            stages.append((order_id, Stage.CLOSURE, dispatched, closed, request_type, urgency))
            if state == "return_requested":
                asked = min((signed or dispatched) + timedelta(hours=rng.uniform(1, 30)), now - timedelta(minutes=1))
                stages.append((order_id, Stage.RETURN_DECISION, asked, None, request_type, urgency))
            # the audit trail: one event per step taken
            steps = [("dispatch", None, "dispatched", dispatched)]
            if signed:
                steps.append(("sign", "dispatched", "handling", signed))
            if contact:
                steps.append(("first_contact", "handling", "handling", contact))
            if state == "return_requested":
                steps.append(("request_return", "handling", state, stages[-1][2]))
            if closed:
                steps.append(("close", "handling", "closed", closed))
            event_rows += [
                (order_id, 1, action, before, after, "import:bench", "导入", "12345", _stamp(at), "", "{}")
                for action, before, after, at in steps
            ]
        # due times through the domain's bulk computation, grouped by the rule that applies
        groups: dict[tuple[int, Unit, str], list[int]] = defaultdict(list)
        for index, (_, stage, _start, _done, request_type, urgency) in enumerate(stages):
            rule = rules[(stage, request_type, urgency)]
            groups[(rule.amount, rule.unit, rule.label())].append(index)
        Due = tuple[datetime | None, str | None, tuple[int, Unit, str]]
        dues: list[Due] = [(None, None, (0, Unit.HOURS, ""))] * len(stages)
        for key, indexes in groups.items():
            amount, unit, _label = key
            starts = [stages[i][2].replace(tzinfo=UTC) for i in indexes]
            for i, due in zip(indexes, try_compute_dues(starts, amount, unit, calendar), strict=True):
                dues[i] = (_naive_utc(due.due_at) if due.due_at else None, due.error, key)
        deadline_rows = []
        for (order_id, stage, start, done, _rt, _urg), (due, error, (amount, unit, label)) in zip(
            stages, dues, strict=True
        ):
            outcome = completion_outcome(done, due) if done else None
            deadline_rows.append(
                (
                    order_id,
                    1,
                    stage.value,
                    _stamp(start),
                    amount,
                    unit.value,
                    label,
                    _stamp(due) if due else None,
                    error,
                    _stamp(due) if due else None,
                    _stamp(done) if done else None,
                    outcome.value if outcome else None,
                )
            )
        conn.executemany(order_sql, order_rows)
        conn.executemany(deadline_sql, deadline_rows)
        conn.executemany(event_sql, event_rows)
        conn.commit()


def build_database(db: Path, orders: int, open_share: float, seed: int = 1) -> dict[str, object]:
    """A complete benchmark database at ``db``; returns what was built (also kept beside it)."""
    for path in (db, *_companions(db)):
        path.unlink(missing_ok=True)
    now = datetime.now(UTC)
    started = time.perf_counter()
    migrate(db)
    _seed_reference_data(db, now)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    # the migration's own indexes, dropped for the bulk load and recreated from their stored SQL
    tables = ("work_order", "order_deadline", "order_event")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (?, ?, ?)",
        tables,
    ).fetchall()
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    _fill(conn, orders, open_share, now, seed)
    for _name, sql in indexes:
        conn.execute(sql)
    conn.commit()  # no ANALYZE: the tracker never runs it, so its databases have no planner statistics
    conn.close()
    filled = time.perf_counter() - started
    scan_s, counts = timed_scan(f"sqlite:///{db}", now)  # the alerts a real scan raises now
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    info: dict[str, object] = {
        "orders": orders,
        "open_share": open_share,
        "built_at": now.isoformat(timespec="seconds"),
        "fill_s": round(filled, 1),
        "alert_scan_s": round(scan_s, 1),
        "alerts": counts,
    }
    _marker(db).write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    return info


def _companions(db: Path) -> tuple[Path, ...]:
    return (Path(f"{db}-wal"), Path(f"{db}-shm"), _marker(db))


def _marker(db: Path) -> Path:
    return db.with_suffix(".complete.json")


def database(folder: Path, orders: int, open_share: float, rebuild: bool) -> tuple[Path, dict[str, object], bool]:
    """The benchmark database for this many orders: reused when complete, else built."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"bench-web-{orders}.db"
    marker = _marker(db)
    if not rebuild and db.exists() and marker.exists():
        info = json.loads(marker.read_text(encoding="utf-8"))
        if info.get("orders") == orders and info.get("open_share") == open_share:
            migrate(db)  # a database built before a schema change gets the new indexes
            return db, info, True
    return db, build_database(db, orders, open_share), False


def attachment_folder(db: Path) -> Path:
    """Where the benchmark's attachment files are (TRACKER_ATTACHMENT_DIR of its gunicorn)."""
    return db.parent / "bench-web-attachments"


def ensure_photos(db: Path, per_street: int = PHOTOS_PER_STREET) -> dict[str, list[tuple[int, int]]]:
    """(order id, attachment id) of photos per street: rows in order_attachment and thumbnails on disk.

    Added once (a database from before this benchmark knew thumbnails gets them on its next run): a
    320-pixel JPEG thumbnail as the upload makes it, one file per attachment, on open orders of each street.
    """
    from PIL import Image

    folder = attachment_folder(db)
    folder.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db)
    now = _stamp(_naive_utc(datetime.now(UTC)))
    result: dict[str, list[tuple[int, int]]] = {}
    for index, street in enumerate(STREETS):
        have = conn.execute(
            "SELECT a.order_id, a.id, a.thumbnail_name FROM order_attachment a JOIN work_order o ON o.id = a.order_id"
            " WHERE o.street = ? AND a.uploaded_by = 'bench-web'",
            (street,),
        ).fetchall()
        if len(have) < per_street:
            orders = conn.execute(
                "SELECT id FROM work_order WHERE street = ? AND state <> 'closed' ORDER BY id LIMIT ?",
                (street, per_street - len(have)),
            ).fetchall()
            for (order_id,) in orders:
                stored = f"bench-{order_id}.jpg"
                thumb = f"bench-{order_id}.thumb.jpg"
                conn.execute(
                    "INSERT INTO order_attachment (order_id, stored_name, thumbnail_name, original_name, content_type,"
                    " size, sha256, width, height, purpose, uploaded_by, uploaded_by_name, uploaded_at)"
                    " VALUES (?, ?, ?, ?, 'image/jpeg', 0, '', 1600, 1200, 'first_contact', 'bench-web', ?, ?)",
                    (order_id, stored, thumb, f"现场照片-{order_id}.jpg", squad_username(index), now),
                )
            conn.commit()
            have = conn.execute(
                "SELECT a.order_id, a.id, a.thumbnail_name FROM order_attachment a"
                " JOIN work_order o ON o.id = a.order_id WHERE o.street = ? AND a.uploaded_by = 'bench-web'",
                (street,),
            ).fetchall()
        for _order_id, _attachment_id, thumb in have:
            path = folder / thumb
            if not path.exists():
                image = Image.new("RGB", (320, 240), (40 + index * 10, 120, 200))
                for x in range(0, 320, 8):
                    image.putpixel((x, 120), (255, 255, 0))
                image.save(path, "JPEG", quality=80)
        result[street] = [(order_id, attachment_id) for order_id, attachment_id, _ in have]
    conn.close()
    return result


def sample_ids(db: Path, per_street: int = 400) -> dict[str, list[int]]:
    """Order ids to open, per street: mostly open orders (what squads work on), some closed ones."""
    conn = sqlite3.connect(db)
    result: dict[str, list[int]] = {}
    for street in STREETS:
        open_ids = conn.execute(
            "SELECT id FROM work_order WHERE street = ? AND state <> 'closed' ORDER BY random() LIMIT ?",
            (street, per_street * 3 // 4),
        ).fetchall()
        closed_ids = conn.execute(
            "SELECT id FROM work_order WHERE street = ? AND state = 'closed' ORDER BY random() LIMIT ?",
            (street, per_street // 4),
        ).fetchall()
        result[street] = [row[0] for row in open_ids + closed_ids]
    conn.close()
    return result


# ---------------------------------------------------------------------------------------------
# the server


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_gunicorn(db: Path, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    """gunicorn serving wsgi:app on 127.0.0.1:port with the benchmark database and its attachment files."""
    env = dict(os.environ)
    env.update(
        TRACKER_DATABASE_URL=f"sqlite:///{db}",
        TRACKER_ATTACHMENT_DIR=str(attachment_folder(db)),
        TRACKER_SECRET_KEY="bench-web-secret-key-for-this-run-only",
        PYTHONDONTWRITEBYTECODE="1",
    )
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}"]
    command += ["--timeout", "60", "--error-logfile", str(log), "wsgi:app"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn 启动失败，见日志 {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"gunicorn 60 秒内没有就绪，见日志 {log}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the gunicorn master started here (it stops its workers)."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---------------------------------------------------------------------------------------------
# the simulated users


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to measure (e.g. back to /login), not something to follow."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Sample:
    """One request: what, how long, and how it ended."""

    kind: str
    variant: str
    at: float
    seconds: float
    status: int  # 0 when the request failed without an HTTP answer


@dataclass
class SimUser:
    """One person at a browser: own cookies, own scope, own choice of pages."""

    base: str
    username: str
    street: str | None  # None for a supervisor
    ids: list[int]
    rng: random.Random
    photos: list[tuple[int, int]] = field(default_factory=list)  # (order id, attachment id) in scope
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect)

    def _get(self, path: str, data: bytes | None = None) -> tuple[int, bytes]:
        try:
            with self.opener.open(self.base + path, data=data, timeout=60) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
            exc.close()
            return int(exc.code), body
        except OSError:
            return 0, b""

    def sign_in(self) -> None:
        """GET the form, read its CSRF token, POST the credentials; a redirect to / means signed in."""
        status, body = self._get("/login")
        found = CSRF.search(body.decode("utf-8", "replace"))
        if status != 200 or not found:
            raise SystemExit(f"{self.username}：登录页异常（HTTP {status}）")
        form = {"csrf_token": found.group(1), "username": self.username, "password": PASSWORD, "next": ""}
        status, _ = self._get("/login", urllib.parse.urlencode(form).encode())
        if status != 302:
            raise SystemExit(f"{self.username}：登录失败（HTTP {status}）")
        status, _ = self._get("/")
        if status != 200:
            raise SystemExit(f"{self.username}：登录后打开工单列表失败（HTTP {status}）")

    def next_request(self) -> tuple[str, str, str]:
        """(kind, variant, path) of the next page this person opens."""
        kind = self.rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
        if kind == "detail":
            return kind, "detail", f"/orders/{self.rng.choice(self.ids)}"
        if kind == "alerts":
            return kind, "alerts", "/alerts/"
        if kind == "static":
            return kind, "static", "/static/app.css"
        if kind == "thumbnail":
            order_id, attachment_id = self.rng.choice(self.photos)
            return kind, "thumbnail", f"/orders/{order_id}/attachments/{attachment_id}/thumbnail"
        if kind == "queue":  # a squad's default list; district-wide the same sort asked for
            if self.rng.random() < 0.3:  # the whole list by next deadline: open orders first, then the rest
                return kind, "queue?all", "/?sort=deadline"
            return kind, "queue", "/" if self.street else "/?state=open&sort=deadline"
        roll = self.rng.random()
        if roll < 0.35:  # the whole list, newest first (a squad's "/" is its queue)
            return kind, "list", "/?sort=dispatched_desc" if self.street else "/"
        if roll < 0.50:
            return kind, "list?page", f"/?page={self.rng.randint(2, 5)}"
        if roll < 0.70:
            state = self.rng.choice(("handling", "dispatched", "return_requested"))
            return kind, "list?state", f"/?state={state}"
        if roll < 0.85:
            level = self.rng.choice(("red", "red", "yellow", "blue"))
            return kind, "list?level", f"/?level={level}"
        street = self.street or self.rng.choice(STREETS)
        return kind, "list?street", "/?" + urllib.parse.urlencode({"street": street})

    def run(self, until: float, think: float) -> None:
        """Open pages one after another until ``until`` (monotonic), pausing ``think`` seconds between."""
        while time.monotonic() < until:
            kind, variant, path = self.next_request()
            started = time.perf_counter()
            status, _ = self._get(path)
            seconds = time.perf_counter() - started
            self.samples.append(Sample(kind, variant, time.monotonic(), seconds, status))
            if think:
                time.sleep(self.rng.uniform(0.5, 1.5) * think)


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(math.ceil(share * len(sorted_values)) - 1, 0)]


def summarise(samples: list[Sample]) -> dict[str, object]:
    """Count, median and p95 in milliseconds, errors and their statuses."""
    times = sorted(s.seconds * 1000 for s in samples)
    statuses = Counter(s.status for s in samples if s.status != 200)
    return {
        "count": len(samples),
        "median_ms": round(percentile(times, 0.5), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "max_ms": round(times[-1], 1) if times else math.nan,
        "errors": sum(statuses.values()),
        "error_statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def machine() -> dict[str, object]:
    """CPU count, CPU model and memory of this machine."""
    model = ""
    memory_gib = 0.0
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
        memory_gib = round(kib / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gib": memory_gib}


def main() -> None:
    parser = argparse.ArgumentParser(description="网页负载基准：gunicorn 4 个进程，100 万件工单，20 个并发用户")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--open-share", type=float, default=0.05, help="未办结工单占比（默认 5%%）")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--supervisors", type=int, default=6, help="其中督察（全区）的人数，其余为各街镇执法队")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--duration", type=float, default=60.0, help="计时的秒数（不含预热）")
    parser.add_argument("--warmup", type=float, default=10.0, help="预热秒数，不计入结果")
    parser.add_argument("--solo", type=float, default=20.0, help="负载前单个用户独自请求的秒数（无并发的服务时间）")
    parser.add_argument("--think", type=float, default=0.0, help="两次请求之间的平均停顿秒数（默认 0：一直请求）")
    parser.add_argument("--db-dir", type=Path, default=ROOT / "instance")
    parser.add_argument("--rebuild", action="store_true", help="即使已有完整的数据库也重新生成")
    args = parser.parse_args()

    started = time.perf_counter()
    db, info, reused = database(args.db_dir, args.orders, args.open_share, args.rebuild)
    build_s = time.perf_counter() - started
    print(f"数据库 {db}：{'沿用' if reused else '新建'}（{build_s:.1f} 秒）；{json.dumps(info, ensure_ascii=False)}")
    ids = sample_ids(db)
    photos = ensure_photos(db)
    everywhere = [i for street_ids in ids.values() for i in street_ids]
    all_photos = [p for street_photos in photos.values() for p in street_photos]
    rng = random.Random(7)
    users = []
    for n in range(args.users):
        if n < args.supervisors:
            users.append(SimUser("", SUPERVISOR, None, everywhere, random.Random(rng.random()), all_photos))
        else:
            index = (n - args.supervisors) % len(STREETS)
            street = STREETS[index]
            users.append(
                SimUser("", squad_username(index), street, ids[street], random.Random(rng.random()), photos[street])
            )

    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "gunicorn.log"
        server = start_gunicorn(db, port, args.workers, log)
        try:
            for user in users:
                user.base = f"http://127.0.0.1:{port}"
                user.sign_in()
            # service times without contention: one supervisor, then one squad user, alone
            solo: list[Sample] = []
            for user in (users[0], users[-1]):
                user.run(time.monotonic() + args.solo / 2, 0.0)
                solo += user.samples
                user.samples = []
            measure_from = time.monotonic() + args.warmup
            until = measure_from + args.duration
            threads = [threading.Thread(target=u.run, args=(until, args.think), daemon=True) for u in users]
            load_before, client_cpu = os.getloadavg()[0], time.process_time()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            load_after, client_cpu = os.getloadavg()[0], time.process_time() - client_cpu
        finally:
            stop(server)
        server_log = log.read_text(encoding="utf-8", errors="replace")
    tracebacks = server_log.count("Traceback")

    samples = [s for u in users for s in u.samples if s.at - s.seconds >= measure_from]
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    by_variant: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s)
        by_variant[s.variant].append(s)
    pages = [s for s in samples if s.kind != "static"]
    reference = summarise(by_kind["static"])
    overall = summarise(pages)
    ref_median = float(reference["median_ms"])  # type: ignore[arg-type]
    ref_p95 = float(reference["p95_ms"])  # type: ignore[arg-type]

    def with_ratios(stats: dict[str, object]) -> dict[str, object]:
        p95 = float(stats["p95_ms"])  # type: ignore[arg-type]
        median = float(stats["median_ms"])  # type: ignore[arg-type]
        return {
            **stats,
            "p95_vs_reference_p95": round(p95 / ref_p95, 1) if ref_p95 else None,
            "median_vs_reference_median": round(median / ref_median, 1) if ref_median else None,
        }

    kinds = {
        kind: with_ratios(summarise(by_kind[kind]))
        for kind in ("list", "queue", "detail", "alerts", "thumbnail")
        if by_kind[kind]
    }
    variants = {name: summarise(group) for name, group in sorted(by_variant.items()) if name != "static"}
    solo_by_kind: dict[str, list[Sample]] = defaultdict(list)
    for s in solo:
        solo_by_kind[s.kind].append(s)
    alone = {kind: summarise(group) for kind, group in sorted(solo_by_kind.items())}
    met = float(overall["p95_ms"]) < TARGET_P95_MS and overall["errors"] == 0  # type: ignore[arg-type]
    print(
        f"{args.users} 个用户（{args.supervisors} 个督察、{args.users - args.supervisors} 个执法队），"
        f"gunicorn {args.workers} 个进程，{args.orders:,} 件工单，计时 {args.duration:.0f} 秒，停顿 {args.think} 秒"
    )
    print(f"参照 /static/app.css：{reference['count']} 次，中位 {ref_median} ms，p95 {ref_p95} ms")
    for name, stats in {**kinds, "全部页面": with_ratios(overall)}.items():
        print(
            f"{name}：{stats['count']} 次，中位 {stats['median_ms']} ms，p95 {stats['p95_ms']} ms"
            f"（参照的 {stats['p95_vs_reference_p95']} 倍），错误 {stats['errors']} {stats['error_statuses'] or ''}"
        )
    for name, stats in variants.items():
        print(f"  {name}：{stats['count']} 次，中位 {stats['median_ms']} ms，p95 {stats['p95_ms']} ms")
    print(
        "无并发（单个用户独自请求）："
        + "；".join(f"{kind} 中位 {st['median_ms']} ms、p95 {st['p95_ms']} ms" for kind, st in alone.items())
    )
    verdict = "达到" if met else "未达到"
    load_text = (
        f"1 分钟平均负载 {load_before:.1f} → {load_after:.1f}（本机 {os.cpu_count()} 核），"
        f"模拟用户自身 CPU {client_cpu:.1f} 秒"
    )
    print(f"目标 p95 < {TARGET_P95_MS:.0f} ms 且零错误：{verdict}；服务器日志中的异常 {tracebacks} 条；{load_text}")
    figures = {
        "benchmark": "web",
        "orders": args.orders,
        "open_share": args.open_share,
        "database_reused": reused,
        "database": info,
        "users": args.users,
        "supervisors": args.supervisors,
        "workers": args.workers,
        "duration_s": args.duration,
        "think_s": args.think,
        "requests_per_s": round(len(samples) / args.duration, 1),
        "reference_static": reference,
        "pages": with_ratios(overall),
        "by_page": kinds,
        "by_variant": variants,
        "alone": alone,
        "server_tracebacks": tracebacks,
        "load_avg_1min_before": round(load_before, 2),
        "load_avg_1min_after": round(load_after, 2),
        "client_cpu_s": round(client_cpu, 1),
        "target_p95_ms": TARGET_P95_MS,
        "met": met,
        "python": platform.python_version(),
        **machine(),
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
