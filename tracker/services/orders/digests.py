"""Squad digests: per street, today's new alerts, the still-open overdue stages, yesterday's closures."""

from __future__ import annotations

import smtplib
import tomllib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import local_day_bounds, to_local
from tracker.domain.errors import TrackerError
from tracker.domain.labels import NO_STREET, STAGE_LABELS, format_local
from tracker.domain.overdue import UNIT_ORDERS, UNIT_STAGES, count_phrase
from tracker.domain.vocabulary import AlertLevel, Stage
from tracker.models import Alert, Digest, Order, OrderDeadline
from tracker.services.orders.calendar import load_calendar
from tracker.services.orders.counts import bounds_at, overdue_stages_by_street


def build_digests(
    session: Session,
    *,
    now: datetime,
    calendar: WorkCalendar | None = None,
    analysis: dict[str, list[str]] | None = None,
    checks: dict[str, list[str]] | None = None,
) -> list[Digest]:
    """Build (or rebuild) every street's digest for the local day of ``now``; flushes.

    New alerts: raised or raised further in the 24 hours before ``now``, so one digest a day
    misses none. Overdue: open stages past their current due time, as ``counts`` counts them
    (domain.overdue; whenever the order was dispatched), with the orders they belong to.
    ``analysis``: lines per street from the analysis (new hotspots, places under 源头治理, rises;
    computed by ``stats``), told last; ``checks``: lines per street on 热线通报核查 due soon or late
    (computed by ``verifications``), told before them.
    """
    bounds = bounds_at(now, calendar or load_calendar(session))
    today = to_local(now).date()
    y_start, y_end = local_day_bounds(today - timedelta(days=1))
    content: dict[str, dict[str, list[dict[str, str]]]] = defaultdict(
        lambda: {"new_alerts": [], "overdue": [], "closed_yesterday": []}
    )
    new = session.exec(
        select(Alert, Order)
        .join(Order, col(Order.id) == col(Alert.order_id))
        .where(col(Alert.level_changed_at) > now - timedelta(days=1), col(Alert.level_changed_at) <= now)
        .order_by(col(Alert.level_rank).desc(), col(Alert.due_at))
    ).all()
    for alert, order in new:
        content[order.street or NO_STREET]["new_alerts"].append(_alert_line(alert, order))
    for street, stages in overdue_stages_by_street(session, bounds=bounds).items():
        content[street]["overdue"] = [_stage_line(deadline, order) for deadline, order in stages]
    closed = session.exec(
        select(Order)
        .where(col(Order.closed_at) >= y_start, col(Order.closed_at) < y_end)
        .order_by(col(Order.closed_at))
    ).all()
    for order in closed:
        content[order.street or NO_STREET]["closed_yesterday"].append(
            {"order_no": order.order_no, "closed_at": format_local(order.closed_at), "verdict": order.verdict or ""}
        )
    for street, told in (checks or {}).items():
        if told:
            content[street]["checks"] = [{"text": line} for line in told]
    for street, told in (analysis or {}).items():
        if told:
            content[street]["analysis"] = [{"text": line} for line in told]
    digests = []
    for street, parts in sorted(content.items()):
        digest = session.exec(select(Digest).where(Digest.street == street, Digest.day == today)).first()
        if digest is None:
            digest = Digest(street=street, day=today, created_at=now)
        fresh = {key: list(value) for key, value in parts.items()}
        if digest.content != fresh:
            digest.emailed_to = ""  # changed since it was mailed: the new one is sent
        digest.content = fresh
        digest.text = digest_text(street, today, digest.content)
        digest.created_at = now
        session.add(digest)
        digests.append(digest)
    session.flush()
    return digests


def _alert_line(alert: Alert, order: Order) -> dict[str, str]:
    return {
        "order_no": order.order_no,
        "stage": STAGE_LABELS[Stage(alert.stage)],
        "level": alert.level,
        "due_at": format_local(alert.due_at),
    }


def _stage_line(deadline: OrderDeadline, order: Order) -> dict[str, str]:
    return {
        "order_no": order.order_no,
        "stage": STAGE_LABELS[Stage(deadline.stage)],
        "level": AlertLevel.RED.value,
        "due_at": format_local(deadline.due_at),
    }


