"""Finding 10 and sign-in under load (finding 1): back-off an attacker cannot turn into a lock-out, forced
password change for given passwords, refused authorisations logged, concurrent sign-ins on SQLite."""

from __future__ import annotations

import json
import logging
import re
import threading
from datetime import timedelta

import pytest
import time_machine
from sqlmodel import Session, select

from tests.conftest import seed
from tests.web import conftest as web_fixtures
from tests.web.conftest import Person, csrf_token, post, sign_in
from tracker import create_app
from tracker.domain.roles import Role
from tracker.models import AppUser, LoginAttempt, Order
from tracker.services.accounts import users
from tracker.services.accounts.users import BASE_DELAY, FREE_FAILURES_PER_ACCOUNT, issue_api_token

people = web_fixtures.people  # fixtures shared with the web tests
as_role = web_fixtures.as_role

START = "2026-12-01T02:00:00+00:00"


def attempt(client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)})


def message(response) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'id="login-error">([^<]+)<', response.get_data(as_text=True))
    return found.group(1) if found else ""


def fail(client, username: str, times: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(times):
        assert attempt(client, username, "wrong-password-1").status_code == 401


# --- back-off, not a lock-out


def test_the_wait_doubles_and_then_the_right_password_works(app, people) -> None:  # type: ignore[no-untyped-def]
    person = people["squad"]
    attacker = app.test_client()
    with time_machine.travel(START, tick=False) as clock:
        fail(attacker, person.username, FREE_FAILURES_PER_ACCOUNT)
        refused = attempt(attacker, person.username, person.password)
        assert refused.status_code == 401 and message(refused) == users.throttled_message(BASE_DELAY)
        clock.shift(BASE_DELAY + timedelta(seconds=1))
        fail(attacker, person.username, 1)  # one more failure: the next wait is twice as long
        assert message(attempt(attacker, person.username, person.password)) == users.throttled_message(2 * BASE_DELAY)
        clock.shift(2 * BASE_DELAY + timedelta(seconds=1))
        assert attempt(app.test_client(), person.username, person.password).status_code == 302


def test_hammering_during_the_wait_does_not_lengthen_it(app, people, engine) -> None:  # type: ignore[no-untyped-def]
    person = people["squad"]
    attacker = app.test_client()
    with time_machine.travel(START, tick=False) as clock:
        fail(attacker, person.username, FREE_FAILURES_PER_ACCOUNT)
        for _ in range(20):
            assert users.THROTTLED in message(attempt(attacker, person.username, "wrong-password-1"))
            clock.shift(timedelta(seconds=1))
        clock.shift(BASE_DELAY)
        assert attempt(app.test_client(), person.username, person.password).status_code == 302
    with Session(engine) as s:  # refusals by the back-off are not counted as failures
        assert len(s.exec(select(LoginAttempt)).all()) == FREE_FAILURES_PER_ACCOUNT + 1


def test_the_users_own_browser_is_not_locked_out_by_an_attacker(app, people) -> None:  # type: ignore[no-untyped-def]
    person = people["squad"]
    own_browser, attacker = app.test_client(), app.test_client()
    with time_machine.travel(START, tick=False) as clock:
        sign_in(own_browser, person)  # the known-device cookie is set here
        post(own_browser, "/logout")
        clock.shift(timedelta(minutes=1))
        fail(attacker, person.username, 12)  # enough to reach the longest wait
        assert users.THROTTLED in message(attempt(attacker, person.username, person.password))
        assert attempt(own_browser, person.username, person.password).status_code == 302
        # the cookie is for this user only: the same browser gets no pass for another account
        post(own_browser, "/logout")
        fail(attacker, people["supervisor"].username, FREE_FAILURES_PER_ACCOUNT)
        other = attempt(own_browser, people["supervisor"].username, people["supervisor"].password)
        assert users.THROTTLED in message(other)


def test_a_known_browser_is_still_slowed_by_its_own_failures(app, people) -> None:  # type: ignore[no-untyped-def]
    person = people["squad"]
    browser = app.test_client()
    with time_machine.travel(START, tick=False) as clock:
        sign_in(browser, person)
        post(browser, "/logout")
        clock.shift(timedelta(seconds=1))
        fail(browser, person.username, FREE_FAILURES_PER_ACCOUNT)
        assert users.THROTTLED in message(attempt(browser, person.username, person.password))


def test_signing_in_to_ones_own_account_does_not_reset_the_address_count(app, people) -> None:  # type: ignore[no-untyped-def]
    sprayer = app.test_client()
    with time_machine.travel(START, tick=False):
        for n in range(users.FREE_FAILURES_PER_ADDRESS - 1):
            attempt(sprayer, f"guess{n}", "wrong-password-1")
        sign_in(sprayer, people["supervisor"])  # the attacker's own account
        post(sprayer, "/logout")
        attempt(sprayer, "guess-last", "wrong-password-1")
        assert users.THROTTLED in message(attempt(sprayer, "guess-next", "wrong-password-1"))


def test_a_forged_known_device_cookie_is_ignored(app, people) -> None:  # type: ignore[no-untyped-def]
    person = people["squad"]
    client = app.test_client()
    client.set_cookie("tracker_known_device", '["jingansi"]')
    with time_machine.travel(START, tick=False):
        fail(client, person.username, FREE_FAILURES_PER_ACCOUNT)
        assert users.THROTTLED in message(attempt(client, person.username, person.password))


def test_an_administrators_reset_clears_the_wait(app, as_role, people, engine) -> None:  # type: ignore[no-untyped-def]
    person = people["squad"]
    with time_machine.travel(START, tick=False) as clock:
        fail(app.test_client(), person.username, 10)
        clock.shift(timedelta(seconds=1))
        admin = as_role("admin")
        with Session(engine) as s:
            user_id = s.exec(select(AppUser.id).where(AppUser.username == person.username)).one()
        new = {"password": "reset-pass-2026", "confirm_password": "reset-pass-2026"}
        assert post(admin, f"/admin/users/{user_id}/password", new).status_code == 302
        clock.shift(timedelta(seconds=1))
        assert attempt(app.test_client(), person.username, "reset-pass-2026").status_code == 302


def test_an_unknown_user_gets_the_same_answers_as_a_real_one(app, people) -> None:  # type: ignore[no-untyped-def]
    real, ghost = app.test_client(), app.test_client()
    with time_machine.travel(START, tick=False):
        answers = []
        for client, username in ((real, people["squad"].username), (ghost, "nobody-here")):
            seen = [
                message(attempt(client, username, "wrong-password-1")) for _ in range(FREE_FAILURES_PER_ACCOUNT + 1)
            ]
            answers.append(seen)
        assert answers[0] == answers[1]
        assert answers[0][0] == users.BAD_CREDENTIALS and users.THROTTLED in answers[0][-1]


# --- forced password change


def test_a_user_created_by_an_administrator_must_change_the_password_first(app, as_role, engine) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    form = {
        "username": "wangmin",
        "display_name": "王敏",
        "role": "supervisor",
        "street": "",
        "password": "given-pass-2026",
    }
    assert post(admin, "/admin/users/create", form).status_code == 302
    assert "待本人修改密码" in admin.get("/admin/users").get_data(as_text=True)
    newcomer = app.test_client()
    response = attempt(newcomer, "wangmin", "given-pass-2026")
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"
    for path in ("/", "/alerts/", "/dashboard/", "/spot-checks/"):
        blocked = newcomer.get(path)
        assert blocked.status_code == 302 and blocked.headers["Location"] == "/account/password", path
    assert newcomer.get("/api/v1/orders").status_code == 403
    assert "修改密码" in newcomer.get("/account/password").get_data(as_text=True)
    with Session(engine) as s:
        user = s.exec(select(AppUser).where(AppUser.username == "wangmin")).one()
        token = issue_api_token(s, user=user)
        s.commit()
    api = app.test_client()
    assert api.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    same = {"old_password": "given-pass-2026", "new_password": "given-pass-2026", "confirm_password": "given-pass-2026"}
    assert post(newcomer, "/account/password", same).status_code == 422  # the given one will not do again
    change = {"old_password": "given-pass-2026", "new_password": "own-pass-2026x", "confirm_password": "own-pass-2026x"}
    assert post(newcomer, "/account/password", change).status_code == 302
    sign_in(newcomer, Person("wangmin", "own-pass-2026x", Role.SUPERVISOR))
    assert newcomer.get("/").status_code == 200
    assert api.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_reset_cli_and_demo_passwords_must_be_changed(app, as_role, people, engine, runner) -> None:  # type: ignore[no-untyped-def]
    admin = as_role("admin")
    with Session(engine) as s:
        squad_id = s.exec(select(AppUser.id).where(AppUser.username == "jingansi")).one()
    new = {"password": "reset-pass-2026", "confirm_password": "reset-pass-2026"}
    post(admin, f"/admin/users/{squad_id}/password", new)
    result = runner.invoke(
        args=["create-user", "--username", "boss", "--name", "局长", "--role", "admin", "--password", "boss-pass-2026"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["set-password", "--username", "duchao", "--password", "cli-reset-2026"])
    assert result.exit_code == 0, result.output
    with Session(engine) as s:
        flags = dict(s.exec(select(AppUser.username, AppUser.must_change_password)).all())
    assert flags == {"admin": False, "duchao": True, "jingansi": True, "caojiadu": False, "boss": True}


def test_demo_users_must_change_their_published_passwords(app, runner, engine) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["demo-load", "--now", "2026-11-26T09:00"])
    assert result.exit_code == 0, result.output
    with Session(engine) as s:
        flags = set(s.exec(select(AppUser.must_change_password)).all())
    assert flags == {True}


# --- refused authorisations are logged


def refusals(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "tracker.audit.refused"]


def test_another_streets_order_and_a_forbidden_page_are_logged(as_role, engine, calendar, caplog) -> None:  # type: ignore[no-untyped-def]
    from tests.adversarial.test_audit import one_order

    one_order(engine, calendar)  # an order of 静安寺街道
    with Session(engine) as s:
        order_id = s.exec(select(Order.id)).one()
    other = as_role("other_squad")  # 曹家渡街道
    caplog.set_level(logging.WARNING, logger="tracker.audit.refused")
    assert other.get(f"/orders/{order_id}").status_code == 404
    assert other.get(f"/api/v1/orders/{order_id}").status_code == 404
    assert other.get("/orders/987654").status_code == 404  # an order that does not exist is not a refusal
    assert other.get("/admin/").status_code == 403
    logged = refusals(caplog)
    assert [(e["what"], e.get("order_id"), e.get("endpoint")) for e in logged] == [
        ("order_out_of_scope", order_id, None),
        ("order_out_of_scope", order_id, None),
        ("role_may_not_open", None, "admin.index"),
    ]
    assert {e["username"] for e in logged} == {"caojiadu"} and {e["street"] for e in logged} == {"曹家渡街道"}
    assert all(e["at"] for e in logged)


# --- sign-in under concurrent writers (SQLite, the default)

THREADS = 12
ROUNDS = 3


def test_simultaneous_sign_ins_all_succeed(database_url: str, engine) -> None:  # type: ignore[no-untyped-def]
    """12 browsers sign in from one address at the same moment, 3 times over: no 5xx, every one signed in.

    On SQLite they queue for the write lock; on PostgreSQL for the sign-in's advisory lock on the address.
    """
    url = database_url
    with Session(engine) as s:
        seed(s)
        for n in range(THREADS):
            users.create_user(
                s,
                username=f"u{n}",
                display_name=f"用户{n}",
                role=Role.SUPERVISOR,
                password=f"pass-word-{n:04d}",
                now=users_now(),
            )
        s.commit()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test"})
    statuses: list[int] = []
    lock = threading.Lock()

    def sign_in_now(client, token: str, n: int, start: threading.Barrier) -> None:  # type: ignore[no-untyped-def]
        start.wait()
        form = {"username": f"u{n}", "password": f"pass-word-{n:04d}", "csrf_token": token}
        status = client.post("/login", data=form).status_code
        with lock:
            statuses.append(status)

    for _ in range(ROUNDS):
        clients = [app.test_client() for _ in range(THREADS)]
        start = threading.Barrier(THREADS)
        threads = [
            threading.Thread(target=sign_in_now, args=(c, csrf_token(c), n, start)) for n, c in enumerate(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    app.extensions["tracker_engine"].dispose()
    with Session(engine) as s:
        recorded = len(s.exec(select(LoginAttempt)).all())
    engine.dispose()
    assert statuses == [302] * (THREADS * ROUNDS)
    assert recorded == THREADS * ROUNDS


def users_now():  # type: ignore[no-untyped-def]
    from tests.helpers import local

    return local("2026-11-01 09:00")


def test_two_workers_recording_at_once_cannot_both_slip_under_the_budget(engine) -> None:  # type: ignore[no-untyped-def]
    """Worker A records the account's last free failure; worker B, which checked the account at the same
    moment and found it free, must wait for A (SQLite write lock, PostgreSQL advisory lock) and then be
    refused by the back-off, not record a sixth guess."""
    from tracker.db import begin_write

    now = users_now()
    with Session(engine) as s:
        users.create_user(
            s, username="racer", display_name="用户", role=Role.SUPERVISOR, password="racer-2026x", now=now
        )
        for n in range(FREE_FAILURES_PER_ACCOUNT - 1):
            at = now + timedelta(seconds=1 + n)  # after the password was set
            users.record_attempt(s, username="racer", address=f"198.51.100.{n}", now=at, user=None)
        s.commit()
    attempt_at = now + timedelta(seconds=5)
    worker_a = Session(engine)
    begin_write(worker_a)
    users.claim_attempt(worker_a, username="racer", address="203.0.113.1", now=attempt_at)
    users.record_attempt(worker_a, username="racer", address="203.0.113.1", now=attempt_at, user=None)
    outcome: list[str] = []

    def worker_b() -> None:
        with Session(engine) as s:
            begin_write(s)
            try:
                users.claim_attempt(s, username="racer", address="203.0.113.2", now=attempt_at)
                outcome.append("recorded")
            except users.SignInRefused as exc:
                outcome.append("throttled" if exc.throttled else "refused")
            s.rollback()

    thread = threading.Thread(target=worker_b)
    thread.start()
    thread.join(0.5)  # B is now waiting for A's lock (without the lock it would already have recorded)
    worker_a.commit()
    worker_a.close()
    thread.join(10)
    assert outcome == ["throttled"]
