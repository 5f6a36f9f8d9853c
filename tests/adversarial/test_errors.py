"""Finding 9: ids and page numbers out of range answer 404 / 400 (not 500), and ``next`` at sign-in stays on this site.

(The CSP part of finding 9 is tests/browser/test_csp.py.)
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.web import conftest as web_fixtures
from tests.web.conftest import csrf_token, post

people = web_fixtures.people  # fixtures shared with the web tests
as_role = web_fixtures.as_role

HUGE = "99999999999999999999"  # past 2^63: SQLite raised OverflowError while binding it
ENORMOUS = "9" * 5000  # past Python's int() digit limit as well

ID_PATHS = [
    "/orders/{n}",
    "/api/v1/orders/{n}",
    "/spot-checks/plans/{n}",
    "/spot-checks/plans/{n}/results",
    "/spot-checks/plans/{n}/results.xlsx",
    "/spot-checks/plans/{n}/items/{n}",
    "/imports/uploads/{n}",
    "/admin/users/{n}",
    "/admin/rules?edit={n}",
    "/spot-checks/reviews?plan={n}",
]


def test_an_id_out_of_range_is_not_found(as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    for path in ID_PATHS:
        for number in (HUGE, ENORMOUS, str(2**63), str(2**31)):  # 2^31: past PostgreSQL's INTEGER ids
            response = client.get(path.format(n=number))
            in_path = "{n}" in path.split("?")[0]  # in the query string it is ignored like any unknown value
            assert response.status_code == (404 if in_path else 200), (path, number[:30], response.status_code)


def test_posts_to_an_id_out_of_range_are_not_found(as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("squad")
    assert post(client, f"/orders/{HUGE}/actions/sign").status_code == 404
    assert post(client, f"/orders/{HUGE}/phone", {"reason": "先行联系"}).status_code == 404
    assert post(client, f"/alerts/{HUGE}/ack").status_code == 404


PAGE_URLS = ["/", "/alerts/", "/admin/reveals", "/admin/exports", "/api/v1/orders", "/api/v1/alerts"]


def test_a_page_out_of_range_is_a_bad_request(as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    for url in PAGE_URLS:
        for name in ("page", "page_size"):
            for number in (HUGE, ENORMOUS, "1000001"):
                response = client.get(f"{url}?{name}={number}")
                assert response.status_code == 400, (url, name, number[:30], response.status_code)
                text = response.get_json()["error"] if url.startswith("/api/") else response.get_data(as_text=True)
                assert "超出范围" in text and "1000000" in text, text


def test_the_last_allowed_page_is_served(as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("admin")
    assert client.get("/?page=1000000").status_code == 200
    assert client.get("/api/v1/orders?page=1000000&page_size=200").status_code == 200


HOSTILE_NEXT = [
    "/%09/evil.example/x",
    "/\t/evil.example/x",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%5Cevil.example",
    "https://evil.example/",
    "http:/evil.example",
    "javascript:alert(1)",
    "/\x00/evil.example",
    " //evil.example",
    "evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_after_sign_in_never_leaves_the_site(client, people, target: str) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import unquote

    person = people["squad"]
    token = csrf_token(client)
    form = {"username": person.username, "password": person.password, "csrf_token": token, "next": unquote(target)}
    response = client.post("/login", data=form)
    assert response.status_code == 302
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location, location
    assert not any(ord(c) < 32 for c in location), location


def test_a_local_next_is_followed(client, people) -> None:  # type: ignore[no-untyped-def]
    person = people["squad"]
    target = "/alerts/?level=red"
    form = {"username": person.username, "password": person.password, "csrf_token": csrf_token(client), "next": target}
    response = client.post("/login", data=form)
    assert response.headers["Location"] == target
