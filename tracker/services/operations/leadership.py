"""Exactly one active scheduler: a lease row that one process holds and renews, the others wait for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tracker.models import SchedulerLease

LEASE = "scheduler"
LEASE_TTL = timedelta(seconds=45)
# one number for "the tracker's scheduler" in this database (PostgreSQL advisory locks are per database);
# jobs/advisory.py takes it, /readyz looks for it
SCHEDULER_LOCK_KEY = 1_230_012_345


def hold_lease(session: Session, *, holder: str, now: datetime, ttl: timedelta = LEASE_TTL) -> bool:
    """Take or renew the lease for ``holder``; False while another live holder has it. Commits nothing."""
    table = SchedulerLease.__table__  # type: ignore[attr-defined]
    taken = session.execute(
        update(table)
        .where(table.c.name == LEASE, or_(table.c.holder == holder, table.c.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
    ).rowcount  # type: ignore[attr-defined]
    if taken:
        return True
    if session.get(SchedulerLease, LEASE) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(SchedulerLease(name=LEASE, holder=holder, expires_at=now + ttl))
    except IntegrityError:  # another process inserted it first
        return False
    return True


def lease_holder(session: Session) -> SchedulerLease | None:
    """Who holds the lease, and until when."""
    return session.get(SchedulerLease, LEASE)


def active_scheduler(session: Session, *, now: datetime) -> str | None:
    """Who is the active scheduler now (the advisory lock's session on PostgreSQL, the live lease on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        pid = session.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = :high AND objid = :low AND objsubid = 1"
            ),
            {"high": SCHEDULER_LOCK_KEY >> 32, "low": SCHEDULER_LOCK_KEY & 0xFFFFFFFF},
        ).scalar()
        return f"数据库会话 {pid}（咨询锁）" if pid is not None else None
    lease = lease_holder(session)
    if lease is None:
        return None
    expires = lease.expires_at if lease.expires_at.tzinfo else lease.expires_at.replace(tzinfo=UTC)
    return f"{lease.holder}（租约至 {expires.isoformat()}）" if expires >= now else None
