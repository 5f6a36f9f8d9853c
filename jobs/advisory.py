"""Exactly one active scheduler on PostgreSQL: a session-level advisory lock held on a connection of its own.

The active process takes ``pg_try_advisory_lock`` once and keeps the connection open for its whole
life. PostgreSQL releases the lock when that session ends: at once when the process is killed (the
kernel closes its socket), and within about half a minute when its machine or network dies (TCP
keepalives on both ends of the lock connection). A standby polls every few seconds and takes the lock
then. Before each run, and every few seconds, the active process checks in ``pg_locks`` that its
session still holds the lock; a process that lost it stops at once, so two never run jobs together.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from tracker.services.operations import SCHEDULER_LOCK_KEY

log = logging.getLogger(__name__)

LOCK_KEY = SCHEDULER_LOCK_KEY
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
SERVER_KEEPALIVE = ("tcp_keepalives_idle = 10", "tcp_keepalives_interval = 5", "tcp_keepalives_count = 3")


class AdvisoryLock:
    """The scheduler lock on one dedicated PostgreSQL connection (thread-safe: jobs run in a thread pool)."""

    def __init__(self, url: str, key: int = LOCK_KEY) -> None:
        if make_url(url).get_backend_name() != "postgresql":
            raise ValueError(f"advisory locks need PostgreSQL, not {make_url(url).get_backend_name()}")
        self.key = key
        self._engine: Engine = create_engine(
            url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args=KEEPALIVE
        )
        self._connection: Connection | None = None
        self._held = False
        self._mutex = threading.Lock()

    def try_acquire(self) -> bool:
        """One attempt to take the lock; False while another session holds it or the database is unreachable."""
        with self._mutex:
            if self._held:
                return self._check()
            try:
                if self._connection is None:
                    self._connection = self._engine.connect()
                    for setting in (
                        "tcp_keepalives_idle = 10",
                        "tcp_keepalives_interval = 5",
                        "tcp_keepalives_count = 3",
                    ):
                        self._connection.execute(text(f"SET {setting}"))  # the server notices a dead client too
                self._held = bool(
                    self._connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
                )
            except SQLAlchemyError as exc:
                log.warning("暂时无法访问数据库（%s），稍后重试", type(exc).__name__)
                self._drop()
            return self._held

    def held(self) -> bool:
        """Whether this process's session still holds the lock (asked of the server, not remembered)."""
        with self._mutex:
            return self._held and self._check()

    def release(self) -> None:
        """Give the lock up (closing the session releases it)."""
        with self._mutex:
            self._drop()

    def _check(self) -> bool:
        assert self._connection is not None
        try:
            found = self._connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                    " AND granted AND classid = :high AND objid = :low AND objsubid = 1"
                ),
                {"high": self.key >> 32, "low": self.key & 0xFFFFFFFF},
            ).scalar()
        except SQLAlchemyError as exc:
            log.error("调度锁所在的数据库连接已断开（%s）", type(exc).__name__)
            self._drop()
            return False
        if not found:
            self._drop()
        return bool(found)

    def _drop(self) -> None:
        self._held = False
        if self._connection is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._connection.close()
            self._connection = None