def digest_text(street: str, day: date, content: dict[str, Any]) -> str:
    """The digest as people read it (the e-mail body and the page)."""
    level_names = {"red": "红", "yellow": "黄", "blue": "蓝"}
    lines = [f"{street} {day.isoformat()} 诉件日报", ""]
    lines.append(f"一、过去 24 小时新增或升级的预警 {len(content['new_alerts'])} 项")
    lines += [
        f"  {a['order_no']} {a['stage']}（{level_names.get(a['level'], a['level'])}）期限 {a['due_at']}"
        for a in content["new_alerts"]
    ]
    orders = len({a["order_no"] for a in content["overdue"]})
    lines.append(
        f"二、截至发送时已超期、仍未完成的环节 {count_phrase(len(content['overdue']), UNIT_STAGES)}，"
        f"涉及 {count_phrase(orders, UNIT_ORDERS)}（不限派单日期）"
    )
    lines += [f"  {a['order_no']} {a['stage']} 期限 {a['due_at']}" for a in content["overdue"]]
    lines.append(f"三、昨日办结 {len(content['closed_yesterday'])} 件")
    lines += [f"  {c['order_no']} 办结于 {c['closed_at']} {c['verdict']}" for c in content["closed_yesterday"]]
    section = iter("四五")
    if content.get("checks"):
        lines.append(f"{next(section)}、热线通报核查（新增或升级的预警、已超期未办结） {len(content['checks'])} 项")
        lines += [f"  {a['text']}" for a in content["checks"]]
    if content.get("analysis"):
        lines.append(f"{next(section)}、分析提示（重复诉件热点、源头治理、异常上升） {len(content['analysis'])} 项")
        lines += [f"  {a['text']}" for a in content["analysis"]]
    return "\n".join(lines)


@dataclass(frozen=True)
class MailSettings:
    """SMTP settings; the digest is e-mailed only when a host is configured."""

    host: str
    port: int = 25
    sender: str = "tracker@localhost"
    user: str = ""
    password: str = ""
    starttls: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings | None:
        """The app's TRACKER_SMTP_* settings, or None when no SMTP host is configured (no e-mail is sent)."""
        if not config["SMTP_HOST"]:
            return None
        return cls(
            host=config["SMTP_HOST"],
            port=config["SMTP_PORT"],
            sender=config["SMTP_FROM"],
            user=config["SMTP_USER"],
            password=config["SMTP_PASSWORD"],
            starttls=config["SMTP_STARTTLS"],
        )


def load_recipients(path: str | None) -> dict[str, list[str]]:
    """Street → addresses, from a TOML file ``[recipients]`` (empty when not configured)."""
    if not path:
        return {}
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TrackerError(f"日报收件人文件「{path}」无法读取：应为 [recipients] 表，街镇 = [邮箱, …]") from exc
    recipients = data.get("recipients", {})
    return {str(street): [str(a) for a in addresses] for street, addresses in recipients.items()}


def send_digests(digests: list[Digest], *, mail: MailSettings, recipients: dict[str, list[str]]) -> tuple[int, int]:
    """E-mail each digest not sent yet to its street's addresses; returns (sent, failed).

    A mail problem never loses the stored digests: it is counted, and the next run sends what is
    still unsent.
    """
    pending = [d for d in digests if recipients.get(d.street) and not d.emailed_to]
    sent = failed = 0
    if not pending:
        return 0, 0
    try:
        with smtplib.SMTP(mail.host, mail.port, timeout=30) as smtp:
            if mail.starttls:
                smtp.starttls()
            if mail.user:
                smtp.login(mail.user, mail.password)
            for digest in pending:
                to = recipients[digest.street]
                message = EmailMessage()
                message["Subject"] = f"【诉件日报】{digest.street} {digest.day.isoformat()}"
                message["From"] = mail.sender
                message["To"] = ", ".join(to)
                message.set_content(digest.text)
                try:
                    smtp.send_message(message)
                except smtplib.SMTPException:
                    failed += 1
                    continue
                digest.emailed_to = ", ".join(to)
                sent += 1
    except (OSError, smtplib.SMTPException):
        failed = len(pending) - sent
    return sent, failed
