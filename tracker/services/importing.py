"""Import an export file: new orders are created and their recorded steps replayed through the lifecycle.

Scope today: orders not yet known are created; known orders are reported and left as they
are (updating them through the lifecycle is the importer issue's work). A bad row is
rolled back alone and reported with its row number, field and value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import RuleTable
from tracker.domain.errors import TrackerError
from tracker.domain.labels import STATE_LABELS
from tracker.domain.lifecycle import ActionInput
from tracker.domain.vocabulary import Action, State
from tracker.hotline import ExportTable, parse_local_datetime, read_export
from tracker.services.actors import Actor
from tracker.services.orders import Context, NewOrder, apply_action, create_order, find_order

log = logging.getLogger(__name__)

STATUS_TEXTS: dict[str, State] = {
    "待签收": State.DISPATCHED,
    "待受理": State.DISPATCHED,
    "已签收": State.HANDLING,
    "处理中": State.HANDLING,
    "处置中": State.HANDLING,
    "办理中": State.HANDLING,
    "退单中": State.RETURN_REQUESTED,
    "退单审核中": State.RETURN_REQUESTED,
    "已退单": State.RETURNED,
    "已办结": State.CLOSED,
    "已结案": State.CLOSED,
    "办结": State.CLOSED,
}
APPROVED_TEXTS = ("批准", "同意", "通过", "已批准")
REJECTED_TEXTS = ("驳回", "不同意", "不通过", "已驳回")
YES_TEXTS = ("是", "Y", "y", "1", "true", "TRUE", "重复")

CONSUMED_FIELDS = frozenset(
    {
        "工单编号",
        "受理时间",
        "派单时间",
        "诉求类型",
        "问题分类",
        "紧急程度",
        "诉求内容",
        "地址",
        "所属街镇",
        "承办单位",
        "诉求人",
        "联系电话",
        "满意度",
        "是否重复",
        "重复工单号",
        "工单状态",
        "签收时间",
        "联系时间",
        "联系结果",
        "未联原因",
        "先行联系人",
        "延期申请时间",
        "延期理由",
        "申请延期至",
        "延期审核结果",
        "延期审核时间",
        "退单申请时间",
        "退单原因",
        "退单依据",
        "退单审核结果",
        "退单审核时间",
        "办结时间",
        "答复内容",
        "结案评判",
        "答复方式",
        "重办时间",
        "重办原因",
        "督办时间",
        "督办事项",
    }
)


@dataclass(frozen=True)
class RowError:
    """A row that was not imported: where, which field, which value, and why."""

    row: int
    field: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"第 {self.row} 行，字段「{self.field}」，值「{self.value}」：{self.message}"


@dataclass
class ImportReport:
    """What one file's import did, row by row."""

    batch: str
    file: str
    created: int = 0
    existing: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        return (
            f"{self.file}：新建 {self.created} 件，已存在未改动 {len(self.existing)} 件，"
            f"跳过非数据行 {len(self.skipped)} 行，错误 {len(self.errors)} 行"
        )


class _RowProblem(Exception):
    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class _Step:
    at: datetime
    action: Action
    data: ActionInput
    field: str
    value: str


def import_export(
    session: Session,
    path: Path,
    *,
    source: str,
    batch: str,
    calendar: WorkCalendar,
    rules: RuleTable,
    shift: Callable[[datetime], datetime] | None = None,
) -> ImportReport:
    """Import one file; every new order's recorded steps are replayed at their own times."""
    table = read_export(path)
    report = ImportReport(batch=batch, file=path.name, skipped=list(table.skipped))
    actor = Actor.importer(batch)
    for row_number, fields, raw in table.rows:
        order_no = fields.get("工单编号", "")
        if not order_no:
            report.errors.append(RowError(row_number, "工单编号", "", "工单编号为空"))
            continue
        if find_order(session, source=source, order_no=order_no) is not None:
            report.existing.append((row_number, order_no))
            continue
        try:
            with session.begin_nested():
                _import_row(session, table, row_number, fields, raw, source, actor, calendar, rules, shift)
            report.created += 1
        except _RowProblem as problem:
            report.errors.append(problem.error)
        except TrackerError as exc:  # e.g. no deadline rule matches the row
            report.errors.append(RowError(row_number, "工单编号", order_no, exc.message))
        except DBAPIError as exc:
            log.warning("row %s of %s refused by the database: %s", row_number, path.name, exc)
            report.errors.append(
                RowError(row_number, "工单编号", order_no, "数据库拒绝写入本行（字段值格式不符），其余行不受影响")
            )
    return report


