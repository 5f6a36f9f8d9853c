"""Accounts: users, their sessions and API tokens, the one place that decides what a viewer may see, actors.

Owns the tables ``app_user``, ``user_session``, ``login_attempt``, ``phone_reveal`` and ``export_log``.
May import: ``tracker.domain``, ``tracker.models``, ``tracker.db`` (no other service package).
"""

from tracker.services.accounts import access, actors, export_log, users
from tracker.services.accounts.access import (
    actions_for,
    log_refusal,
    reveal_phone,
    scoped,
    street_choices,
    visible_order,
)
from tracker.services.accounts.actors import Actor
from tracker.services.accounts.users import Viewer, create_user

__all__ = [
    "Actor",
    "Viewer",
    "access",
    "actions_for",
    "actors",
    "create_user",
    "export_log",
    "log_refusal",
    "reveal_phone",
    "scoped",
    "street_choices",
    "users",
    "visible_order",
]
