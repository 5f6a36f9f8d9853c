"""The public Open311 view of the orders: which orders, which fields, read in one query per page.

Which orders are public: every order the bureau received, whatever its state, anonymised ones included. The
feed shows nothing personal of any order, so an order whose personal data retention removed stays (it keeps
the district's record complete; it just has no address any more). A returned order (已退单) is listed as
closed with 已退单 in ``status_notes``: the platform did send it here, and the public can see it left.

Fields: ``service_request_id`` is the tracker's own order id (the platform's number is not shown: it is
the key a complainant holds, and a public list must not be a lookup of who called). ``requested_datetime``
is the dispatch time (派单时间), the time every filter and deadline counts from, so that ``start_date`` and
``end_date`` select on the field the answer shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlmodel import Session, col, select

from tracker.domain.addresses import street_number_address
from tracker.domain.open311 import (
    CLOSED,
    OPEN,
    STATUS_OF,
    UNCATEGORISED,
    RequestQuery,
    category_service,
    status_notes,
    w3c,
)
from tracker.domain.privacy import mask_names_in_text, mask_numbers_in_text
from tracker.domain.vocabulary import Stage
from tracker.models import Category, Order, OrderDeadline, Street

# where an export's own columns give a position (kept in extras): NYC 311's, or a Chinese platform's
LATITUDE_KEYS = ("Latitude", "latitude", "lat", "纬度")
LONGITUDE_KEYS = ("Longitude", "longitude", "long", "lng", "经度")
POSITION_DECIMALS = 4  # about 11 m: the building, as the address, not a point inside it
EXPECTED_STAGES = (Stage.CLOSURE.value, Stage.REDO.value)  # the deadline the public waits for


@dataclass(frozen=True)
class PublicSettings:
    """What the bureau lets the feed show beyond the minimum (TRACKER_OPEN311_DESCRIPTION)."""

    description: bool = False


def public_services(session: Session) -> list[dict[str, Any]]:
    """Every category as a service: the active category list and every category an order carries."""
    names = set(session.exec(select(Category.name).where(col(Category.active))).all())
    used = session.exec(select(Order.category).distinct()).all()
    names.update(name for name in used if name)
    services = [category_service(name) for name in sorted(names)]
    if any(name is None for name in used):
        services.append(category_service(UNCATEGORISED))
    return services


def _columns(settings: PublicSettings) -> Select[Any]:
    columns: list[Any] = [
        Order.id,
        Order.state,
        Order.cycle,
        Order.category,
        Order.address,
        Order.dispatched_at,
        Order.updated_at,
        Order.extras,
        Street.squad_name,
    ]
    if settings.description:  # the names are read only to be masked out of the text
        columns += [Order.content, Order.complainant, Order.contact_person]
    query: Select[Any] = select(*columns).select_from(Order).outerjoin(Street, col(Street.name) == Order.street)
    return query


def _filtered(query: Select[Any], filters: RequestQuery) -> Select[Any]:
    if filters.ids:
        return query.where(col(Order.id).in_(filters.ids))
    if filters.codes:
        named = [c for c in filters.codes if c != UNCATEGORISED]
        either = [col(Order.category).in_(named)] if named else []
        if UNCATEGORISED in filters.codes:
            either.append(col(Order.category).is_(None))
        query = query.where(or_(*either))
    if filters.statuses and filters.statuses != {OPEN, CLOSED}:
        states = [state.value for state, status in STATUS_OF.items() if status in filters.statuses]
        query = query.where(col(Order.state).in_(states))
    if filters.start is not None and filters.end is not None:
        query = query.where(and_(col(Order.dispatched_at) >= filters.start, col(Order.dispatched_at) <= filters.end))
    return query


def find_requests(
    session: Session, *, filters: RequestQuery, settings: PublicSettings
) -> tuple[list[dict[str, Any]], bool]:
    """One page of public requests, newest dispatch first, and whether another page follows."""
    query = _filtered(_columns(settings), filters).order_by(col(Order.dispatched_at).desc(), col(Order.id).desc())
    if filters.ids:
        rows = list(session.exec(query).all())  # type: ignore[call-overload]
        more = False
    else:
        query = query.offset((filters.page - 1) * filters.page_size).limit(filters.page_size + 1)
        rows = list(session.exec(query).all())  # type: ignore[call-overload]
        more = len(rows) > filters.page_size
        rows = rows[: filters.page_size]
    expected = _expected(session, [row.id for row in rows])
    return [_request(row, expected.get(row.id), settings) for row in rows], more


def request_by_id(session: Session, *, order_id: int, settings: PublicSettings) -> dict[str, Any] | None:
    """One public request, or None when there is no such order."""
    found, _ = find_requests(session, filters=RequestQuery(ids=(order_id,)), settings=settings)
    return found[0] if found else None


def _expected(session: Session, order_ids: list[int]) -> dict[int, Any]:
    """The closure (or redo) deadline of each order's latest cycle."""
    if not order_ids:
        return {}
    query = (
        select(OrderDeadline.order_id, OrderDeadline.due_at)
        .where(col(OrderDeadline.order_id).in_(order_ids), col(OrderDeadline.stage).in_(EXPECTED_STAGES))
        .order_by(col(OrderDeadline.cycle), col(OrderDeadline.id))
    )
    return {order_id: due_at for order_id, due_at in session.exec(query).all()}  # the latest cycle's wins


def _coordinate(extras: dict[str, Any], keys: tuple[str, ...], limit: float) -> float | None:
    for key in keys:
        raw = extras.get(key)
        if raw is None or raw == "":  # most orders: no position at all
            continue
        try:
            value = float(str(raw).strip())
        except ValueError:
            continue
        if math.isfinite(value) and -limit <= value <= limit and value != 0:
            return round(value, POSITION_DECIMALS)
    return None


def _description(row: Any) -> str | None:
    """The complaint text with phone numbers (landlines and long digit runs too) and the caller's and contact's names
    masked, the address cut to the house number."""
    text = mask_names_in_text(mask_numbers_in_text(row.content), [row.complainant, row.contact_person])
    if row.address and row.address in text:
        text = text.replace(row.address, street_number_address(row.address) or "")
    return text or None


def _request(row: Any, expected: Any, settings: PublicSettings) -> dict[str, Any]:
    """One order as an Open311 service request."""
    extras = row.extras if isinstance(row.extras, dict) else {}
    lat = _coordinate(extras, LATITUDE_KEYS, 90)
    long = _coordinate(extras, LONGITUDE_KEYS, 180)
    return {
        "service_request_id": str(row.id),
        "status": STATUS_OF[row.state],
        "status_notes": status_notes(row.state),
        "service_name": row.category or UNCATEGORISED,
        "service_code": row.category or UNCATEGORISED,
        "description": _description(row) if settings.description else None,
        "agency_responsible": row.squad_name or None,
        "service_notice": None,
        "requested_datetime": w3c(row.dispatched_at),
        "updated_datetime": w3c(row.updated_at),
        "expected_datetime": w3c(expected),
        "address": street_number_address(row.address),
        "address_id": None,
        "zipcode": None,
        "lat": lat if lat is not None and long is not None else None,
        "long": long if lat is not None and long is not None else None,
        "media_url": None,
    }
