"""The one place that decides which orders a viewer may see, and what they may do to them.

Every query over orders for a person goes through :func:`scoped`; an order outside the
viewer's scope is looked up with :func:`visible_order` and answers exactly like one that
does not exist (None, which the web turns into 404).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import false
from sqlmodel import Session, select

from tracker.domain.roles import is_district_wide, may_reveal_phone, may_take
from tracker.domain.vocabulary import Action
from tracker.models import Order, PhoneReveal
from tracker.services.accounts.users import UserError, Viewer

Q = TypeVar("Q", bound=Any)

# Refused authorisations go to the structured log (one JSON object per line), not to a table: a
# refusal is a security signal for whoever watches the logs, and writing a row on every refused
# request would let any signed-in user add writes (and, on SQLite, write-lock waits) at will.
refusal_log = logging.getLogger("tracker.audit.refused")


def log_refusal(viewer: Viewer | None, what: str, **details: Any) -> None:
    """Record a refused authorisation: who, when, what (e.g. another street's order, a page the role may not open)."""
    entry = {
        "event": "authorisation_refused",
        "at": datetime.now(UTC).isoformat(),
        "user_id": viewer.user_id if viewer else None,
        "username": viewer.username if viewer else None,
        "role": viewer.role.value if viewer else None,
        "street": viewer.street if viewer else None,
        "what": what,
        **details,
    }
    refusal_log.warning(json.dumps(entry, ensure_ascii=False, default=str))


def scoped(query: Q, viewer: Viewer) -> Q:
    """Restrict a query that selects from (or joins) ``work_order`` to the viewer's orders."""
    if is_district_wide(viewer.role):
        return query
    if not viewer.street:  # a squad user without a street sees nothing, never everything
        return cast(Q, query.where(false()))
    return cast(Q, query.where(Order.street == viewer.street))


def visible_order(session: Session, viewer: Viewer, order_id: int, *, for_update: bool = False) -> Order | None:
    """The order if it exists and the viewer may see it; None otherwise (the same answer for both)."""
    query = scoped(select(Order).where(Order.id == order_id), viewer)
    found = session.exec(query.with_for_update() if for_update else query).first()
    if found is None and not is_district_wide(viewer.role):
        exists = session.exec(select(Order.id).where(Order.id == order_id)).first()
        if exists is not None:  # the answer stays "not found"; the log says it was someone else's
            log_refusal(viewer, "order_out_of_scope", order_id=order_id)
    return found


def street_choices(viewer: Viewer, streets: list[str]) -> list[str]:
    """The streets a viewer may filter by."""
    if is_district_wide(viewer.role):
        return streets
    return [viewer.street] if viewer.street else []


def actions_for(viewer: Viewer, allowed: list[Action]) -> list[Action]:
    """Of the actions the lifecycle allows now, those this viewer's role may take."""
    return [action for action in allowed if may_take(viewer.role, action)]


def reveal_phone(session: Session, *, viewer: Viewer, order: Order, reason: str, now: datetime) -> str:
    """The unmasked phone number, logged with who, when, which order and why."""
    if not may_reveal_phone(viewer.role):
        raise UserError("您的角色不能查看完整电话号码")
    reason = reason.strip()
    if len(reason) < 2:
        raise UserError("查看完整电话号码须填写事由（至少 2 个字），例如“先行联系诉求人”")
    session.add(
        PhoneReveal(user_id=viewer.user_id, user_name=viewer.label, order_id=order.id or 0, reason=reason[:500], at=now)
    )
    session.flush()
    return order.phone or ""
