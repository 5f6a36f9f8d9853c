"""The lifecycle table, every guard and every validator, with the expected outcomes written out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from tests.helpers import local
from tracker.domain.calendar import WorkCalendar
from tracker.domain.errors import ActionRefused
from tracker.domain.labels import ACTION_LABELS, STATE_LABELS
from tracker.domain.lifecycle import TRANSITIONS, ActionInput, OrderFacts, allowed_actions, decide
from tracker.domain.vocabulary import Action, ExtensionStatus, State

# Rows: actions; columns: 待签收, 处置中, 退单审核中, 已退单, 已办结; × = refused.
EXPECTED_TABLE = """
派单     ×      ×      ×       ×     ×
签收     处置中  ×      ×       ×     ×
先行联系  待签收  处置中  ×       ×     ×
申请延期  ×      处置中  ×       ×     ×
批准延期  ×      处置中  退单审核中 ×     ×
驳回延期  ×      处置中  退单审核中 ×     ×
申请退单  退单审核中 退单审核中 × ×     ×
批准退单  ×      ×      已退单   ×     ×
驳回退单  ×      ×      处置中   ×     ×
办结     ×      已办结  ×       ×     ×
重办     ×      ×      ×       ×     处置中
督办     待签收  处置中  ×       ×     ×
重新派单  ×      ×      ×       待签收 ×
平台办结  已办结  已办结  已办结   ×     ×
信息更新  ×      ×      ×       ×     ×
备注     ×      ×      ×       ×     ×
添加附件  ×      ×      ×       ×     ×
移除附件  ×      ×      ×       ×     ×
"""
COLUMNS = ("待签收", "处置中", "退单审核中", "已退单", "已办结")

STATE_BY_LABEL = {label: state for state, label in STATE_LABELS.items()}
ACTION_BY_LABEL = {label: action for action, label in ACTION_LABELS.items()}

DISPATCHED = local("2026-03-02 09:00")  # Monday
CLOSURE_DUE = local("2026-03-09 23:59:59")  # 5 working days
NOW = local("2026-03-03 10:00")

VALID_INPUT = {
    Action.FIRST_CONTACT: ActionInput(
        contact_result="已联", contact_at=local("2026-03-02 10:00"), late_reason="外出核查，次日补登"
    ),
    Action.REQUEST_EXTENSION: ActionInput(reason="需多部门联合执法", new_due_date=date(2026, 3, 12)),
    Action.REJECT_EXTENSION: ActionInput(reason="理由不充分"),
    Action.REQUEST_RETURN: ActionInput(reason_code="非本辖区", basis="地址属于相邻街道"),
    Action.REJECT_RETURN: ActionInput(reason="属本辖区"),
    Action.CLOSE: ActionInput(reply="已责令整改，复查到位。", verdict="实际解决", reply_method="电话"),
    Action.REDO: ActionInput(reason="回访不满意"),
    Action.SUPERVISE: ActionInput(reason="加快处置"),
    Action.REDISPATCH: ActionInput(street="曹家渡街道"),
}


def facts(state: State, **changes: object) -> OrderFacts:
    base = OrderFacts(order_no="SH001", state=state, dispatched_at=DISPATCHED, closure_due_at=CLOSURE_DUE)
    return replace(base, **changes)  # type: ignore[arg-type]


def table_cases() -> list[tuple[State, Action, State | None]]:
    cases = []
    for line in EXPECTED_TABLE.strip().splitlines():
        label, *cells = line.split()
        assert len(cells) == len(COLUMNS), line
        for column, cell in zip(COLUMNS, cells, strict=True):
            cases.append(
                (STATE_BY_LABEL[column], ACTION_BY_LABEL[label], None if cell == "×" else STATE_BY_LABEL[cell])
            )
    return cases


def test_the_written_table_covers_every_state_and_action() -> None:
    pairs = {(s, a) for s, a, _ in table_cases()}
    assert pairs == {(s, a) for s in State for a in Action}


@pytest.mark.parametrize(("state", "action", "expected"), table_cases())
def test_state_action_pair(state: State, action: Action, expected: State | None, calendar: WorkCalendar) -> None:
    pending = action in (Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION)
    order = facts(
        state,
        extension_status=ExtensionStatus.REQUESTED if pending else ExtensionStatus.NONE,
        extension_requested_to=date(2026, 3, 12) if pending else None,
    )
    data = VALID_INPUT.get(action, ActionInput())
    if expected is None:
        with pytest.raises(ActionRefused) as refused:
            decide(order, action, data, NOW, calendar)
        assert STATE_LABELS[state] in str(refused.value)
        assert ACTION_LABELS[action] in str(refused.value)
    else:
        assert decide(order, action, data, NOW, calendar) is expected


def test_the_table_is_data_the_ui_can_ask() -> None:
    assert allowed_actions(facts(State.RETURNED), NOW) == [Action.REDISPATCH]
    assert allowed_actions(facts(State.CLOSED), NOW) == [Action.REDO]
    assert allowed_actions(facts(State.HANDLING), NOW) == [
        Action.FIRST_CONTACT,
        Action.REQUEST_EXTENSION,
        Action.REQUEST_RETURN,
        Action.CLOSE,
        Action.SUPERVISE,
    ]
    assert all(isinstance(v, State) for v in TRANSITIONS.values())


def refusal(order: OrderFacts, action: Action, data: ActionInput, calendar: WorkCalendar, now: datetime = NOW) -> str:
    with pytest.raises(ActionRefused) as refused:
        decide(order, action, data, now, calendar)
    return str(refused.value)


def test_refusal_names_order_state_action_and_what_is_allowed(calendar: WorkCalendar) -> None:
    message = refusal(facts(State.CLOSED), Action.CLOSE, VALID_INPUT[Action.CLOSE], calendar)
    assert message == "工单 SH001（当前状态：已办结）不能执行「办结」：该状态下不允许此操作。当前可执行：重办。"


HANDLING_ALLOWED = "当前可执行：先行联系、申请延期、申请退单、办结、督办。"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (ActionInput(verdict="实际解决"), "缺少答复内容"),
        (ActionInput(reply="   ", verdict="实际解决"), "缺少答复内容"),
        (ActionInput(reply="已处理"), "结案评判应为 实际解决 / 解释说明 / 未解决 之一，实际为「空」"),
        (
            ActionInput(reply="已处理", verdict="已解决"),
            "结案评判应为 实际解决 / 解释说明 / 未解决 之一，实际为「已解决」",
        ),
        (
            ActionInput(reply="已处理", verdict="实际解决", reply_method="短信"),
            "答复方式应为 电话 / 书面 / 约谈 之一，实际为「短信」",
        ),
    ],
)
def test_close_needs_reply_and_verdict(data: ActionInput, reason: str, calendar: WorkCalendar) -> None:
    message = refusal(facts(State.HANDLING), Action.CLOSE, data, calendar)
    assert message == f"工单 SH001（当前状态：处置中）不能执行「办结」：{reason}。{HANDLING_ALLOWED}"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            ActionInput(basis="不归我们管"),
            "退单原因应为 非本辖区 / 非本部门职责 / 重复件 / 诉求不清无法核实 / 其他 之一，实际为「空」",
        ),
        (
            ActionInput(reason_code="太忙", basis="x"),
            "退单原因应为 非本辖区 / 非本部门职责 / 重复件 / 诉求不清无法核实 / 其他 之一，实际为「太忙」",
        ),
        (ActionInput(reason_code="非本辖区"), "缺少退单依据说明"),
    ],
)
def test_return_needs_reason_code_and_basis(data: ActionInput, reason: str, calendar: WorkCalendar) -> None:
    message = refusal(facts(State.HANDLING), Action.REQUEST_RETURN, data, calendar)
    assert f"不能执行「申请退单」：{reason}。" in message


def test_extension_only_before_the_deadline(calendar: WorkCalendar) -> None:
    late = local("2026-03-10 08:00")
    message = refusal(
        facts(State.HANDLING), Action.REQUEST_EXTENSION, VALID_INPUT[Action.REQUEST_EXTENSION], calendar, late
    )
    assert "延期须在办结期限届满前申请，期限已过" in message
    assert "当前可执行：先行联系、申请退单、办结、督办。" in message  # 申请延期 is no longer on offer


@pytest.mark.parametrize("status", [ExtensionStatus.REQUESTED, ExtensionStatus.APPROVED, ExtensionStatus.REJECTED])
def test_extension_at_most_once(status: ExtensionStatus, calendar: WorkCalendar) -> None:
    message = refusal(
        facts(State.HANDLING, extension_status=status),
        Action.REQUEST_EXTENSION,
        VALID_INPUT[Action.REQUEST_EXTENSION],
        calendar,
    )
    assert "每件工单最多申请一次延期，本单已申请过" in message


def test_extension_limited_to_15_working_days_from_dispatch(calendar: WorkCalendar) -> None:
    # 2026-03-02 + 15 working days = 2026-03-23; the 24th is one day too far
    ok = ActionInput(reason="复杂", new_due_date=date(2026, 3, 23))
    assert decide(facts(State.HANDLING), Action.REQUEST_EXTENSION, ok, NOW, calendar) is State.HANDLING
    too_far = ActionInput(reason="复杂", new_due_date=date(2026, 3, 24))
    message = refusal(facts(State.HANDLING), Action.REQUEST_EXTENSION, too_far, calendar)
    assert "延期后期限 2026-03-24 超过自派单（本轮起算）起 15 个工作日（2026-03-23）的上限" in message


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (ActionInput(new_due_date=date(2026, 3, 12)), "缺少延期理由"),
        (ActionInput(reason="复杂"), "缺少申请延期至的日期"),
        (
            ActionInput(reason="复杂", new_due_date=date(2026, 3, 9)),
            "申请延期至 2026-03-09 不晚于现有办结期限 2026-03-09",
        ),
    ],
)
def test_extension_input(data: ActionInput, reason: str, calendar: WorkCalendar) -> None:
    assert f"：{reason}。" in refusal(facts(State.HANDLING), Action.REQUEST_EXTENSION, data, calendar)


def test_extension_limit_in_an_unloaded_year_is_refused(calendar: WorkCalendar) -> None:
    order = facts(State.HANDLING, dispatched_at=local("2026-12-21 09:00"), closure_due_at=local("2026-12-28 23:59:59"))
    data = ActionInput(reason="复杂", new_due_date=date(2027, 1, 8))
    message = refusal(order, Action.REQUEST_EXTENSION, data, calendar, local("2026-12-22 09:00"))
    assert "不能执行「申请延期」：2027 年节假日安排尚未载入" in message


def test_extension_without_known_deadline_is_refused(calendar: WorkCalendar) -> None:
    message = refusal(
        facts(State.HANDLING, closure_due_at=None),
        Action.REQUEST_EXTENSION,
        VALID_INPUT[Action.REQUEST_EXTENSION],
        calendar,
    )
    assert "办结期限尚未确定" in message


@pytest.mark.parametrize("action", [Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION])
def test_extension_decision_needs_a_pending_request(action: Action, calendar: WorkCalendar) -> None:
    message = refusal(facts(State.HANDLING), action, ActionInput(reason="x"), calendar)
    assert "本单没有待审核的延期申请" in message


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (ActionInput(), "联系结果应为 已联 / 未联，实际为「空」"),
        (ActionInput(contact_result="未联"), "未联系上时须选择原因（始终关机 / 始终未接 / 其他），实际为「空」"),
        (ActionInput(contact_result="已联", contact_at=local("2026-03-04 10:00")), "联系时间不能晚于当前时间"),
        (
            ActionInput(contact_result="已联", contact_at=local("2026-03-01 10:00")),
            "联系时间 2026-03-01 10:00 不能早于派单时间 2026-03-02 09:00",
        ),
    ],
)
def test_first_contact_input(data: ActionInput, reason: str, calendar: WorkCalendar) -> None:
    assert f"：{reason}。" in refusal(facts(State.HANDLING), Action.FIRST_CONTACT, data, calendar)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"signed_at": local("2026-03-02 15:00")}, "联系时间 2026-03-02 14:00 不能早于签收时间 2026-03-02 15:00"),
        (
            {"cycle": 2, "cycle_started_at": local("2026-03-02 16:00")},
            "联系时间 2026-03-02 14:00 不能早于本轮办理开始时间 2026-03-02 16:00（重办）",
        ),
    ],
)
def test_first_contact_cannot_be_dated_before_the_step_it_follows(
    changes: dict[str, object], reason: str, calendar: WorkCalendar
) -> None:
    data = ActionInput(contact_result="已联", contact_at=local("2026-03-02 14:00"))
    assert f"：{reason}。" in refusal(facts(State.HANDLING, **changes), Action.FIRST_CONTACT, data, calendar)
    later = ActionInput(contact_result="已联", contact_at=local("2026-03-02 16:30"), late_reason="次日补登")
    decide(facts(State.HANDLING, **changes), Action.FIRST_CONTACT, later, NOW, calendar)  # after it: accepted


def test_no_contact_with_reason_is_a_valid_record(calendar: WorkCalendar) -> None:
    data = ActionInput(contact_result="未联", contact_reason="始终关机")
    assert decide(facts(State.HANDLING), Action.FIRST_CONTACT, data, NOW, calendar) is State.HANDLING


@pytest.mark.parametrize(
    ("action", "state", "data", "reason"),
    [
        (Action.REJECT_RETURN, State.RETURN_REQUESTED, ActionInput(), "缺少理由说明"),
        (Action.REDO, State.CLOSED, ActionInput(), "缺少理由说明"),
        (Action.SUPERVISE, State.HANDLING, ActionInput(), "缺少督办事项说明"),
        (
            Action.SUPERVISE,
            State.HANDLING,
            ActionInput(reason="快", due_at=datetime(2026, 3, 1, tzinfo=UTC)),
            "督办期限必须晚于当前时间",
        ),
        (Action.REDISPATCH, State.RETURNED, ActionInput(), "重新派单须指定街镇或承办单位"),
    ],
)
def test_other_validators(action: Action, state: State, data: ActionInput, reason: str, calendar: WorkCalendar) -> None:
    assert f"：{reason}。" in refusal(facts(state), action, data, calendar)


def test_dispatch_happens_only_at_creation(calendar: WorkCalendar) -> None:
    assert "派单只在工单建立时发生" in refusal(facts(State.RETURNED), Action.DISPATCH, ActionInput(), calendar)
