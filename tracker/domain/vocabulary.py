"""The tracker's vocabulary: states, actions, stages and outcomes as enums (values are stored)."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where an order is in its life."""

    DISPATCHED = "dispatched"
    HANDLING = "handling"
    RETURN_REQUESTED = "return_requested"
    RETURNED = "returned"
    CLOSED = "closed"


class Action(StrEnum):
    """Something that happens to an order; each writes one audit event."""

    DISPATCH = "dispatch"
    SIGN = "sign"
    FIRST_CONTACT = "first_contact"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    REJECT_EXTENSION = "reject_extension"
    REQUEST_RETURN = "request_return"
    APPROVE_RETURN = "approve_return"
    REJECT_RETURN = "reject_return"
    CLOSE = "close"
    REDO = "redo"
    SUPERVISE = "supervise"
    REDISPATCH = "redispatch"
    PLATFORM_CLOSE = "platform_close"  # the platform reports the order closed (import)
    UPDATE = "update"  # the platform reports changed details (import); no state change
    NOTE = "note"  # a person writes a 备注 on the order; no state change
    ATTACH = "attach"  # a photo or PDF is added to the order; no state change
    DETACH = "detach"  # an attachment is withdrawn (kept until retention); no state change


class ExtensionStatus(StrEnum):
    """Where the order's (single) extension request stands."""

    NONE = "none"
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # the order was closed before the request was decided


class Stage(StrEnum):
    """A step of an order that has its own deadline."""

    FIRST_CONTACT = "first_contact"
    CLOSURE = "closure"
    RETURN_DECISION = "return_decision"
    EXTENSION_DECISION = "extension_decision"
    REDO = "redo"
    SUPERVISION = "supervision"


class Unit(StrEnum):
    """How a rule counts time."""

    WORKING_DAYS = "working_days"
    HOURS = "hours"
    FIXED = "fixed"  # a date set by a person (督办 with an explicit deadline, approved 延期)


class Outcome(StrEnum):
    """How a stage ended."""

    MET = "met"
    LATE = "late"
    MISSED = "missed"  # the order moved on without the stage's step ever being done
    CANCELLED = "cancelled"  # the stage no longer applies (e.g. the order was returned)


class AlertLevel(StrEnum):
    """Urgency of an open stage deadline, lowest to highest."""

    BLUE = "blue"
    YELLOW = "yellow"
    RED = "red"


class CheckStatus(StrEnum):
    """Where a 核查 (the verification of one order named in a 热线通报) stands."""

    PENDING = "pending"  # 待核查: the squad has not answered yet
    ANSWERED = "answered"  # 待审核: the squad answered; the supervisor decides
    RETURNED = "returned"  # 已退回: sent back with a reason; the squad answers again
    ACCEPTED = "accepted"  # 已采纳: the answer goes into the reply to the centre


class CheckConclusion(StrEnum):
    """The squad's 核查结论: was the complaint founded."""

    TRUE = "属实"
    PARTLY = "部分属实"
    FALSE = "不属实"


class CheckAction(StrEnum):
    """Something that happens to a 核查; each writes one audit row."""

    IMPORT = "import"
    LINK = "link"  # a line whose order was unknown found its order on a later import
    ANSWER = "answer"
    ACCEPT = "accept"
    RETURN = "return"
    REDO = "redo"  # an accepted 核查 started a 重办 of its order


VERIFICATION_STAGE = "verification"  # the 核查 rule's stage in the editable rule table (not an order stage)
VERIFICATION_DEFAULT_DAYS = 3  # domain.md §8: no date on the notice → 3 working days, like 督办
