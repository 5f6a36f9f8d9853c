"""Sign-in: same answer for unknown users and wrong passwords, throttling, sessions that end at once."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from tests.web.conftest import csrf_token, post, sign_in
from tracker.models import AppUser, LoginAttempt, UserSession, utcnow
from tracker.services.accounts import users


def attempt(client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)})


def test_every_page_needs_sign_in(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/orders/1")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get("/api/v1/orders").status_code == 401
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_sign_in_and_out(client, people) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, people["squad"])
    page = client.get("/").get_data(as_text=True)
    assert "静安寺街道 执法队" in page
    response = post(client, "/logout")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_unknown_user_and_wrong_password_answer_alike(client, people) -> None:  # type: ignore[no-untyped-def]
    unknown = attempt(client, "nobody", "whatever-123")
    wrong = attempt(client, people["squad"].username, "wrong-password-1")
    assert unknown.status_code == wrong.status_code == 401

    def message(response) -> str:  # type: ignore[no-untyped-def]
        found = re.search(r'id="login-error">([^<]+)<', response.get_data(as_text=True))
        assert found
        return found.group(1)

    assert message(unknown) == message(wrong) == users.BAD_CREDENTIALS


def test_throttled_per_account_even_with_the_right_password(client, people, engine) -> None:  # type: ignore[no-untyped-def]
    person = people["squad"]
    for _ in range(users.MAX_FAILURES_PER_ACCOUNT):
        assert attempt(client, person.username, "wrong-password-1").status_code == 401
    response = attempt(client, person.username, person.password)
    assert response.status_code == 401 and users.THROTTLED in response.get_data(as_text=True)
    # another account from the same address is not yet throttled
    assert attempt(client, people["supervisor"].username, people["supervisor"].password).status_code == 302
    with Session(engine) as session:
        # the attempt refused by the back-off is not counted (hammering cannot push the wait further)
        assert len(session.exec(select(LoginAttempt)).all()) == users.MAX_FAILURES_PER_ACCOUNT + 1


def test_throttled_per_address_across_accounts(client, people) -> None:  # type: ignore[no-untyped-def]
    for n in range(users.MAX_FAILURES_PER_ADDRESS):
        attempt(client, f"guess{n}", "wrong-password-1")
    response = attempt(client, people["admin"].username, people["admin"].password)
    assert response.status_code == 401 and users.THROTTLED in response.get_data(as_text=True)


def test_throttling_uses_the_shared_database(app, people) -> None:  # type: ignore[no-untyped-def]
    """Two clients (as two workers would be) count against the same account."""
    first, second = app.test_client(), app.test_client()
    for _ in range(3):
        attempt(first, people["squad"].username, "wrong-password-1")
    for _ in range(2):
        attempt(second, people["squad"].username, "wrong-password-1")
    assert users.THROTTLED in attempt(first, people["squad"].username, people["squad"].password).get_data(as_text=True)


def test_password_change_ends_every_session_of_the_user(app, people, engine) -> None:  # type: ignore[no-untyped-def]
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, people["squad"])
    sign_in(phone, people["squad"])
    bad = post(laptop, "/account/password", {"old_password": "nope", "new_password": "x", "confirm_password": "x"})
    assert bad.status_code == 422 and "原密码不正确" in bad.get_data(as_text=True)
    short = post(
        laptop,
        "/account/password",
        {"old_password": people["squad"].password, "new_password": "short1", "confirm_password": "short1"},
    )
    assert short.status_code == 422 and "至少 10 位" in short.get_data(as_text=True)
    assert phone.get("/").status_code == 200  # nothing changed yet
    ok = post(
        laptop,
        "/account/password",
        {
            "old_password": people["squad"].password,
            "new_password": "new-secret-2026",
            "confirm_password": "new-secret-2026",
        },
    )
    assert ok.status_code == 302
    assert phone.get("/").status_code == 302 and laptop.get("/").status_code == 302
    with Session(engine) as session:
        assert session.exec(select(UserSession)).all() == []


def test_disabled_account_loses_its_session_at_once(app, people, engine) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    sign_in(client, people["squad"])
    assert client.get("/").status_code == 200
    with Session(engine) as session:
        user = session.exec(select(AppUser).where(AppUser.username == people["squad"].username)).one()
        users.update_user(session, user=user, display_name=user.display_name, role=people["squad"].role,
                          street=user.street, active=False)  # fmt: skip
        session.commit()
    assert client.get("/").status_code == 302
    assert attempt(client, people["squad"].username, people["squad"].password).status_code == 401


def test_the_cookie_holds_no_user_id_and_a_stolen_old_cookie_fails_after_logout(app, people) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    sign_in(client, people["supervisor"])
    cookie = client.get_cookie("session")
    assert cookie is not None
    post(client, "/logout")
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/").status_code == 302


def test_next_only_follows_paths_on_this_site(client, people) -> None:  # type: ignore[no-untyped-def]
    person = people["squad"]
    response = client.post(
        "/login",
        data={
            "username": person.username,
            "password": person.password,
            "next": "//evil.example/x",
            "csrf_token": csrf_token(client),
        },
    )
    assert response.headers["Location"] == "/"


def test_forms_without_csrf_token_are_refused(client, people) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/login", data={"username": people["squad"].username, "password": people["squad"].password})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)


def test_create_user_command(runner, engine) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        args=[
            "create-user",
            "--username",
            "boss",
            "--name",
            "管理员甲",
            "--role",
            "管理员",
            "--password",
            "boss-pass-2026",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "已创建用户 boss（管理员）" in result.output
    bad = runner.invoke(
        args=["create-user", "--username", "sq", "--name", "队员", "--role", "squad", "--password", "squad-pass-2026"]
    )
    assert bad.exit_code != 0 and "执法队用户必须绑定一个街镇" in bad.output
    worse = runner.invoke(
        args=["create-user", "--username", "sq", "--name", "队员", "--role", "root", "--password", "squad-pass-2026"]
    )
    assert worse.exit_code != 0 and "角色“root”无效" in worse.output
    with Session(engine) as session:
        stored = session.exec(select(AppUser).where(AppUser.username == "boss")).one()
        assert stored.password_hash.startswith("$argon2") and "boss-pass-2026" not in stored.password_hash
        assert session.exec(select(AppUser).where(AppUser.username == "sq")).first() is None


def test_a_squad_cannot_be_bound_to_a_street_that_is_switched_off(app, people, engine) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from tracker.domain.roles import Role
    from tracker.models import Street

    with Session(engine) as session:
        street = session.exec(select(Street).where(Street.name == "曹家渡街道")).one()
        street.active = False
        session.add(street)
        session.flush()
        with pytest.raises(users.UserError, match="已停用"):
            users.create_user(session, username="new", display_name="新队员", role=Role.SQUAD, street="曹家渡街道",
                              password="new-pass-2026", now=utcnow())  # fmt: skip
