"""Notes (备注) on an order: free text that changes nothing about the order, each with its own audit event."""

from __future__ import annotations

from sqlmodel import Session, col, select

from tracker.domain.errors import TrackerError
from tracker.domain.vocabulary import Action
from tracker.models import Order, OrderNote
from tracker.services.orders.actions import Context, record_event

NOTE_MAX_CHARS = 5000  # as the action forms' free text


class NoteRefused(TrackerError):
    """A note that is not stored (empty, too long, or holding characters a database cannot keep)."""


def _id(order: Order) -> int:
    assert order.id is not None, "a stored order"
    return order.id


def add_note(session: Session, *, order: Order, text: str, ctx: Context) -> OrderNote:
    """Store ``text`` as written (only line endings made \\n) with a 备注 event; flushes."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise NoteRefused("请填写备注内容")
    if len(text) > NOTE_MAX_CHARS:
        raise NoteRefused(f"备注过长（{len(text)} 字，最多 {NOTE_MAX_CHARS} 字），未保存")
    if "\x00" in text:
        raise NoteRefused("备注中含有不可见的空字符（NUL），未保存；请删除后再提交")
    note = OrderNote(order_id=_id(order), text=text, author=ctx.actor.id, author_name=ctx.actor.name, at=ctx.now)
    session.add(note)
    session.flush()
    record_event(session, order=order, action=Action.NOTE, ctx=ctx, note=text)
    return note


def order_notes(session: Session, order: Order) -> list[OrderNote]:
    """The order's notes, oldest first."""
    return list(session.exec(select(OrderNote).where(OrderNote.order_id == order.id).order_by(col(OrderNote.id))).all())
