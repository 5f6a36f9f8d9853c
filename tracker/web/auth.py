"""Sign-in, sign-out, password change, and the login gate in front of every page.

Flask-Login keeps only a random session token in the signed cookie; the token names a row
in ``user_session``, so ending a session is deleting that row (see services.users).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.wrappers import Response

from tracker.db import get_session
from tracker.domain.errors import TrackerError
from tracker.domain.roles import Role
from tracker.models import AppUser, utcnow
from tracker.services.accounts import Viewer, users

bp = Blueprint("auth", __name__, template_folder="templates")
login_manager = LoginManager()
OPEN_ENDPOINTS = frozenset({"auth.login", "static", "health.healthz", "health.readyz", "metrics.metrics"})

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
        if request.endpoint in OPEN_ENDPOINTS:
            return None
        if not current_user.is_authenticated:
            if request.path.startswith("/api/"):
                return {"error": "未登录或令牌无效"}, 401
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
        g.viewer = viewer()
        return None

    app.register_blueprint(bp)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never another host) is followed after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("orders.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """登录。"""
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    db = get_session()
    username = request.form.get("username", "")
    try:
        user = users.authenticate(
            db,
            username=username,
            password=request.form.get("password", ""),
            address=client_address(),
            now=utcnow(),
        )
    except users.SignInRefused as exc:
        db.commit()  # the failed attempt counts towards the throttle
        return render_template("auth/login.html", error=exc.message, username=username[:64], next=""), 401
    token = users.start_session(db, user=user, address=client_address(), now=utcnow())
    db.commit()
    session.clear()  # a fresh cookie after sign-in (no fixation)
    login_user(WebUser(Viewer.of(user), token))
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Response:
    """退出登录：本浏览器的会话立即失效。"""
    user = cast(WebUser, current_user)
    if user.token:
        db = get_session()
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
