"""Who may do what: the three roles, the lifecycle actions each may take, who may see phone numbers."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from tracker.domain.vocabulary import Action


class Role(StrEnum):
    """A user's role; a squad user is also bound to one street."""

    ADMIN = "admin"  # 区局诉件管理员: imports, users, streets, rules, calendar
    SUPERVISOR = "supervisor"  # 区局督察 / 法制: whole district, approvals, spot checks
    SQUAD = "squad"  # 街镇综合行政执法队: its own street only


ROLE_LABELS: Mapping[Role, str] = {
    Role.ADMIN: "管理员",
    Role.SUPERVISOR: "督察",
    Role.SQUAD: "执法队",
}

# What the squad records on its own orders; the bureau decides on requests and orders redo.
SQUAD_ACTIONS = frozenset(
    {Action.SIGN, Action.FIRST_CONTACT, Action.CLOSE, Action.REQUEST_RETURN, Action.REQUEST_EXTENSION}
)
BUREAU_ACTIONS = frozenset(
    {
        Action.APPROVE_RETURN,
        Action.REJECT_RETURN,
        Action.APPROVE_EXTENSION,
        Action.REJECT_EXTENSION,
        Action.SUPERVISE,
        Action.REDO,
        Action.REDISPATCH,
    }
)

ROLE_ACTIONS: Mapping[Role, frozenset[Action]] = {
    Role.SQUAD: SQUAD_ACTIONS,
    Role.SUPERVISOR: BUREAU_ACTIONS,
    Role.ADMIN: BUREAU_ACTIONS,
}

# The squad phones the complainant; the supervisor verifies the contact record in spot checks.
# The import clerk does not need the number, so it stays masked for the administrator.
REVEALS_PHONE = frozenset({Role.SQUAD, Role.SUPERVISOR})


def may_take(role: Role, action: Action) -> bool:
    """Whether this role may take this action through the web (import-only actions never)."""
    return action in ROLE_ACTIONS[role]


def may_reveal_phone(role: Role) -> bool:
    """Whether this role may unmask a complainant's phone number (with a logged reason)."""
    return role in REVEALS_PHONE


def is_district_wide(role: Role) -> bool:
    """Whether this role sees every street (else only its own)."""
    return role is not Role.SQUAD
