"""Display labels: the one place where identifiers become the Chinese people read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from tracker.domain.privacy import mask_name, mask_phone, mask_phones_in_text
from tracker.domain.vocabulary import (
    VERIFICATION_STAGE,
    Action,
    AlertLevel,
    CheckAction,
    CheckStatus,
    ExtensionStatus,
    Outcome,
    Stage,
    State,
    Unit,
)

_LOCAL_TZ = ZoneInfo("Asia/Shanghai")

NO_STREET = "（未填街镇）"  # where an order's street is blank in reports and digests
NO_CATEGORY = "（未填分类）"  # where an order's category is blank in reports, samples and snapshots

STATE_LABELS: Mapping[State, str] = {
    State.DISPATCHED: "待签收",
    State.HANDLING: "处置中",
    State.RETURN_REQUESTED: "退单审核中",
    State.RETURNED: "已退单",
    State.CLOSED: "已办结",
}

ACTION_LABELS: Mapping[Action, str] = {
    Action.DISPATCH: "派单",
    Action.SIGN: "签收",
    Action.FIRST_CONTACT: "先行联系",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.APPROVE_EXTENSION: "批准延期",
    Action.REJECT_EXTENSION: "驳回延期",
    Action.REQUEST_RETURN: "申请退单",
    Action.APPROVE_RETURN: "批准退单",
    Action.REJECT_RETURN: "驳回退单",
    Action.CLOSE: "办结",
    Action.REDO: "重办",
    Action.SUPERVISE: "督办",
    Action.REDISPATCH: "重新派单",
    Action.PLATFORM_CLOSE: "平台办结",
    Action.UPDATE: "信息更新",
    Action.NOTE: "备注",
    Action.ATTACH: "添加附件",
    Action.DETACH: "移除附件",
}

STAGE_LABELS: Mapping[Stage, str] = {
    Stage.FIRST_CONTACT: "先行联系",
    Stage.CLOSURE: "办结",
    Stage.RETURN_DECISION: "退单审核",
    Stage.EXTENSION_DECISION: "延期审核",
    Stage.REDO: "重办",
    Stage.SUPERVISION: "督办",
}

OUTCOME_LABELS: Mapping[Outcome, str] = {
    Outcome.MET: "按时",
    Outcome.LATE: "超时",
    Outcome.MISSED: "未完成",
    Outcome.CANCELLED: "不再适用",
}

ALERT_LABELS: Mapping[AlertLevel, str] = {
    AlertLevel.BLUE: "蓝色预警（1 个工作日内到期）",
    AlertLevel.YELLOW: "黄色预警（4 小时内到期）",
    AlertLevel.RED: "红色预警（已超期）",
}

EXTENSION_LABELS: Mapping[ExtensionStatus, str] = {
    ExtensionStatus.NONE: "未申请",
    ExtensionStatus.REQUESTED: "延期审核中",
    ExtensionStatus.APPROVED: "已批准",
    ExtensionStatus.REJECTED: "已驳回",
    ExtensionStatus.CANCELLED: "已撤销（办结时尚未审核）",
}

UNIT_LABELS: Mapping[Unit, str] = {
    Unit.WORKING_DAYS: "个工作日",
    Unit.HOURS: "小时",
    Unit.FIXED: "指定日期",
}


def unit_amount_label(amount: int, unit: Unit) -> str:
    """E.g. '5 个工作日', '2 小时', '指定日期'."""
    if unit is Unit.FIXED:
        return UNIT_LABELS[unit]
    return f"{amount} {UNIT_LABELS[unit]}"


def format_local(moment: datetime | None) -> str:
    """An aware datetime as Asia/Shanghai 'YYYY-MM-DD HH:MM', or '—'."""
    if moment is None:
        return "—"
    return moment.astimezone(_LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def batch_label(started_at: datetime | None, file_name: str, actor_name: str) -> str:
    """An import batch as people name it: '2026-12-03 08:05 · 12345导出.xlsx · 王敏' (when, which file, who)."""
    return " · ".join(part for part in (format_local(started_at), file_name, actor_name) if part)


VERIFICATION_LABEL = "通报核查"  # the 核查 rule's name in the rule table


def stage_label(value: str) -> str:
    """A stage's label, also for the 核查 rule's stage in the rule table."""
    return VERIFICATION_LABEL if value == VERIFICATION_STAGE else STAGE_LABELS[Stage(value)]


CHECK_STATUS_LABELS: Mapping[CheckStatus, str] = {
    CheckStatus.PENDING: "待核查",
    CheckStatus.ANSWERED: "待审核",
    CheckStatus.RETURNED: "已退回",
    CheckStatus.ACCEPTED: "已采纳",
}

CHECK_ACTION_LABELS: Mapping[CheckAction, str] = {
    CheckAction.IMPORT: "导入通报",
    CheckAction.LINK: "关联工单",
    CheckAction.ANSWER: "提交核查",
    CheckAction.ACCEPT: "采纳",
    CheckAction.RETURN: "退回",
    CheckAction.REDO: "发起重办",
}

FILTER_LABELS: Mapping[str, str] = {
    "dispatched_from": "派单日期自",
    "dispatched_to": "派单日期至",
    "closed_from": "办结日期自",
    "closed_to": "办结日期至",
}

ATTACHMENT_PURPOSES: Mapping[str, str] = {
    "first_contact": "先行联系",
    "close": "办结",
    "verification": "核查",
    "other": "其他",
}
"""Why a photo or file was added to an order (stored value → label)."""

FIELD_LABELS: Mapping[str, str] = {
    "state": "状态",
    "cycle": "轮次",
    "street": "所属街镇",
    "handling_unit": "承办单位",
    "dispatched_at": "派单时间",
    "signed_at": "签收时间",
    "contact_at": "联系时间",
    "contact_result": "联系结果",
    "contact_reason": "未联原因",
    "contact_person": "先行联系人",
    "extension_status": "延期状态",
    "extension_reason": "延期理由",
    "extension_requested_to": "申请延期至",
    "return_count": "退单次数",
    "return_reason_code": "退单原因",
    "return_basis": "退单依据",
    "reply": "答复内容",
    "verdict": "结案评判",
    "reply_method": "答复方式",
    "closed_at": "办结时间",
    "cycle_started_at": "本轮起算时间",
    "return_from_state": "申请退单前状态",
    **{f"{stage.value}_due_at": f"{label}期限" for stage, label in STAGE_LABELS.items()},
}


def describe_value(name: str, value: object) -> str:
    """A recorded field value (as stored in an event's changes) as people read it."""
    if value is None or value == "":
        return "—"
    if name == "phone":  # the audit trail never shows a full number; revealing one is its own logged step
        return mask_phone(str(value))
    if name == "complainant":
        return mask_name(str(value))
    if name in ("state", "return_from_state") and isinstance(value, str) and value in State._value2member_map_:
        return STATE_LABELS[State(value)]
    if name == "extension_status" and isinstance(value, str) and value in ExtensionStatus._value2member_map_:
        return EXTENSION_LABELS[ExtensionStatus(value)]
    if isinstance(value, str) and (name.endswith("_at")):
        try:
            return format_local(datetime.fromisoformat(value))
        except ValueError:
            return value
    return mask_phones_in_text(str(value))


def describe_late_entry(entry: object) -> str:
    """An event's 补录 record (``changes.late_entry``) as the audit trail shows it."""
    if not isinstance(entry, dict):
        return ""
    happened = describe_value("recorded_at", entry.get("recorded_at"))
    text = f"补录：实际发生于 {happened}，补录原因：{mask_phones_in_text(str(entry.get('reason') or '—'))}"
    if entry.get("due_passed_at_entry"):
        text += "（录入时该期限已过，按实际发生时间判定为按时）"
    return text


JOB_TITLES = {  # the scheduler's jobs by id (jobs/registry.py schedules them under these ids)
    "scan": "预警扫描",
    "inbox": "收件箱导入",
    "digest": "街镇日报",
    "metrics": "指标快照",
    "calendar_watch": "次年节假日检查",
    "retention": "个人信息保留期限",
    "notify": "群消息与邮件提醒",
}
