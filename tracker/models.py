"""SQLModel tables. Times are stored as aware UTC; enums are guarded by check constraints.

One piece: this is the schema Alembic compares against (``SQLModel.metadata``), and a table with
its indexes and constraints reads best beside the tables it refers to; it holds no behaviour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from tracker.domain.roles import Role
from tracker.domain.vocabulary import (
    VERIFICATION_STAGE,
    Action,
    AlertLevel,
    CheckAction,
    CheckConclusion,
    CheckStatus,
    ExtensionStatus,
    Outcome,
    Stage,
    State,
    Unit,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on SQLite (which forgets the zone) and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: Any) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


def _one_of(column: str, values: Any) -> str:
    """The check ``column IN (…)`` written as ``column = 'a' OR column = 'b' …``, for the tables an import fills.

    The two accept exactly the same values (NULL included), but SQLite evaluates an IN list by building
    a small lookup table for every row an ``executemany`` inserts: on order_event that costs as much as
    storing the row. The comparisons cost nothing measurable (issue 16); PostgreSQL is indifferent.
    """
    return "(" + " OR ".join(f"{column} = '{v.value}'" for v in values) + ")"


def utc_column(*, nullable: bool = True, index: bool = False) -> Any:
    """A UTC timestamp column."""
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


def utcnow() -> datetime:
    """Now, aware UTC (used only for row bookkeeping; business time is passed in)."""
    return datetime.now(UTC)


class Order(SQLModel, table=True):
    """A hotline complaint work order (诉件); key (source, order_no).

    Text that comes from exports has no length limit: a platform's long category or name must
    not fail on PostgreSQL where SQLite would have accepted it.
    """

    __tablename__ = "work_order"
    __table_args__ = (
        sa.UniqueConstraint("source", "order_no", name="uq_work_order_source_no"),
        sa.CheckConstraint(_one_of("state", State), name="ck_work_order_state"),
        sa.CheckConstraint(_one_of("extension_status", ExtensionStatus), name="ck_work_order_extension_status"),
        sa.Index("ix_work_order_state_street", "state", "street"),
        sa.Index("ix_work_order_repeat", "address_key", "category", "dispatched_at"),
        # the order list: newest dispatch first, district-wide or per street
        sa.Index("ix_work_order_dispatched", "dispatched_at"),
        sa.Index("ix_work_order_street_dispatched", "street", "dispatched_at"),
        sa.Index("ix_work_order_state_dispatched", "state", "dispatched_at"),
        # closures in a period (closure-based rates; spot-check populations): it covers what a draw
        # reads about each order, so a month of closures is read from the index alone
        sa.Index(
            "ix_work_order_closed",
            "closed_at",
            "state",
            "street",
            "category",
            "satisfaction",
            "return_count",
            "is_repeat",
        ),
        sa.Index("ix_work_order_category_dispatched", "category", "dispatched_at"),
        # a re-import's line pass: the line digests of a run of order numbers, read from the index alone
        sa.Index("ix_work_order_source_no_line", "source", "order_no", "line_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32)
    order_no: str = Field(max_length=64)
    cycle: int = 1
    state: str = Field(max_length=32)
    return_from_state: str | None = Field(default=None, max_length=32)
    cycle_started_at: datetime = Field(sa_column=utc_column(nullable=False))
    received_at: datetime | None = Field(default=None, sa_column=utc_column())
    dispatched_at: datetime = Field(sa_column=utc_column(nullable=False))
    request_type: str | None = Field(default=None)
    urgency: str | None = Field(default=None)
    category: str | None = Field(default=None)
    content: str | None = None
    address: str | None = None
    street: str | None = Field(default=None, index=True)
    handling_unit: str | None = Field(default=None)
    complainant: str | None = Field(default=None)
    phone: str | None = Field(default=None)
    signed_at: datetime | None = Field(default=None, sa_column=utc_column())
    contact_at: datetime | None = Field(default=None, sa_column=utc_column())
    contact_result: str | None = Field(default=None)
    contact_reason: str | None = Field(default=None)
    contact_person: str | None = Field(default=None)
    extension_status: str = Field(default=ExtensionStatus.NONE.value, max_length=16)
    extension_reason: str | None = None
    extension_requested_to: date | None = None
    return_count: int = 0
    return_reason_code: str | None = Field(default=None)
    return_basis: str | None = None
    reply: str | None = None
    verdict: str | None = Field(default=None)
    reply_method: str | None = Field(default=None)
    closed_at: datetime | None = Field(default=None, sa_column=utc_column())
    satisfaction: str | None = Field(default=None)
    is_repeat: bool = False
    repeat_of: str | None = Field(default=None)
    address_key: str | None = Field(default=None)  # normalised address, for repeat detection
    import_hash: str | None = Field(default=None, max_length=64)  # digest of the last imported row
    line_hash: str | None = Field(default=None, max_length=32)  # and of its CSV line, when it came from one
    extras: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    # when the complainant's personal data was removed (services.operations.retention); None while kept
    anonymised_at: datetime | None = Field(default=None, sa_column=utc_column())


class OrderDeadline(SQLModel, table=True):
    """One stage deadline of one order cycle; its rule of record is kept so it can be recomputed."""

    __tablename__ = "order_deadline"
    __table_args__ = (
        sa.CheckConstraint(_one_of("stage", Stage), name="ck_order_deadline_stage"),
        sa.CheckConstraint(_one_of("unit", Unit), name="ck_order_deadline_unit"),
        sa.CheckConstraint("outcome IS NULL OR " + _one_of("outcome", Outcome), name="ck_order_deadline_outcome"),
        # open deadlines by due time: what the overdue scan reads
        sa.Index(
            "ix_order_deadline_open_due",
            "due_at",
            "stage",
            sqlite_where=sa.text("completed_at IS NULL"),
            postgresql_where=sa.text("completed_at IS NULL"),
        ),
        sa.Index("ix_order_deadline_stage_due", "stage", "due_at"),  # deadline-based rates per period
        # open deadlines by order: the work queue's next due time per order (min over a small covering index)
        sa.Index(
            "ix_order_deadline_open_order",
            "order_id",
            "due_at",
            sqlite_where=sa.text("completed_at IS NULL"),
            postgresql_where=sa.text("completed_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    cycle: int = 1
    stage: str = Field(max_length=32)
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    amount: int = 0
    unit: str = Field(max_length=16)
    rule_label: str = ""
    due_at: datetime | None = Field(default=None, sa_column=utc_column())
    due_error: str | None = None
    rule_due_at: datetime | None = Field(default=None, sa_column=utc_column())  # what our rules compute
    platform_due_at: datetime | None = Field(default=None, sa_column=utc_column())  # 处理时限 in the export
    original_due_at: datetime | None = Field(default=None, sa_column=utc_column())
    completed_at: datetime | None = Field(default=None, sa_column=utc_column())
    outcome: str | None = Field(default=None, max_length=16)


class OrderEvent(SQLModel, table=True):
    """Append-only audit trail: one row per action, written with the change it records."""

    __tablename__ = "order_event"
    __table_args__ = (sa.CheckConstraint(_one_of("action", Action), name="ck_order_event_action"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    cycle: int = 1
    action: str = Field(max_length=32)
    state_before: str | None = Field(default=None, max_length=32)
    state_after: str = Field(max_length=32)
    actor: str = Field(max_length=128)
    actor_name: str = Field(max_length=128)
    source: str = Field(max_length=32)
    # not indexed: no statement reads events by time (an order's trail is read by order_id; issue 16)
    at: datetime = Field(sa_column=utc_column(nullable=False))
    note: str = ""
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


class OrderAttachment(SQLModel, table=True):
    """A photo or PDF on an order, stored under a generated name; withdrawn rows keep their file until retention.

    ``original_name`` is the sanitised name for display only; nothing on disk carries it.
    ``purged_at`` marks the file (and thumbnail) deleted by retention; the row stays for the audit trail.
    """

    __tablename__ = "order_attachment"
    __table_args__ = (
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'application/pdf')", name="ck_order_attachment_type"
        ),
        sa.CheckConstraint(
            "purpose IN ('first_contact', 'close', 'verification', 'other')", name="ck_order_attachment_purpose"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    stored_name: str = Field(max_length=128, unique=True)
    thumbnail_name: str | None = Field(default=None, max_length=128)
    original_name: str = Field(max_length=255)
    content_type: str = Field(max_length=64)
    size: int
    sha256: str = Field(max_length=64)
    width: int | None = None
    height: int | None = None
    purpose: str = Field(default="other", max_length=16)
    captured_at: datetime | None = Field(default=None, sa_column=utc_column())
    uploaded_by: str = Field(max_length=128)
    uploaded_by_name: str = Field(max_length=128)
    uploaded_at: datetime = Field(sa_column=utc_column(nullable=False))
    removed_at: datetime | None = Field(default=None, sa_column=utc_column())
    removed_by: str | None = Field(default=None, max_length=128)
    removed_reason: str | None = None
    purged_at: datetime | None = Field(default=None, sa_column=utc_column())


class OrderNote(SQLModel, table=True):
    """A 备注 on an order (no state change), stored as written; its audit event carries a masked copy."""

    __tablename__ = "order_note"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    text: str
    author: str = Field(max_length=128)
    author_name: str = Field(max_length=128)
    at: datetime = Field(sa_column=utc_column(nullable=False))


class ImportBatch(SQLModel, table=True):
    """One imported file: what it was, who imported it, what it did."""

    __tablename__ = "import_batch"

    id: int | None = Field(default=None, primary_key=True)
    batch: str = Field(max_length=64, unique=True)
    file_name: str
    sha256: str = Field(max_length=64, index=True)
    size: int
    profile: str
    source: str
    actor: str
    actor_name: str
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column())
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    conflicts: int = 0


class ImportIssue(SQLModel, table=True):
    """A rejected or conflicting row of a batch, or a note about the file."""

    __tablename__ = "import_issue"
    __table_args__ = (
        sa.CheckConstraint("(kind = 'rejected' OR kind = 'conflict' OR kind = 'warning')", name="ck_import_issue_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="import_batch.id", index=True)
    kind: str = Field(max_length=16)
    row: int | None = None
    column: str = ""
    value: str = ""
    reason: str
    order_no: str = ""


class Alert(SQLModel, table=True):
    """A due-soon or overdue flag on one stage deadline: raised, raised further, resolved; never deleted."""

    __tablename__ = "alert"
    __table_args__ = (
        sa.CheckConstraint(_in("level", AlertLevel), name="ck_alert_level"),
        sa.CheckConstraint("level_rank BETWEEN 1 AND 3", name="ck_alert_level_rank"),
        # the scan compares every open alert with its stage: read in stage order from the index alone
        sa.Index("ix_alert_open_deadline", "resolved_at", "deadline_id", "level_rank", "due_at"),
        # the alerts page: open alerts red first, then by due time, read in index order
        sa.Index("ix_alert_open_order", "resolved_at", sa.text("level_rank DESC"), "due_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deadline_id: int = Field(foreign_key="order_deadline.id", unique=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    stage: str = Field(max_length=32)
    level: str = Field(max_length=16)
    level_rank: int
    due_at: datetime = Field(sa_column=utc_column(nullable=False))
    raised_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    level_changed_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column())
    acknowledged_at: datetime | None = Field(default=None, sa_column=utc_column())
    acknowledged_by: str | None = Field(default=None, max_length=128)


class JobRun(SQLModel, table=True):
    """One run of a scheduled job: when, how it ended, what it counted, and the error if any."""

    __tablename__ = "job_run"
    __table_args__ = (sa.CheckConstraint("outcome IN ('ok', 'error', 'skipped')", name="ck_job_run_outcome"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=64, index=True)
    scheduled_for: datetime | None = Field(default=None, sa_column=utc_column())
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column())
    outcome: str = Field(max_length=16)
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    summary: str = ""
    error: str | None = None
    runner: str = Field(default="", max_length=128)


class Digest(SQLModel, table=True):
    """One squad's morning digest for one day, kept for the web UI (and e-mailed when configured)."""

    __tablename__ = "digest"
    __table_args__ = (sa.UniqueConstraint("street", "day", name="uq_digest_street_day"),)

    id: int | None = Field(default=None, primary_key=True)
    street: str
    day: date
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    content: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    text: str = ""
    emailed_to: str = ""


