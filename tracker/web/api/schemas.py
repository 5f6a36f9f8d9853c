"""What /api/v1 answers, as pydantic models: the source of the OpenAPI document's response schemas.

The views build their JSON in :mod:`.shapes`; these models describe it, field by field, in Chinese
(their docstrings are the schemas' descriptions, read by the API's users, hence Chinese).
``extra="forbid"`` makes the description exact: a key a view adds without describing it fails the
property test (tests/web/test_api_openapi.py), which checks every answer against these schemas.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tracker.domain import labels
from tracker.domain.vocabulary import Action, AlertLevel, ExtensionStatus, Outcome, Stage, State

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]


class Shape(BaseModel):
    """Base of every response model: exactly these keys."""

    model_config = ConfigDict(extra="forbid")


class Error(Shape):
    """错误：中文说明；参数有误时另列出被拒绝的参数。"""

    error: str = Field(description="错误说明（中文）")
    fields: list[FieldProblem] | None = Field(None, description="被拒绝的参数（仅参数有误时）")


class FieldProblem(Shape):
    """一个被拒绝的查询参数。"""

    field: str = Field(description="参数名")
    value: str = Field(description="收到的值（最多 40 个字）")
    message: str = Field(description="该参数的错误说明")


class LevelCounts(Shape):
    """各预警级别的数量。"""

    red: int = Field(description=labels.ALERT_LABELS[AlertLevel.RED])
    yellow: int = Field(description=labels.ALERT_LABELS[AlertLevel.YELLOW])
    blue: int = Field(description=labels.ALERT_LABELS[AlertLevel.BLUE])


class Units(Shape):
    """计数单位。"""

    orders: str = Field(description="按工单计的单位")
    stages: str = Field(description="按环节计的单位")


class CurrentCounts(Shape):
    """此刻本人范围内各预警级别的未完成工作，按工单和按环节计（与导航栏提示相同）。"""

    as_of: Timestamp = Field(description="计数时刻")
    orders: LevelCounts = Field(description="各级别工单数（每件工单按最紧急的未完成环节计一次）")
    stages: LevelCounts = Field(description="各级别未完成环节数")
    units: Units = Field(description="两种计数的单位")


class Links(Shape):
    """翻页链接（本站相对地址），保留本次请求的其他参数。"""

    self: str = Field(description="本页")
    first: str = Field(description="第一页")
    last: str = Field(description="最后一页")
    prev: str | None = Field(description="上一页；没有时为 null")
    next: str | None = Field(description="下一页；没有时为 null")


class OpenDeadline(Shape):
    """工单的一个未完成环节期限及其当前预警级别。"""

    stage: Stage = Field(description="环节")
    stage_label: str = Field(description="环节名称")
    due_at: Timestamp | None = Field(description="到期时间（UTC）")
    due_error: str | None = Field(description="无法计算到期时间的原因")
    level: AlertLevel | None = Field(description="当前预警级别；未到预警时为 null")
    level_label: str | None = Field(description="预警级别名称")


class OrderSummary(Shape):
    """列表中显示的工单字段；诉求人姓名和电话已脱敏。"""

    id: int = Field(description="工单内部编号（用于 /orders/{order_id}）")
    source: str = Field(description="来源平台")
    order_no: str = Field(description="工单编号")
    cycle: int = Field(description="办理轮次（重办加 1）")
    state: State = Field(description="状态")
    state_label: str = Field(description="状态名称")
    street: str | None = Field(description="所属街镇")
    category: str | None = Field(description="问题分类")
    request_type: str | None = Field(description="诉求类型")
    urgency: str | None = Field(description="紧急程度")
    handling_unit: str | None = Field(description="承办单位")
    complainant: str | None = Field(description="诉求人（已脱敏，如 张*）")
    phone: str | None = Field(description="联系电话（已脱敏，如 138****5678）")
    received_at: Timestamp | None = Field(description="受理时间（UTC）")
    dispatched_at: Timestamp | None = Field(description="派单时间（UTC）")
    signed_at: Timestamp | None = Field(description="签收时间（UTC）")
    contact_at: Timestamp | None = Field(description="先行联系时间（UTC）")
    closed_at: Timestamp | None = Field(description="办结时间（UTC）")
    verdict: str | None = Field(description="结案评判")
    satisfaction: str | None = Field(description="满意度")
    return_count: int = Field(description="退单申请次数")
    is_repeat: bool = Field(description="是否重复诉件")
    extension_status: ExtensionStatus = Field(description="延期状态")
    extension_label: str = Field(description="延期状态名称")


class OrderListLine(OrderSummary):
    """工单列表的一行：工单及其未完成的期限。"""

    open_deadlines: list[OpenDeadline] = Field(description="未完成的各环节期限")
    worst_level: AlertLevel | None = Field(description="最严重的当前预警级别")
    next_deadline: OpenDeadline | None = Field(description="最先到期的未完成环节")


class OrdersPage(Shape):
    """工单列表的一页。"""

    total: int = Field(description="符合条件的工单总数")
    total_unit: str = Field(description="总数的单位")
    page: int = Field(description="页码")
    page_size: int = Field(description="每页条数（最多 200）")
    current: CurrentCounts = Field(description="此刻本人范围内各预警级别的计数（不受筛选影响）")
    orders: list[OrderListLine] = Field(description="本页的工单")
    links: Links = Field(description="翻页链接")


class DeadlineDetail(Shape):
    """工单页上的一个环节期限，及其计算说明。"""

    cycle: int = Field(description="办理轮次")
    stage: Stage = Field(description="环节")
    stage_label: str = Field(description="环节名称")
    rule: str = Field(description="所用时限规则")
    started_at: Timestamp | None = Field(description="起算时间（UTC）")
    due_at: Timestamp | None = Field(description="到期时间（UTC）")
    due_error: str | None = Field(description="无法计算到期时间的原因")
    rule_due_at: Timestamp | None = Field(description="按本局规则计算的到期时间")
    platform_due_at: Timestamp | None = Field(description="平台导出的处理时限")
    completed_at: Timestamp | None = Field(description="完成时间")
    outcome: Outcome | None = Field(description="结果")
    outcome_label: str | None = Field(description="结果名称")
    level: AlertLevel | None = Field(description="当前预警级别")
    level_label: str | None = Field(description="预警级别名称")
    explanation: list[str] = Field(description="期限的计算说明，逐行")


class Event(Shape):
    """操作记录的一条；改动的个人信息已脱敏。"""

    at: Timestamp = Field(description="时间（UTC）")
    cycle: int = Field(description="办理轮次")
    action: Action = Field(description="操作")
    action_label: str = Field(description="操作名称")
    state_before: State | None = Field(description="操作前状态")
    state_before_label: str | None = Field(description="操作前状态名称")
    state_after: State = Field(description="操作后状态")
    state_after_label: str = Field(description="操作后状态名称")
    actor_name: str = Field(description="操作人")
    source: str = Field(description="来源（网页、导入、命令行等）")
    note: str = Field(description="备注")
    changes: dict[str, Any] = Field(description="改动的字段：字段名 → [原值, 新值]")


class AllowedAction(Shape):
    """本人此刻可对该工单进行的操作。"""

    action: Action = Field(description="操作")
    label: str = Field(description="操作名称")


class OrderDetail(OrderSummary):
    """单个工单：全部字段、各环节期限、操作记录、本人可做的操作。"""

    address: str | None = Field(description="地址")
    content: str | None = Field(description="诉求内容（其中的手机号已脱敏）")
    contact_result: str | None = Field(description="先行联系结果")
    contact_reason: str | None = Field(description="未联原因")
    contact_person: str | None = Field(description="先行联系人")
    extension_reason: str | None = Field(description="延期理由")
    extension_requested_to: Day | None = Field(description="申请延期至")
    return_reason_code: str | None = Field(description="退单理由")
    return_basis: str | None = Field(description="退单依据")
    reply: str | None = Field(description="答复内容（其中的手机号已脱敏）")
    reply_method: str | None = Field(description="答复方式")
    repeat_of: str | None = Field(description="重复工单号；其他街镇的工单对执法队不显示编号")
    extras: dict[str, Any] = Field(description="导出文件中的其他列：列名 → 值")
    deadlines: list[DeadlineDetail] = Field(description="各轮次各环节的期限")
    events: list[Event] = Field(description="操作记录，按时间先后")
    actions: list[AllowedAction] = Field(description="本人此刻可做的操作")


class AlertOrder(Shape):
    """预警所属的工单。"""

    id: int = Field(description="工单内部编号")
    order_no: str = Field(description="工单编号")
    street: str | None = Field(description="所属街镇")
    category: str | None = Field(description="问题分类")
    state: State = Field(description="状态")
    state_label: str = Field(description="状态名称")


class AlertLine(Shape):
    """此刻处于某预警级别的未完成环节，及扫描生成的预警（如已生成）。"""

    id: int | None = Field(description="预警编号；扫描尚未生成时为 null")
    deadline_id: int = Field(description="期限编号")
    level: AlertLevel | None = Field(description="当前预警级别")
    level_label: str | None = Field(description="预警级别名称")
    stage: Stage = Field(description="环节")
    stage_label: str = Field(description="环节名称")
    due_at: Timestamp | None = Field(description="到期时间（UTC）")
    raised_at: Timestamp | None = Field(description="预警生成时间")
    level_changed_at: Timestamp | None = Field(description="级别变化时间")
    acknowledged_at: Timestamp | None = Field(description="确认时间")
    acknowledged_by: str | None = Field(description="确认人")
    order: AlertOrder = Field(description="所属工单")


class AlertsPage(Shape):
    """预警列表的一页。"""

    total: int = Field(description="未完成环节总数")
    total_unit: str = Field(description="总数的单位")
    page: int = Field(description="页码")
    page_size: int = Field(description="每页条数（最多 200）")
    counts: LevelCounts = Field(description="各级别环节数")
    current: CurrentCounts = Field(description="此刻本人范围内各预警级别的计数（按 street、stage 筛选）")
    alerts: list[AlertLine] = Field(description="本页的预警，最严重的在前")
    links: Links = Field(description="翻页链接")


class RateValue(Shape):
    """一项指标：分子、分母、比率，以及按哪个日期计入期间。"""

    metric: str = Field(description="指标代码，如 return_rate")
    label: str = Field(description="指标名称，如 退单率")
    numerator: int | float = Field(description="分子（满意率为加权和）")
    denominator: int | float = Field(description="分母")
    rate: float | None = Field(description="比率（0–1，四位小数）；分母为 0 时为 null")
    basis: str = Field(description="按哪个日期计入期间，如 派单日期")
    without_phone: int | None = Field(None, description="（先行联系类指标）分母中没有电话号码的工单数")


class StreetRateSet(Shape):
    """一个街镇（或合计）的各项指标。"""

    street: str = Field(description="街镇（合计行为 合计）")
    intake: int = Field(description="期间内派单数")
    rates: list[RateValue] = Field(description="各项指标")


class RatesPeriod(Shape):
    """一个期间按街镇及合计的各项指标。"""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: Day = Field(alias="from", description="期间自")
    end: Day = Field(alias="to", description="期间至")
    note: str = Field(description="口径说明")
    streets: list[StreetRateSet] = Field(description="按街镇")
    total: StreetRateSet = Field(description="合计")


class Ratio(Shape):
    """分子与分母。"""

    numerator: int = Field(description="分子")
    denominator: int = Field(description="分母")
    rate: float | None = Field(description="比率；分母为 0 时为 null")


class CheckNumbersPeriod(Shape):
    """本人范围内一个期间的通报核查数字。"""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: Day = Field(alias="from", description="期间自")
    end: Day = Field(alias="to", description="期间至")
    date_basis: str = Field(description="按哪个日期计入期间")
    total: int = Field(description="通报件数")
    by_street_kind: dict[str, dict[str, int]] = Field(description="街镇 → 通报类型 → 件数")
    on_time: Ratio = Field(description="核查按时率")
    returned: Ratio = Field(description="退回率")


class ApiIndex(Shape):
    """接口一览。"""

    version: str = Field(description="接口版本")
    endpoints: dict[str, str] = Field(description="接口 → 说明")
    auth: str = Field(description="登录方式")


Error.model_rebuild()
