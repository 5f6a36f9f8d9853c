"""The editable deadline rule table in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from tracker.domain.deadlines import DEFAULT_RULES, DeadlineRule, RuleTable
from tracker.domain.errors import TrackerError
from tracker.domain.labels import STAGE_LABELS, VERIFICATION_LABEL, unit_amount_label
from tracker.domain.vocabulary import VERIFICATION_DEFAULT_DAYS, VERIFICATION_STAGE, Stage, Unit
from tracker.models import DeadlineRuleRow


def seed_default_rules(session: Session) -> int:
    """Store the default rules when the table is empty; returns how many were added."""
    if session.exec(select(DeadlineRuleRow.id).limit(1)).first() is not None:
        return 0
    for rule in DEFAULT_RULES:
        session.add(
            DeadlineRuleRow(
                stage=rule.stage.value,
                request_type=rule.request_type,
                urgency=rule.urgency,
                amount=rule.amount,
                unit=rule.unit.value,
                note=rule.note,
            )
        )
    session.flush()
    return len(DEFAULT_RULES)


def rule_table(session: Session) -> RuleTable:
    """The stored rules as the domain's rule table (the defaults when nothing is stored)."""
    rows = session.exec(
        select(DeadlineRuleRow)
        .where(DeadlineRuleRow.stage != VERIFICATION_STAGE)  # the 核查 rule is no order stage's
        .order_by(col(DeadlineRuleRow.id))
    ).all()
    if not rows:
        return RuleTable()
    return RuleTable(
        tuple(
            DeadlineRule(
                stage=Stage(row.stage),
                amount=row.amount,
                unit=Unit(row.unit),
                request_type=row.request_type,
                urgency=row.urgency,
                note=row.note,
            )
            for row in rows
        )
    )


@dataclass(frozen=True)
class VerificationRule:
    """How long a squad has to verify a 热线通报 line when the notice gives no 反馈时限."""

    amount: int
    unit: Unit
    stored: bool  # False: nothing in the table, the default applies

    def label(self) -> str:
        """The rule as people read it, e.g. 通报核查：3 个工作日."""
        default = "" if self.stored else "（默认）"
        return f"{VERIFICATION_LABEL}：{unit_amount_label(self.amount, self.unit)}{default}"


def verification_rule(session: Session) -> VerificationRule:
    """The 核查 rule in the editable rule table; 3 working days when none is stored (domain.md §8)."""
    row = session.exec(
        select(DeadlineRuleRow)
        .where(DeadlineRuleRow.stage == VERIFICATION_STAGE)
        .order_by(col(DeadlineRuleRow.request_type).is_not(None), col(DeadlineRuleRow.id))
    ).first()
    if row is None:
        return VerificationRule(VERIFICATION_DEFAULT_DAYS, Unit.WORKING_DAYS, stored=False)
    return VerificationRule(row.amount, Unit(row.unit), stored=True)


def set_rule(
    session: Session,
    *,
    stage: str,
    amount: int,
    unit: str,
    request_type: str | None,
    urgency: str | None,
    note: str,
    now: datetime,
) -> DeadlineRuleRow:
    """Add or change the rule for one (stage, request type, urgency); affects deadlines opened from now on."""
    stage_value: str
    if stage in (VERIFICATION_STAGE, VERIFICATION_LABEL):
        stage_value, stage_label = VERIFICATION_STAGE, VERIFICATION_LABEL
    else:
        try:
            stage_value = Stage(stage).value
        except ValueError:
            choices = "、".join([*(s.value for s in Stage), VERIFICATION_STAGE])
            raise TrackerError(f"阶段「{stage}」不存在，可选：{choices}") from None
        stage_label = STAGE_LABELS[Stage(stage_value)]
    if unit not in (Unit.WORKING_DAYS, Unit.HOURS):
        raise TrackerError(f"单位「{unit}」不可用，可选：working_days（工作日）、hours（小时）")
    if amount < 0 or amount > 365:
        raise TrackerError(f"{stage_label}期限「{amount}」应在 0–365 之间")
    row = session.exec(
        select(DeadlineRuleRow).where(
            DeadlineRuleRow.stage == stage_value,
            DeadlineRuleRow.request_type == request_type
            if request_type
            else col(DeadlineRuleRow.request_type).is_(None),
            DeadlineRuleRow.urgency == urgency if urgency else col(DeadlineRuleRow.urgency).is_(None),
        )
    ).first()
    if row is None:
        row = DeadlineRuleRow(stage=stage_value, request_type=request_type, urgency=urgency, amount=amount, unit=unit)
    row.amount, row.unit, row.note, row.updated_at = amount, unit, note, now
    session.add(row)
    session.flush()
    return row