NOTIFY_KINDS = ("wecom", "dingtalk", "email")
NOTIFY_EVENTS = ("alert", "supervise", "redo", "return_decision", "extension_decision", "digest")
NOTIFY_STATUSES = ("pending", "sent", "failed")


def _in_text(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class NotifyChannel(SQLModel, table=True):
    """Where a street's squad hears of its orders: a WeCom or DingTalk group robot, or e-mail addresses.

    A webhook key or signing secret is stored here or named by a file (``*_file``, read when sending);
    pages never show it again.
    """

    __tablename__ = "notify_channel"
    __table_args__ = (
        sa.CheckConstraint(_in_text("kind", NOTIFY_KINDS), name="ck_notify_channel_kind"),
        sa.UniqueConstraint("street", "kind", name="uq_notify_channel_street_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    street: str
    kind: str = Field(max_length=16)
    webhook: str = ""  # the robot's full URL (its key or access_token is the secret)
    webhook_file: str = ""
    secret: str = ""  # DingTalk signing secret (SEC…)
    secret_file: str = ""
    emails: str = ""  # comma separated
    quiet_start: str = Field(default="22:00", max_length=5)
    quiet_end: str = Field(default="07:00", max_length=5)
    red_in_quiet: bool = False
    enabled: bool = True
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
    updated_by: str = ""


class NotifyEvent(SQLModel, table=True):
    """Something a channel must be told, written in the transaction of what happened (the outbox's input).

    ``batched_at`` is set when the event went into a message; ``key`` makes a rerun add nothing twice.
    """

    __tablename__ = "notify_event"
    __table_args__ = (
        sa.CheckConstraint(_in_text("kind", NOTIFY_EVENTS), name="ck_notify_event_kind"),
        sa.UniqueConstraint("channel_id", "key", name="uq_notify_event_channel_key"),
        sa.Index("ix_notify_event_pending", "batched_at", "channel_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="notify_channel.id")
    key: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    street: str
    order_id: int | None = Field(default=None, foreign_key="work_order.id")
    order_no: str = ""
    stage: str = ""
    level: str = ""
    due_at: datetime | None = Field(default=None, sa_column=utc_column())
    detail: str = ""  # the decision in words (批准 / 驳回), a digest's text
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    batched_at: datetime | None = Field(default=None, sa_column=utc_column())
    message_id: int | None = Field(default=None, foreign_key="notify_message.id")


class NotifyMessage(SQLModel, table=True):
    """One message to one channel (the outbox row the sender works from): sent once, retried with back-off.

    ``idempotency_key`` is unique: composing the same events again finds the row instead of adding
    one. ``attempts`` and ``lease_until`` are committed before the request goes out.
    """

    __tablename__ = "notify_message"
    __table_args__ = (
        sa.CheckConstraint(_in_text("status", NOTIFY_STATUSES), name="ck_notify_message_status"),
        sa.Index("ix_notify_message_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="notify_channel.id", index=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    street: str
    kind: str = Field(max_length=16)  # batch | digest
    title: str = ""
    body: str = ""  # markdown as composed (masked); the platform payload is built from it when sending
    event_count: int = 0
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=utc_column(nullable=False))
    lease_until: datetime | None = Field(default=None, sa_column=utc_column())
    lease_holder: str = ""
    last_attempt_at: datetime | None = Field(default=None, sa_column=utc_column())
    last_error: str = ""
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(index=True))


class MetricSnapshot(SQLModel, table=True):
    """One rate for one street on one day (numerator, denominator and the date that put orders in).

    ``category`` is blank for the street's rate over every category; each category of the street's
    orders has a row of its own, so a dashboard narrowed to a category reads sums, not orders.
    """

    __tablename__ = "metric_snapshot"
    __table_args__ = (
        sa.UniqueConstraint("day", "street", "category", "metric", name="uq_metric_snapshot"),
        sa.Index("ix_metric_snapshot_category_day", "category", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(index=True)
    street: str
    category: str = Field(default="", sa_column_kwargs={"server_default": ""})
    metric: str = Field(max_length=32)
    numerator: float
    denominator: float
    basis: str
    computed_at: datetime = Field(sa_column=utc_column(nullable=False))


class SchedulerLease(SQLModel, table=True):
    """Which scheduler process is the active one, until when (the others stand by)."""

    __tablename__ = "scheduler_lease"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))


class CalendarYear(SQLModel, table=True):
    """A year whose official holiday arrangement is loaded."""

    __tablename__ = "calendar_year"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    source: str = Field(max_length=200)
    loaded_at: datetime = Field(sa_column=utc_column(nullable=False))
    loaded_by: str = Field(max_length=128)


class CalendarDay(SQLModel, table=True):
    """An exception to the weekend rule: a named rest day or a make-up working day (补班)."""

    __tablename__ = "calendar_day"

    day: date = Field(primary_key=True)
    year: int = Field(foreign_key="calendar_year.year", index=True)
    is_workday: bool
    name: str


class DeadlineRuleRow(SQLModel, table=True):
    """An editable deadline rule (defaults from domain.md section 3)."""

    __tablename__ = "deadline_rule"
    __table_args__ = (
        # the order stages, and the 核查 of a 热线通报 line (its deadline rule is edited in the same table)
        sa.CheckConstraint(
            "(" + _in("stage", Stage) + f" OR stage = '{VERIFICATION_STAGE}')", name="ck_deadline_rule_stage"
        ),
        sa.CheckConstraint(_in("unit", Unit), name="ck_deadline_rule_unit"),
        sa.CheckConstraint("amount >= 0", name="ck_deadline_rule_amount"),
        sa.UniqueConstraint("stage", "request_type", "urgency", name="uq_deadline_rule_scope"),
    )

    id: int | None = Field(default=None, primary_key=True)
    stage: str = Field(max_length=32)
    request_type: str | None = Field(default=None)
    urgency: str | None = Field(default=None)
    amount: int
    unit: str = Field(max_length=16)
    note: str = ""
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class AppUser(SQLModel, table=True):
    """A person who signs in: role, and for a squad the one street it is bound to."""

    __tablename__ = "app_user"
    __table_args__ = (
        sa.CheckConstraint(_in("role", Role), name="ck_app_user_role"),
        sa.CheckConstraint("role <> 'squad' OR street IS NOT NULL", name="ck_app_user_squad_street"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=64)
    role: str = Field(max_length=16)
    street: str | None = Field(default=None, max_length=64)
    password_hash: str
    active: bool = True
    api_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    password_changed_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    # set when someone other than the user chose the password (create-user, admin page, reset, demo)
    must_change_password: bool = False


class UserSession(SQLModel, table=True):
    """One signed-in browser; deleting the row ends that session at once (logout, password change)."""

    __tablename__ = "user_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    address: str = Field(default="", max_length=64)


class LoginAttempt(SQLModel, table=True):
    """A sign-in attempt, kept for throttling per account and per address (shared by all workers)."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        sa.Index("ix_login_attempt_username_at", "username", "at"),
        sa.Index("ix_login_attempt_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    address: str = Field(max_length=64)
    at: datetime = Field(sa_column=utc_column(nullable=False))
    succeeded: bool = False
    device: str | None = Field(default=None, max_length=64)  # hash of the browser's known-device id, if any


class PhoneReveal(SQLModel, table=True):
    """Who saw an unmasked phone number, of which order, when and why (PIPL audit)."""

    __tablename__ = "phone_reveal"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    user_name: str = Field(max_length=64)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    reason: str
    at: datetime = Field(sa_column=utc_column(nullable=False, index=True))


class ExportLog(SQLModel, table=True):
    """Who downloaded which export (XLSX/CSV), when, with which filter and how many rows (append-only)."""

    __tablename__ = "export_log"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    user_name: str = Field(max_length=128)
    at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    kind: str = Field(max_length=32)
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    row_count: int = 0
    masked: bool = True


class Street(SQLModel, table=True):
    """A street or town of the district and its squad (data, not code: each district loads its own)."""

    __tablename__ = "street"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    squad_name: str = Field(max_length=128)
    active: bool = True


class Category(SQLModel, table=True):
    """A complaint category offered in filters and forms."""

    __tablename__ = "category"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    active: bool = True


class ImportUpload(SQLModel, table=True):
    """An uploaded export waiting for (or done with) its dry run and commit; stored under a generated name."""

    __tablename__ = "import_upload"
    __table_args__ = (
        sa.CheckConstraint("status IN ('checked', 'committed', 'failed', 'discarded')", name="ck_import_upload_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    stored_name: str = Field(max_length=128, unique=True)
    original_name: str
    size: int
    sha256: str = Field(max_length=64)
    profile: str = Field(default="", max_length=64)
    uploaded_by: str = Field(max_length=128)
    uploaded_at: datetime = Field(sa_column=utc_column(nullable=False))
    status: str = Field(max_length=16)
    dry_run: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    batch: str | None = Field(default=None, max_length=64)


class SamplePlan(SQLModel, table=True):
    """A spot-check sample: who drew it, from which population, how, with which seed — enough to redraw it."""

    __tablename__ = "sample_plan"
    __table_args__ = (
        sa.CheckConstraint("stratify_by IN ('none', 'street', 'squad', 'category')", name="ck_sample_plan_stratify"),
        sa.CheckConstraint("allocation IN ('proportional', 'equal', 'per_stratum')", name="ck_sample_plan_allocation"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    created_by: str = Field(max_length=128)
    created_by_name: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    population: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    population_size: int = 0
    stratify_by: str = Field(default="none", max_length=16)
    allocation: str = Field(default="proportional", max_length=16)
    minimum_per_stratum: int = 0
    size_rule: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    risk: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    seed: str = Field(max_length=64)
    strata: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    checklist: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


class SampleItem(SQLModel, table=True):
    """One order in a sample: why it is there, and its review (score and grade computed, never typed)."""

    __tablename__ = "sample_item"
    __table_args__ = (sa.UniqueConstraint("plan_id", "order_id", name="uq_sample_item_plan_order"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="sample_plan.id", index=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    stratum: str = Field(default="", max_length=128)
    reason: str = Field(max_length=32)  # random, a risk inclusion (unsatisfied, returned, repeat, fast_close), manual
    removed_at: datetime | None = Field(default=None, sa_column=utc_column())
    reviewed_at: datetime | None = Field(default=None, sa_column=utc_column())
    reviewer: str | None = Field(default=None, max_length=128)
    marks: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    hard_fails: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    comment: str = ""
    score: float | None = None
    grade: str | None = Field(default=None, max_length=16)
    passed: bool | None = None
    redo_started: bool = False


class SampleEvent(SQLModel, table=True):
    """Append-only history of a sample: drawn, an order added or dropped (with a reason), reviewed, redo started."""

    __tablename__ = "sample_event"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="sample_plan.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="work_order.id")
    kind: str = Field(max_length=32)
    actor: str = Field(max_length=128)
    actor_name: str = Field(max_length=128)
    at: datetime = Field(sa_column=utc_column(nullable=False))
    reason: str = ""
    details: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


class HotspotMark(SQLModel, table=True):
    """A recurring place (building, category) put under 源头治理 by a supervisor: who answers for it, and how it went.

    ``count_at_mark`` is the hotspot's count in its window when it was marked, so the page can show
    whether complaints there fell. Every change is recorded in ``hotspot_event``.
    """

    __tablename__ = "hotspot_mark"
    __table_args__ = (
        sa.UniqueConstraint("place", "category", name="uq_hotspot_mark_place_category"),
        sa.CheckConstraint("status IN ('treating', 'ended')", name="ck_hotspot_mark_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    place: str  # building level (domain.addresses.building_of): never a flat number
    category: str
    street: str  # the street responsible for the 源头治理
    status: str = Field(default="treating", max_length=16)
    note: str = ""
    count_at_mark: int = 0
    window_days: int = 90
    marked_at: datetime = Field(sa_column=utc_column(nullable=False))
    marked_by: str = Field(max_length=128)
    marked_by_name: str = Field(max_length=128)
    ended_at: datetime | None = Field(default=None, sa_column=utc_column())


class HotspotEvent(SQLModel, table=True):
    """Append-only audit of 源头治理 marks: marked, changed (note or street), ended."""

    __tablename__ = "hotspot_event"
    __table_args__ = (sa.CheckConstraint("action IN ('mark', 'update', 'end')", name="ck_hotspot_event_action"),)

    id: int | None = Field(default=None, primary_key=True)
    mark_id: int = Field(foreign_key="hotspot_mark.id", index=True)
    action: str = Field(max_length=16)
    street: str
    note: str = ""
    actor: str = Field(max_length=128)
    actor_name: str = Field(max_length=128)
    at: datetime = Field(sa_column=utc_column(nullable=False))


class AnalysisSnapshot(SQLModel, table=True):
    """The 分析 page as the nightly metrics job computed it, per scope ('' = the district, else a street).

    Counts and building-level places only; the page reads it instead of the orders when it is from today.
    """

    __tablename__ = "analysis_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(unique=True)
    computed_at: datetime = Field(sa_column=utc_column(nullable=False))
    content: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


class HotlineNotice(SQLModel, table=True):
    """A 热线通报 from the 12345 centre, key (source, notice_no); its lines are :class:`NoticeCheck` rows."""

    __tablename__ = "hotline_notice"
    __table_args__ = (sa.UniqueConstraint("source", "notice_no", name="uq_hotline_notice_source_no"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32)
    notice_no: str = Field(max_length=64)
    file_name: str = Field(max_length=255)
    imported_at: datetime = Field(sa_column=utc_column(nullable=False))
    imported_by: str = Field(max_length=128)
    imported_by_name: str = Field(max_length=128)


class NoticeCheck(SQLModel, table=True):
    """One line of a 通报: the 核查 of one named order, owned by the order's street squad, with its deadline.

    ``order_id`` is empty while the centre's order number is unknown here (reported at import, linked when a
    later import finds the order). ``alert_level`` is what the alert scan last raised (blue, yellow, red).
    """

    __tablename__ = "notice_check"
    __table_args__ = (
        sa.UniqueConstraint("notice_id", "order_no", "kind", name="uq_notice_check_line"),
        sa.CheckConstraint(_in("status", CheckStatus), name="ck_notice_check_status"),
        sa.CheckConstraint(
            "conclusion IS NULL OR " + _in("conclusion", CheckConclusion), name="ck_notice_check_conclusion"
        ),
        sa.CheckConstraint("alert_level IS NULL OR " + _in("alert_level", AlertLevel), name="ck_notice_check_alert"),
        sa.CheckConstraint("due_basis IN ('notice', 'rule')", name="ck_notice_check_due_basis"),
        # the alert scan: unanswered 核查 by due time
        sa.Index("ix_notice_check_status_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="hotline_notice.id", index=True)
    line_no: int  # the row in the imported file
    order_no: str = Field(max_length=64)
    order_id: int | None = Field(default=None, foreign_key="work_order.id", index=True)
    kind: str = Field(max_length=64)  # 通报类型: 不满意, 超时办结, 重复诉件 …
    notice_date: date | None = None
    requirement: str = ""  # 通报内容/要求
    due_at: datetime = Field(sa_column=utc_column(nullable=False))
    due_basis: str = Field(max_length=16)  # 'notice' (反馈时限) or 'rule' (the rule table)
    rule_label: str = ""
    status: str = Field(default=CheckStatus.PENDING.value, max_length=16)
    conclusion: str | None = Field(default=None, max_length=16)
    cause: str = ""  # 原因分析
    measures: str = ""  # 整改措施
    answered_at: datetime | None = Field(default=None, sa_column=utc_column())
    answered_by: str | None = Field(default=None, max_length=128)
    answered_by_name: str | None = Field(default=None, max_length=128)
    decided_at: datetime | None = Field(default=None, sa_column=utc_column())
    decided_by: str | None = Field(default=None, max_length=128)
    return_reason: str = ""
    return_count: int = 0
    alert_level: str | None = Field(default=None, max_length=16)
    alert_changed_at: datetime | None = Field(default=None, sa_column=utc_column())


class NoticeCheckEvent(SQLModel, table=True):
    """Append-only audit of a 核查: one row per step (import, answer, accept, return, 重办)."""

    __tablename__ = "notice_check_event"
    __table_args__ = (sa.CheckConstraint(_in("action", CheckAction), name="ck_notice_check_event_action"),)

    id: int | None = Field(default=None, primary_key=True)
    check_id: int = Field(foreign_key="notice_check.id", index=True)
    action: str = Field(max_length=16)
    status_after: str = Field(max_length=16)
    actor: str = Field(max_length=128)
    actor_name: str = Field(max_length=128)
    at: datetime = Field(sa_column=utc_column(nullable=False))
    note: str = ""
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


def append_only_statements(dialect: str) -> list[str]:
    """SQL that makes order_event refuse UPDATE and DELETE at the database itself."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS order_event_no_{verb.lower()} BEFORE {verb} ON order_event "
            "BEGIN SELECT RAISE(ABORT, 'order_event is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION order_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'order_event is append-only'; END $$",
            "DROP TRIGGER IF EXISTS order_event_no_change ON order_event",
            "CREATE TRIGGER order_event_no_change BEFORE UPDATE OR DELETE ON order_event "
            "FOR EACH ROW EXECUTE FUNCTION order_event_append_only()",
        ]
    return []


APPEND_ONLY_TABLES = ("order_event", "phone_reveal", "export_log")
# rows that retention may delete once they are this old (column, days); younger ones nobody can delete.
# The phone-reveal log is kept TRACKER_REVEAL_RETENTION_DAYS (1095 by default, never below this floor).
PURGEABLE_AFTER = {"phone_reveal": ("at", 365)}


def append_only_ddl(table: str, dialect: str) -> list[str]:
    """SQL that makes ``table`` refuse UPDATE, DELETE and (on PostgreSQL) TRUNCATE at the database itself.

    SQLite has no TRUNCATE: its ``DELETE FROM t`` without a WHERE is refused by the DELETE trigger.
    """
    purge = PURGEABLE_AFTER.get(table)
    if dialect == "sqlite":
        young = f" WHEN OLD.{purge[0]} > datetime('now', '-{purge[1]} days')" if purge else ""
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f"{young if verb == 'DELETE' else ''} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        refuse = "refuse_append_only_change()"
        statements = [
            "CREATE OR REPLACE FUNCTION refuse_append_only_change() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END $$",
        ]
        if purge:  # a row older than the floor may be deleted (retention); nothing may be updated
            refuse = f"refuse_{table}_change()"
            statements.append(
                f"CREATE OR REPLACE FUNCTION {refuse} RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF TG_OP = 'DELETE' AND OLD.{purge[0]} < now() - interval '{purge[1]} days' THEN RETURN OLD; END IF; "
                "RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END $$"
            )
        return [
            *statements,
            f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {refuse}",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_append_only_change()",
        ]
    return []


def _append_only(target: sa.Table, connection: sa.Connection, **_kw: Any) -> None:
    for statement in append_only_ddl(target.name, connection.dialect.name):
        connection.exec_driver_sql(statement)


for _table in (
    OrderEvent.__table__,  # type: ignore[attr-defined]
    PhoneReveal.__table__,  # type: ignore[attr-defined]
    ExportLog.__table__,  # type: ignore[attr-defined]
    HotspotEvent.__table__,  # type: ignore[attr-defined]
    NoticeCheckEvent.__table__,  # type: ignore[attr-defined]
):
    sa.event.listen(_table, "after_create", _append_only)
