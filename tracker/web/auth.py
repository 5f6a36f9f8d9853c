"""Sign-in, sign-out, password change, and the login gate in front of every page.

Flask-Login keeps only a random session token in the signed cookie; the token names a row
in ``user_session``, so ending a session is deleting that row (see services.users).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from tracker.db import begin_write, get_session
from tracker.domain.errors import TrackerError
from tracker.domain.roles import Role
from tracker.models import AppUser, utcnow
from tracker.services.accounts import Viewer, log_refusal, users

bp = Blueprint("auth", __name__, template_folder="templates")
login_manager = LoginManager()
OPEN_ENDPOINTS = frozenset({"auth.login", "static", "health.healthz", "health.readyz", "metrics.metrics"})
OPEN_BLUEPRINTS = frozenset({"open311"})  # public data for anyone (off unless TRACKER_OPEN311=1)
# what a user who must first replace a given password may still open
FORCED_CHANGE_ENDPOINTS = frozenset(
    {"auth.change_password", "auth.logout", "static", "charts.plotly_js", "charts.plotly_stylesheet"}
)
KNOWN_DEVICE_COOKIE = "tracker_known_device"
KNOWN_DEVICE_MAX_AGE = 180 * 24 * 3600
KNOWN_DEVICE_USERS = 5  # a shared office browser remembers the last few people who signed in on it
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class WebUser(UserMixin):  # type: ignore[misc]
    """The signed-in person of this request: the viewer, and the session token that identifies it."""

    def __init__(self, viewer: Viewer, token: str = "", via_api_token: bool = False) -> None:
        self.viewer = viewer
        self.token = token
        self.via_api_token = via_api_token

    def get_id(self) -> str:
        """Flask-Login stores this in the cookie: the session token, not the user id."""
        return self.token


def viewer() -> Viewer:
    """The signed-in viewer of this request (the login gate guarantees there is one)."""
    return cast(WebUser, current_user).viewer


def client_address() -> str:
    """The caller's address as the WSGI server saw it (configure ProxyFix behind a proxy)."""
    return request.remote_addr or "unknown"


def requires(*roles: Role) -> Callable[[F], F]:
    """Only these roles may open the view; others get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if viewer().role not in roles:
                log_refusal(viewer(), "role_may_not_open", endpoint=request.endpoint, path=request.path)
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def init_app(app: Flask) -> None:
    """Wire Flask-Login and the gate: every endpoint but the sign-in page and static files needs a user."""
    login_manager.init_app(app)
    login_manager.session_protection = None  # the server-side session row is the protection

    @login_manager.user_loader  # type: ignore[untyped-decorator]
    def load_user(token: str) -> WebUser | None:
        user = users.user_for_session(get_session(), token=token, now=utcnow())
        return WebUser(Viewer.of(user), token) if user else None

    @login_manager.request_loader  # type: ignore[untyped-decorator]
    def load_api_user(req: Any) -> WebUser | None:
        header = req.headers.get("Authorization", "")
        if not req.path.startswith("/api/") or not header.startswith("Bearer "):
            return None
        user = users.user_for_api_token(get_session(), token=header.removeprefix("Bearer ").strip())
        return WebUser(Viewer.of(user), via_api_token=True) if user else None

    @app.before_request
    def gate() -> Response | tuple[dict[str, str], int] | None:
        if request.endpoint in OPEN_ENDPOINTS or request.blueprint in OPEN_BLUEPRINTS:
            return None
        if not current_user.is_authenticated:
            if request.path.startswith("/api/"):
                return {"error": "未登录或令牌无效"}, 401
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
        g.viewer = viewer()
        if g.viewer.must_change_password and request.endpoint not in FORCED_CHANGE_ENDPOINTS:
            if request.path.startswith("/api/"):
                return {"error": "须先修改初始密码：请在网页上登录并设置自己的密码"}, 403
            flash("您的密码由管理员设置（或为初始密码），请先修改密码后再使用系统。")
            return redirect(url_for("auth.change_password"))
        return None

    app.register_blueprint(bp)


def safe_next(target: str | None) -> str:
    """Only a path on this site is followed after sign-in; anything else goes to the order list.

    Browsers drop tabs and newlines inside a URL and read a backslash as a slash, so
    ``/\t/host`` or ``/\\host`` would leave the site: control characters are removed first, then
    the result must start with one slash, not two, contain no backslash, and have no scheme or host.
    """
    fallback = url_for("orders.index")
    if not target:
        return fallback
    cleaned = CONTROL_CHARACTERS.sub("", target).strip()
    if not cleaned.startswith("/") or cleaned.startswith("//") or "\\" in cleaned:
        return fallback
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        return fallback
    return cleaned


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt="tracker-known-device")


def known_device() -> tuple[str | None, list[str]]:
    """This browser's device id and the usernames that signed in successfully on it (from the signed cookie)."""
    raw = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not raw:
        return None, []
    try:
        payload = _device_serializer().loads(raw)
    except BadSignature:
        return None, []
    if not isinstance(payload, dict) or not isinstance(payload.get("d"), str) or not isinstance(payload.get("u"), list):
        return None, []
    return payload["d"], [n for n in payload["u"] if isinstance(n, str)]