def _import_row(
    session: Session,
    table: ExportTable,
    row: int,
    fields: dict[str, str],
    raw: dict[str, str],
    source: str,
    actor: Actor,
    calendar: WorkCalendar,
    rules: RuleTable,
    shift: Callable[[datetime], datetime] | None,
) -> None:
    def when(name: str) -> datetime | None:
        try:
            moment = parse_local_datetime(fields.get(name, ""))
        except ValueError as exc:
            raise _RowProblem(RowError(row, name, fields.get(name, ""), str(exc))) from None
        if moment is None or shift is None:
            return moment
        try:
            return shift(moment)
        except TrackerError as exc:
            raise _RowProblem(RowError(row, name, fields.get(name, ""), exc.message)) from None

    dispatched = when("派单时间") or when("受理时间")
    if dispatched is None:
        raise _RowProblem(RowError(row, "派单时间", "", "派单时间与受理时间均为空，无法起算期限"))
    extras: dict[str, Any] = {k: v for k, v in fields.items() if k not in CONSUMED_FIELDS and v}
    extras.update(raw)
    data = NewOrder(
        source=source,
        order_no=fields["工单编号"],
        dispatched_at=dispatched,
        received_at=when("受理时间"),
        request_type=fields.get("诉求类型") or None,
        urgency=fields.get("紧急程度") or None,
        category=fields.get("问题分类") or None,
        content=fields.get("诉求内容") or None,
        address=fields.get("地址") or None,
        street=fields.get("所属街镇") or None,
        handling_unit=fields.get("承办单位") or None,
        complainant=fields.get("诉求人") or None,
        phone=fields.get("联系电话") or None,
        satisfaction=fields.get("满意度") or None,
        is_repeat=fields.get("是否重复", "") in YES_TEXTS,
        repeat_of=fields.get("重复工单号") or None,
        extras=extras,
    )
    order = create_order(session, data=data, ctx=Context(actor, dispatched, calendar, rules))
    for step in _steps(row, fields, when):
        try:
            apply_action(
                session, order=order, action=step.action, data=step.data, ctx=Context(actor, step.at, calendar, rules)
            )
        except TrackerError as exc:
            raise _RowProblem(RowError(row, step.field, step.value, exc.message)) from None
    status = fields.get("工单状态", "")
    if status:
        expected = STATUS_TEXTS.get(status)
        if expected is None:
            raise _RowProblem(
                RowError(row, "工单状态", status, f"无法识别的工单状态，可识别：{'、'.join(STATUS_TEXTS)}")
            )
        if expected.value != order.state:
            raise _RowProblem(
                RowError(
                    row,
                    "工单状态",
                    status,
                    f"按本行记录的各环节时间推演，工单应为「{STATE_LABELS[State(order.state)]}」，与导出状态不符",
                )
            )


def _steps(row: int, fields: dict[str, str], when: Any) -> list[_Step]:
    """The row's recorded lifecycle steps in time order."""
    steps: list[_Step] = []

    def add(time_field: str, action: Action, data: ActionInput) -> None:
        moment = when(time_field)
        if moment is not None:
            steps.append(_Step(moment, action, data, time_field, fields.get(time_field, "")))

    def decision(result_field: str, approve: Action, reject: Action) -> Action:
        result = fields.get(result_field, "")
        if result in APPROVED_TEXTS:
            return approve
        if result in REJECTED_TEXTS:
            return reject
        raise _RowProblem(RowError(row, result_field, result, "审核结果应为 批准 或 驳回"))

    add("签收时间", Action.SIGN, ActionInput())
    contact_at = when("联系时间")
    add(
        "联系时间",
        Action.FIRST_CONTACT,
        ActionInput(
            contact_at=contact_at,
            contact_result=fields.get("联系结果", ""),
            contact_reason=fields.get("未联原因", ""),
            contact_person=fields.get("先行联系人", ""),
        ),
    )
    new_due = when("申请延期至")
    add(
        "延期申请时间",
        Action.REQUEST_EXTENSION,
        ActionInput(reason=fields.get("延期理由", ""), new_due_date=new_due.date() if new_due else None),
    )
    if fields.get("延期审核时间"):
        reason = fields.get("延期理由", "") or "平台审核"
        add(
            "延期审核时间",
            decision("延期审核结果", Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION),
            ActionInput(reason=f"平台审核结果：{fields.get('延期审核结果', '')}（{reason}）"),
        )
    add(
        "退单申请时间",
        Action.REQUEST_RETURN,
        ActionInput(reason_code=fields.get("退单原因", ""), basis=fields.get("退单依据", "")),
    )
    if fields.get("退单审核时间"):
        add(
            "退单审核时间",
            decision("退单审核结果", Action.APPROVE_RETURN, Action.REJECT_RETURN),
            ActionInput(reason=f"平台审核结果：{fields.get('退单审核结果', '')}"),
        )
    add("督办时间", Action.SUPERVISE, ActionInput(reason=fields.get("督办事项", "")))
    add(
        "办结时间",
        Action.CLOSE,
        ActionInput(
            reply=fields.get("答复内容", ""),
            verdict=fields.get("结案评判", ""),
            reply_method=fields.get("答复方式", ""),
        ),
    )
    add("重办时间", Action.REDO, ActionInput(reason=fields.get("重办原因", "")))
    return sorted(steps, key=lambda step: step.at)
