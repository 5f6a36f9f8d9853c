"""Action forms: which fields each lifecycle action asks for, and turning a posted form into ActionInput.

Only the fields an action asks for are read; anything else in the post (a forged street,
state or deadline) is ignored, and the lifecycle's validators explain what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tracker.domain.errors import TrackerError
from tracker.domain.lifecycle import (
    CLOSURE_VERDICTS,
    CONTACT_RESULTS,
    NO_CONTACT_REASONS,
    REPLY_METHODS,
    RETURN_REASON_CODES,
    ActionInput,
)
from tracker.domain.vocabulary import Action

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class FormError(TrackerError):
    """A posted value could not be read (names the field and the value)."""


@dataclass(frozen=True)
class FormField:
    """One input of an action form."""

    name: str
    label: str
    kind: str = "text"  # text, textarea, select, datetime, date
    choices: tuple[str, ...] = ()
    required: bool = False


NOTE = FormField("note", "备注", "textarea")
LATE_REASON = FormField("late_reason", "补录原因（所填时间早于现在 1 小时以上时必填）", "textarea")
FIELDS: Mapping[Action, tuple[FormField, ...]] = {
    Action.SIGN: (NOTE,),
    Action.FIRST_CONTACT: (
        FormField("contact_result", "联系结果", "select", CONTACT_RESULTS, required=True),
        FormField("contact_reason", "未联原因", "select", ("", *NO_CONTACT_REASONS)),
        FormField("contact_at", "联系时间（不填为现在）", "datetime"),
        LATE_REASON,
        FormField("contact_person", "联系人"),
        NOTE,
    ),
    Action.CLOSE: (
        FormField("reply", "答复内容", "textarea", required=True),
        FormField("verdict", "结案评判", "select", CLOSURE_VERDICTS, required=True),
        FormField("reply_method", "答复方式", "select", REPLY_METHODS, required=True),
        FormField("closed_at", "办结时间（不填为现在）", "datetime"),
        LATE_REASON,
        NOTE,
    ),
    Action.REQUEST_RETURN: (
        FormField("reason_code", "退单原因", "select", RETURN_REASON_CODES, required=True),
        FormField("basis", "退单依据", "textarea", required=True),
    ),
    Action.REQUEST_EXTENSION: (
        FormField("new_due_date", "申请延期至", "date", required=True),
        FormField("reason", "延期理由", "textarea", required=True),
    ),
    Action.APPROVE_RETURN: (NOTE,),
    Action.REJECT_RETURN: (FormField("reason", "驳回理由", "textarea", required=True),),
    Action.APPROVE_EXTENSION: (NOTE,),
    Action.REJECT_EXTENSION: (FormField("reason", "驳回理由", "textarea", required=True),),
    Action.SUPERVISE: (
        FormField("reason", "督办事项", "textarea", required=True),
        FormField("due_at", "督办期限（不填为 3 个工作日）", "datetime"),
    ),
    Action.REDO: (FormField("reason", "重办理由", "textarea", required=True),),
    Action.REDISPATCH: (FormField("street", "改派街镇", "select"), FormField("handling_unit", "改派承办单位"), NOTE),
}


ATTACHABLE: Mapping[Action, str] = {Action.FIRST_CONTACT: "first_contact", Action.CLOSE: "close"}
"""Actions whose form takes photos or PDFs too (action → the attachments' purpose)."""


def _datetime(field: FormField, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise FormError(f"“{field.label}”的值「{text}」不是有效的日期时间（应为 2026-11-20 14:30）") from None
    return value.replace(tzinfo=LOCAL_TZ) if value.tzinfo is None else value


def _date(field: FormField, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormError(f"“{field.label}”的值「{text}」不是有效的日期（应为 2026-11-30）") from None


def parse_action_form(action: Action, form: Mapping[str, str], *, streets: list[str]) -> ActionInput:
    """The action's input from a posted form; raises :class:`FormError` naming the field and value."""
    values: dict[str, Any] = {}
    for field in FIELDS.get(action, ()):
        text = (form.get(field.name) or "").strip()
        if len(text) > 5000:
            raise FormError(f"“{field.label}”过长（{len(text)} 字，最多 5000 字）")
        choices = tuple(streets) if field.name == "street" else field.choices
        if text and field.kind == "select" and choices and text not in choices:
            raise FormError(f"“{field.label}”的值「{text}」不在可选范围内（{' / '.join(c for c in choices if c)}）")
        if field.required and not text:
            raise FormError(f"请填写“{field.label}”")
        if not text:
            continue
        if field.kind == "datetime":
            values[field.name] = _datetime(field, text)
        elif field.kind == "date":
            values[field.name] = _date(field, text)
        else:
            values[field.name] = text
    return ActionInput(**values)