def _remember_device(response: Response, username: str) -> None:
    device, names = known_device()
    names = [username, *(n for n in names if n != username)][:KNOWN_DEVICE_USERS]
    response.set_cookie(
        KNOWN_DEVICE_COOKIE,
        _device_serializer().dumps({"d": device or secrets.token_urlsafe(24), "u": names}),
        max_age=KNOWN_DEVICE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """登录。"""
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    db = get_session()
    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")
    address, now = client_address(), utcnow()
    device_id, device_users = known_device()
    device = users.token_hash(device_id) if device_id else None
    known = device if device and username in device_users else None  # this browser signed in as this user
    base_delay = timedelta(seconds=current_app.config["SIGNIN_BACKOFF_SECONDS"])
    refusal: users.SignInRefused | None = None
    user: AppUser | None = None
    try:  # reads and the slow password check, before any lock
        user = users.check_credentials(
            db,
            username=username,
            password=password,
            address=address,
            now=now,
            known_device=known,
            base_delay=base_delay,
        )
    except users.SignInRefused as exc:
        refusal = exc
    if refusal is None or not refusal.throttled:
        # SQLite: end the read and take the write lock up front, waiting for it (busy timeout), instead of
        # failing when the read transaction tries to become a writer after another sign-in committed
        begin_write(db)
        try:  # another worker may have recorded an attempt for this account or address meanwhile
            users.claim_attempt(
                db, username=username, address=address, now=now, known_device=known, base_delay=base_delay
            )
        except users.SignInRefused as exc:
            refusal = exc
    if refusal is not None and refusal.throttled:
        log.warning("sign-in refused by back-off: username=%r address=%s", username, address)
        db.rollback()
        return render_template("auth/login.html", error=refusal.message, username=username, next=""), 401
    if refusal is not None:
        users.record_attempt(db, username=username, address=address, now=now, user=None, device=device)
        db.commit()  # the failed attempt counts towards the back-off
        return render_template("auth/login.html", error=refusal.message, username=username, next=""), 401
    assert user is not None
    users.record_attempt(db, username=username, address=address, now=now, user=user, password=password, device=device)
    token = users.start_session(db, user=user, address=address, now=now)
    db.commit()
    session.clear()  # a fresh cookie after sign-in (no fixation)
    login_user(WebUser(Viewer.of(user), token))
    if user.must_change_password:
        flash("您的密码由管理员设置（或为初始密码），请先修改密码后再使用系统。")
        response = redirect(url_for("auth.change_password"))
    else:
        response = redirect(safe_next(request.form.get("next")))
    _remember_device(response, user.username)
    return response


@bp.post("/logout")
def logout() -> Response:
    """退出登录：本浏览器的会话立即失效。"""
    user = cast(WebUser, current_user)
    if user.token:
        db = get_session()
        begin_write(db)  # SQLite: wait for the write lock (an import writing) instead of failing
        users.end_session(db, token=user.token)
        db.commit()
    logout_user()
    session.clear()
    flash("已退出登录。")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> str | Response | tuple[str, int]:
    """修改密码：修改后该用户的所有会话立即失效，需重新登录。"""
    if request.method == "GET":
        return render_template("auth/password.html")
    db = get_session()
    me = viewer()
    begin_write(db)
    user = db.get(AppUser, me.user_id)
    assert user is not None  # the session loader found this user a moment ago
    new = request.form.get("new_password", "")
    if not users.verify_password(user, request.form.get("old_password", "")):
        return render_template("auth/password.html", error="原密码不正确"), 422
    if new != request.form.get("confirm_password", ""):
        return render_template("auth/password.html", error="两次输入的新密码不一致"), 422
    try:
        users.set_password(db, user=user, password=new, now=utcnow())
    except TrackerError as exc:
        db.rollback()
        return render_template("auth/password.html", error=exc.message), 422
    db.commit()
    logout_user()
    session.clear()
    flash("密码已修改，所有已登录的会话均已失效，请用新密码重新登录。")
    return redirect(url_for("auth.login"))
