"""Web fixtures: one user per role (two squads, so scope can be seen) and signing in through the real form."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.helpers import local
from tracker.domain.roles import Role
from tracker.services.accounts.users import create_user
from tracker.services.orders.directory import add_street


@dataclass(frozen=True)
class Person:
    """A test user: login, password, role and street."""

    username: str
    password: str
    role: Role
    street: str | None = None


PEOPLE = {
    "admin": Person("admin", "admin-pass-123", Role.ADMIN),
    "supervisor": Person("duchao", "duchao-pass-123", Role.SUPERVISOR),
    "squad": Person("jingansi", "jingansi-pass-123", Role.SQUAD, "静安寺街道"),
    "other_squad": Person("caojiadu", "caojiadu-pass-123", Role.SQUAD, "曹家渡街道"),
}


@pytest.fixture
def people(app, engine: Engine) -> dict[str, Person]:  # type: ignore[no-untyped-def]
    """The four users, stored (streets 静安寺街道 and 曹家渡街道 in the street list)."""
    with Session(engine) as session:
        for street in ("静安寺街道", "曹家渡街道"):
            add_street(session, name=street)
        for p in PEOPLE.values():
            create_user(
                session,
                username=p.username,
                display_name=f"测试{p.username}",
                role=p.role,
                street=p.street,
                password=p.password,
                now=local("2026-11-01 09:00"),
            )
        session.commit()
    return PEOPLE


def csrf_token(client) -> str:  # type: ignore[no-untyped-def]
    """The CSRF token of the client's session, read from a form as a browser would."""
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def sign_in(client, person: Person) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login form."""
    response = client.post(
        "/login", data={"username": person.username, "password": person.password, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def post(client, url: str, data: dict[str, str] | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """POST a form with the session's CSRF token, as the page's form would."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client)}, **kwargs)


@pytest.fixture
def as_role(client, people):  # type: ignore[no-untyped-def]
    """Sign the test client in as one of: admin, supervisor, squad, other_squad."""

    def sign(role: str):  # type: ignore[no-untyped-def]
        sign_in(client, people[role])
        return client

    return sign
