"""Demo data: the sample exports, shifted by working days so that they look freshly exported."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlmodel import Session, select

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import LOCAL_TZ, to_local
from tracker.domain.errors import CalendarNotLoaded, TrackerError
from tracker.domain.roles import ROLE_LABELS, Role
from tracker.models import AppUser, Street
from tracker.services.accounts import Actor, create_user
from tracker.services.imports import ImportOptions, ImportReport, import_file, load_profile
from tracker.services.orders import add_street, adopt_from_orders, load_calendar, rule_table, scan

SAMPLES = Path(__file__).resolve().parents[3] / "sample_orders"


@dataclass(frozen=True)
class SampleFile:
    """One sample export and the platform it stands for."""

    path: Path
    profile: str


def read_manifest(folder: Path = SAMPLES) -> tuple[datetime, list[SampleFile]]:
    """The samples' export moment and files."""
    manifest = folder / "manifest.toml"
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        as_of = data["as_of"]
        files = [SampleFile(folder / entry["path"], entry["profile"]) for entry in data["files"]]
    except OSError as exc:
        raise TrackerError(f"示例数据清单「{manifest}」无法打开") from exc
    except (KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise TrackerError(f"示例数据清单「{manifest}」格式不对：应有 as_of 和 [[files]]（path、profile）") from exc
    if not isinstance(as_of, datetime) or as_of.tzinfo is None:
        raise TrackerError(f"示例数据清单字段 as_of 应为带时区的时间，实际为：{as_of!r}")
    return as_of, files


def manifest_streets(folder: Path = SAMPLES) -> list[str]:
    """The streets of the samples' district, as the manifest lists them (``streets``; none when absent)."""
    try:
        streets = tomllib.loads((folder / "manifest.toml").read_text(encoding="utf-8")).get("streets", [])
    except (OSError, tomllib.TOMLDecodeError):
        return []  # read_manifest says what is wrong with the file
    return [name for name in streets if isinstance(name, str) and name.strip()]


class WorkdayShift:
    """Moves sample times so the export moment lands on the latest working day not after ``now``.

    Each working day of the file maps to one working day of the target weeks, in order, so
    working-day deadlines, extension limits and the order of steps stay as in the file. The
    rest days after a working day map into the rest days after its image (or, where the
    target has none, into the last hour of that working day): the map never reorders times.
    """

    def __init__(self, as_of: datetime, now: datetime, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        local_as_of = to_local(as_of)
        self.anchor = calendar.previous_workday(local_as_of.date())
        today = to_local(now).date()
        target = calendar.previous_workday(today)
        if target == today and datetime.combine(today, local_as_of.timetz()) > now:
            target = calendar.previous_workday(today - timedelta(days=1))
        self.target = target

    def workday(self, day: date) -> date:
        """The image of working day ``day``."""
        offset = self.calendar.working_days_between(day, self.anchor)
        return self.calendar.move_working_days(self.target, -offset)

    def _next_workday(self, day: date) -> date:
        try:
            return self.calendar.move_working_days(day, 1)
        except CalendarNotLoaded:  # the last loaded working day: treat the next day as worked
            return day + DAY

    def __call__(self, moment: datetime) -> datetime:
        local = to_local(moment)
        base = self.calendar.previous_workday(local.date())
        following = self._next_workday(base)
        image = self.workday(base)
        image_following = self._next_workday(image)
        start, new_start = _midnight(base), _midnight(image)
        rest_start, end, new_end = _midnight(base + DAY), _midnight(following), _midnight(image_following)
        squeeze = following - base > DAY and image_following - image == DAY
        work_span = DAY - timedelta(hours=1) if squeeze else DAY
        if local < rest_start:
            moved = new_start + (local - start) * (work_span / DAY)
        else:
            moved = (
                new_start + work_span + (local - rest_start) * ((new_end - new_start - work_span) / (end - rest_start))
            )
        return moved.astimezone(moment.tzinfo)


DAY = timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), LOCAL_TZ)


@dataclass(frozen=True)
class DemoLoad:
    """What loading the samples did, and as of when."""

    reports: list[ImportReport]
    as_of: datetime
    note: str = ""
    users: list[tuple[str, str, str]] = field(default_factory=list)  # (username, password, who) created now


def load_samples(session: Session, *, now: datetime, folder: Path = SAMPLES) -> DemoLoad:
    """Import every sample file, shifted to ``now``; orders already loaded are left alone.

    When ``now`` lies in a year whose holiday arrangement is not loaded, the samples are
    shifted to the last loaded working day instead, and the note says so.
    """
    as_of, files = read_manifest(folder)
    calendar = load_calendar(session)
    rules = rule_table(session)
    note = ""
    try:
        shift = WorkdayShift(as_of, now, calendar)
    except CalendarNotLoaded as exc:
        last = calendar.previous_workday(date(calendar.last_year, 12, 31))
        now = datetime.combine(last, time(18, 0), LOCAL_TZ)
        shift = WorkdayShift(as_of, now, calendar)
        note = f"{exc.message.rstrip('。')}。示例数据改为按 {last.isoformat()}（最后一个已载入的工作日）载入。"
    actor = Actor.cli("示例数据载入")
    listed = set(session.exec(select(Street.name)).all())
    for name in manifest_streets(folder):  # the samples' streets are the district's: listed before import
        if name not in listed:
            add_street(session, name=name)
            listed.add(name)
    reports = [
        import_file(
            session,
            f.path,
            options=ImportOptions(
                actor=actor, now=now, calendar=calendar, rules=rules, profile=load_profile(f.profile), shift=shift
            ),
        )
        for f in files
    ]
    adopt_from_orders(session)
    scan(session, now=now, calendar=calendar)
    return DemoLoad(reports=reports, as_of=now, note=note, users=ensure_demo_users(session, now=now))


# One user per role (and a second squad, so that scope can be seen); passwords are for the demo only.
DEMO_USERS = (
    ("admin", "周敏", Role.ADMIN, None, "demo-admin-2026"),
    ("duchao", "李明", Role.SUPERVISOR, None, "demo-duchao-2026"),
    ("jingansi", "张三", Role.SQUAD, "静安寺街道", "demo-jingansi-2026"),
    ("caojiadu", "王五", Role.SQUAD, "曹家渡街道", "demo-caojiadu-2026"),
)


def ensure_demo_users(session: Session, *, now: datetime) -> list[tuple[str, str, str]]:
    """Create the demo users that do not exist yet; returns (username, password, who) of each one created."""
    created = []
    for username, name, role, street, password in DEMO_USERS:
        if session.exec(select(AppUser).where(AppUser.username == username)).first() is not None:
            continue  # an existing user keeps the password it has
        if street and session.exec(select(Street).where(Street.name == street)).first() is None:
            add_street(session, name=street)
        create_user(
            session,
            username=username,
            display_name=name,
            role=role,
            street=street,
            password=password,
            now=now,
            must_change_password=True,  # a published demo password is replaced at first sign-in
        )
        created.append((username, password, f"{ROLE_LABELS[role]}{'（' + street + '）' if street else ''}"))
    return created
