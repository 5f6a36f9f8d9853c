"""Orders as typed pandas frames for the analysis page: only the needed columns, times as UTC datetimes.

Times are read as epoch seconds computed by the database (one float column, parsed by pandas in one
vectorised call) instead of one Python ``datetime`` per row; text columns with few distinct values
(street, category, state) become pandas categories.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.domain.lifecycle import OPEN_STATES
from tracker.models import Alert, Order, OrderDeadline
from tracker.services.accounts import Viewer, scoped

LOCAL_ZONE = "Asia/Shanghai"
OPEN_VALUES = tuple(s.value for s in OPEN_STATES)


def epoch(column: Any, dialect: str) -> Any:
    """Seconds since 1970 (UTC) of a timestamp column, computed by the database."""
    if dialect == "sqlite":  # stored as naive UTC text
        return (sa.func.julianday(column) - 2440587.5) * 86400.0
    return sa.extract("epoch", column)


def _times(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype("float64"), unit="s", utc=True).dt.round("s")


def _frame(session: Session, query: Any, names: list[str]) -> pd.DataFrame:
    rows = session.exec(query).all()
    return pd.DataFrame.from_records(rows, columns=names)


def order_frame(
    session: Session,
    *,
    viewer: Viewer,
    start: datetime,
    end: datetime,
    with_address: bool = False,
) -> pd.DataFrame:
    """Orders dispatched in [start, end) the viewer may see: id, order_no, dispatched (UTC), street, category, open."""
    dialect = session.get_bind().dialect.name
    columns: list[Any] = [
        col(Order.id),
        col(Order.order_no),
        epoch(Order.dispatched_at, dialect).label("dispatched"),
        col(Order.street),
        col(Order.category),
        col(Order.state).in_(OPEN_VALUES).label("open"),
    ]
    names = ["id", "order_no", "dispatched", "street", "category", "open"]
    if with_address:
        columns.append(col(Order.address))
        names.append("address")
    query = scoped(select(*columns), viewer).where(col(Order.dispatched_at) >= start, col(Order.dispatched_at) < end)
    frame = _frame(session, query, names)
    frame["id"] = frame["id"].astype("int64")
    frame["dispatched"] = _times(frame["dispatched"])
    frame["street"] = frame["street"].fillna("（未分配街镇）").astype("category")
    frame["category"] = frame["category"].fillna("（未分类）").astype("category")
    frame["open"] = frame["open"].astype(bool)
    if with_address:
        frame["address"] = frame["address"].astype("category")
    return frame


def overdue_ids(session: Session, *, viewer: Viewer, start: datetime, end: datetime, now: datetime) -> pd.Index:
    """Ids of the viewer's orders dispatched in [start, end) with an open alert past its due time."""
    query = scoped(
        select(col(Alert.order_id))
        .distinct()
        .join(Order, col(Order.id) == col(Alert.order_id))
        .where(col(Alert.resolved_at).is_(None), col(Alert.due_at) < now),
        viewer,
    ).where(col(Order.dispatched_at) >= start, col(Order.dispatched_at) < end)
    return pd.Index(session.exec(query).all(), dtype="int64")


def deadline_frame(session: Session, *, viewer: Viewer, start: datetime, end: datetime) -> pd.DataFrame:
    """First-contact and closure deadlines of the first cycle, decided (met, late, missed), with the dispatch time.

    A deadline without a due time (its rule could not be computed) is not counted.
    """
    dialect = session.get_bind().dialect.name
    query = scoped(
        select(
            epoch(Order.dispatched_at, dialect).label("dispatched"),
            col(OrderDeadline.stage),
            col(OrderDeadline.outcome) == "met",
        )
        .join(Order, col(Order.id) == col(OrderDeadline.order_id))
        .where(
            col(OrderDeadline.cycle) == 1,
            col(OrderDeadline.stage).in_(("first_contact", "closure")),
            col(OrderDeadline.outcome).in_(("met", "late", "missed")),
            # a deadline falls after its dispatch: this bound lets the (stage, due_at) index find the
            # window's deadlines instead of every deadline of the two stages (13 s → see docs/benchmarks.md)
            col(OrderDeadline.due_at) >= start,
        ),
        viewer,
    ).where(col(Order.dispatched_at) >= start, col(Order.dispatched_at) < end)
    frame = _frame(session, query, ["dispatched", "stage", "met"])
    frame["dispatched"] = _times(frame["dispatched"])
    frame["stage"] = frame["stage"].astype("category")
    frame["met"] = frame["met"].astype(bool)
    return frame


def local(times: pd.Series) -> pd.Series:
    """UTC datetimes as Beijing wall-clock times."""
    return times.dt.tz_convert(LOCAL_ZONE)
