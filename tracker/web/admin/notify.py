"""Administration of the squads' notification channels (企业微信 / 钉钉 group robots, e-mail) and their outbox.

A webhook or signing secret typed here is stored and never shown again: the page shows the robot's
address with its key hidden, and whether a secret is set. Left blank on an existing channel, they
are kept.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain.errors import TrackerError
from tracker.domain.labels import format_local
from tracker.domain.notify import KIND_LABELS, redact_webhook
from tracker.domain.roles import Role
from tracker.models import utcnow
from tracker.services.notify import ChannelInput, channel_states, problem_messages, retry_message, save_channel
from tracker.services.orders import street_choices_all
from tracker.web.admin.common import bp, int_field
from tracker.web.auth import requires, viewer

FORM_FIELDS = ("street", "kind", "webhook", "secret", "emails", "quiet_start", "quiet_end")
STATUS_LABELS = {"pending": "待重试", "sent": "已发送", "failed": "已放弃"}


def _page(error: str | None = None, form: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    db = get_session()
    return render_template(
        "admin/notify.html",
        states=channel_states(db),
        problems=problem_messages(db),
        streets=street_choices_all(db),
        kinds=KIND_LABELS,
        status_labels=STATUS_LABELS,
        redact=redact_webhook,
        format_local=format_local,
        error=error,
        form=form or {"quiet_start": "22:00", "quiet_end": "07:00"},
    ), status


@bp.get("/notify")
@requires(Role.ADMIN)
def notify_channels() -> tuple[str, int]:
    """街镇通知渠道（企业微信、钉钉群机器人与邮件）及发送失败记录。"""
    return _page()


@bp.post("/notify/save")
@requires(Role.ADMIN)
def notify_save() -> Response | tuple[str, int]:
    """新增或修改一个街镇某类渠道；密钥留空表示保留原值。"""
    form = {k: request.form.get(k, "") for k in FORM_FIELDS}
    data = ChannelInput(
        street=form["street"],
        kind=form["kind"],
        webhook=form["webhook"].strip() or None,
        secret=form["secret"].strip() or None,
        emails=form["emails"],
        quiet_start=form["quiet_start"] or "22:00",
        quiet_end=form["quiet_end"] or "07:00",
        red_in_quiet=request.form.get("red_in_quiet") == "1",
        enabled=request.form.get("enabled", "1") == "1",
    )
    db = get_session()
    begin_write(db)
    try:
        channel = save_channel(
            db,
            data=data,
            actor=viewer().label,
            now=utcnow(),
            allow_loopback=current_app.config["NOTIFY_ALLOW_LOOPBACK"],
        )
    except TrackerError as exc:
        db.rollback()
        form["webhook"] = form["secret"] = ""  # a secret is not sent back, even when refused
        return _page(f"保存通知渠道未完成：{exc.message}", form, 422)
    db.commit()
    flash(f"已保存 {channel.street} 的{KIND_LABELS[channel.kind]}渠道。")
    return redirect(url_for("admin.notify_channels"))


@bp.post("/notify/retry")
@requires(Role.ADMIN)
def notify_retry() -> Response | tuple[str, int]:
    """把已放弃的消息重新排入发送（修正渠道之后）。"""
    db = get_session()
    begin_write(db)
    try:
        message = retry_message(db, message_id=int_field("message_id", "消息编号"), now=utcnow())
    except TrackerError as exc:
        db.rollback()
        return _page(f"重新发送未完成：{exc.message}", None, 422)
    if message is None:
        db.rollback()
        return _page("重新发送未完成：消息不存在", None, 404)
    db.commit()
    flash(f"消息 {message.id} 已重新排入发送，下一次「群消息与邮件提醒」任务运行时发送。")
    return redirect(url_for("admin.notify_channels"))
