"""One error family: each error carries its facts and a sentence a supervisor can read."""

from __future__ import annotations


class TrackerError(Exception):
    """Base of every error the tracker reports to people; ``str()`` is the Chinese message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CalendarNotLoaded(TrackerError):
    """A working-day computation needs a year whose holiday arrangement is not loaded."""

    def __init__(self, year: int) -> None:
        super().__init__(f"{year} 年节假日安排尚未载入，无法按工作日计算期限；请管理员先载入 {year} 年的节假日安排。")
        self.year = year


class CalendarFileError(TrackerError):
    """A holiday-arrangement file is malformed; names the field and value."""


class RuleNotFound(TrackerError):
    """No deadline rule matches a stage, request type and urgency."""


class ActionRefused(TrackerError):
    """A lifecycle action is not allowed for an order in its current state or with this input."""

    def __init__(
        self,
        *,
        order_no: str,
        state_label: str,
        action_label: str,
        reason: str,
        allowed_labels: list[str],
    ) -> None:
        allowed = "、".join(allowed_labels) if allowed_labels else "无"
        super().__init__(
            f"工单 {order_no}（当前状态：{state_label}）不能执行「{action_label}」：{reason}。当前可执行：{allowed}。"
        )
        self.order_no = order_no
        self.state_label = state_label
        self.action_label = action_label
        self.reason = reason
        self.allowed_labels = allowed_labels
