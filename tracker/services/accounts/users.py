"""Users and sign-in: argon2 password hashes, throttled attempts, server-side sessions, API tokens.

A browser's session is a row in ``user_session`` named by the hash of a random token held
in the signed cookie. Deleting the rows ends sessions at once in every web worker: logout
ends one, a password change or disabling the account ends all of that user's.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, delete, func, text
from sqlmodel import Session, col, select

from tracker.domain.errors import TrackerError
from tracker.domain.roles import ROLE_LABELS, Role
from tracker.models import AppUser, LoginAttempt, Street, UserSession

SESSION_LIFETIME = timedelta(hours=12)
# Back-off, not a lock: after FREE failures the next attempt waits BASE_DELAY, doubling with every
# further failure up to MAX_DELAY. An account's failures count since its last success or password
# reset (within BACKOFF_WINDOW), an address's within ADDRESS_WINDOW; attempts refused by the
# back-off are not counted (hammering cannot push the wait further), and a browser this user
# signed in from before (known device) is held back only by its own failures.
FREE_FAILURES_PER_ACCOUNT = 5
FREE_FAILURES_PER_ADDRESS = 20
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
BACKOFF_WINDOW = timedelta(hours=24)
ADDRESS_WINDOW = timedelta(minutes=15)
# PostgreSQL advisory locks (two-key form, so no clash with the scheduler's one-key lock): one sign-in at a
# time per account and per address records its attempt, so simultaneous guesses in several workers cannot
# all slip in under the same budget.
SIGN_IN_LOCK_ACCOUNT, SIGN_IN_LOCK_ADDRESS = 20_200_001, 20_200_002
MAX_FAILURES_PER_ACCOUNT = FREE_FAILURES_PER_ACCOUNT  # the names the tests and docs used before
MAX_FAILURES_PER_ADDRESS = FREE_FAILURES_PER_ADDRESS
MIN_PASSWORD_LENGTH = 10

BAD_CREDENTIALS = "用户名或密码不正确。"
THROTTLED = "登录失败次数过多"

_hasher = PasswordHasher()
# Verified against when the user does not exist, so both answers take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class UserError(TrackerError):
    """A user could not be created or changed (the message says which field and why)."""


class SignInRefused(TrackerError):
    """Sign-in refused: the same sentence for an unknown user and a wrong password."""

    def __init__(self, message: str, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.throttled = throttled


@dataclass(frozen=True)
class Viewer:
    """The signed-in person as every scope and permission check sees them."""

    user_id: int
    username: str
    name: str
    role: Role
    street: str | None
    must_change_password: bool = False

    @property
    def label(self) -> str:
        """E.g. '静安寺街道 执法队 张三'."""
        where = f"{self.street} " if self.street else ""
        return f"{where}{ROLE_LABELS[self.role]} {self.name}"

    @classmethod
    def of(cls, user: AppUser) -> Viewer:
        """The viewer for a stored user."""
        return cls(
            user.id or 0, user.username, user.display_name, Role(user.role), user.street, user.must_change_password
        )


def token_hash(token: str) -> str:
    """What is stored for a session or API token (the token itself never is)."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str) -> None:
    """Refuse a password that is too short or all one kind of character."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"密码至少 {MIN_PASSWORD_LENGTH} 位（当前 {len(password)} 位）")
    if password.isdigit() or password.isalpha():
        raise UserError("密码须同时包含字母和数字（或符号）")


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    street: str | None = None,
    now: datetime,
    must_change_password: bool = False,
) -> AppUser:
    """A new user; a squad user must name a known street, other roles none.

    ``must_change_password``: the password was chosen by someone else (an administrator, the demo),
    so the user must replace it at first sign-in before using anything else.
    """
    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise UserError(f"用户名“{username}”无效：不能为空、不能含空格、最多 64 个字符")
    if session.exec(select(AppUser).where(AppUser.username == username)).first() is not None:
        raise UserError(f"用户名“{username}”已存在")
    if not display_name.strip():
        raise UserError("姓名不能为空")
    street = _street_for(session, role, street)
    check_password_rules(password)
    user = AppUser(
        username=username,
        display_name=display_name.strip(),
        role=role.value,
        street=street,
        password_hash=_hasher.hash(password),
        created_at=now,
        password_changed_at=now,
        must_change_password=must_change_password,
    )
    session.add(user)
    session.flush()
    return user


def _street_for(session: Session, role: Role, street: str | None) -> str | None:
    street = (street or "").strip() or None
    if role is not Role.SQUAD:
        if street:
            raise UserError(f"角色“{ROLE_LABELS[role]}”覆盖全区，不能绑定街镇（收到“{street}”）")
        return None
    if not street:
        raise UserError("执法队用户必须绑定一个街镇")
    known = session.exec(select(Street).where(Street.name == street)).first()
    if known is None:
        raise UserError(f"街镇“{street}”不在街镇名单中，请先在“管理 → 街镇”中添加")
    if not known.active:
        raise UserError(f"街镇“{street}”已停用，不能绑定用户；请先在“管理 → 街镇”中启用")
    return street


def update_user(
    session: Session,
    *,
    user: AppUser,
    display_name: str,
    role: Role,
    street: str | None,
    active: bool,
) -> AppUser:
    """Change a user's name, role, street or status; a change of role, street or status ends their sessions."""
    if not display_name.strip():
        raise UserError("姓名不能为空")
    new_street = _street_for(session, role, street)
    scope_changed = (role.value, new_street, active) != (user.role, user.street, user.active)
    user.display_name, user.role, user.street, user.active = display_name.strip(), role.value, new_street, active
    session.add(user)
    if scope_changed:
        end_all_sessions(session, user_id=user.id or 0)
    session.flush()
    return user


def set_password(session: Session, *, user: AppUser, password: str, now: datetime, must_change: bool = False) -> None:
    """Store a new password hash and end every session of the user.

    Also clears the account's sign-in back-off (failures count only since the last change).
    ``must_change``: an administrator reset it, so the user must choose their own at next sign-in.
    """
    check_password_rules(password)
    if must_change is False and verify_password(user, password):
        raise UserError("新密码不能与原密码相同")
    user.password_hash = _hasher.hash(password)
    user.password_changed_at = now
    user.must_change_password = must_change
    session.add(user)
    end_all_sessions(session, user_id=user.id or 0)
    session.flush()


def verify_password(user: AppUser, password: str) -> bool:
    """Whether ``password`` is the user's."""
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _backoff_until(
    session: Session, where: Any, since: datetime, free: int, base_delay: timedelta = BASE_DELAY
) -> datetime | None:
    """When the next attempt may be made, given the failures in a row matching ``where`` since ``since``."""
    failed = col(LoginAttempt.succeeded).is_(False)
    count, last = session.exec(
        select(func.count(), func.max(LoginAttempt.at)).where(where, failed, col(LoginAttempt.at) > since)
    ).one()
    if int(count) < free or last is None:
        return None
    delay = min(base_delay * 2 ** min(int(count) - free, 20), max(MAX_DELAY, base_delay))
    moment: datetime = last + delay
    return moment


def _last_success(session: Session, where: Any) -> datetime | None:
    found: datetime | None = session.exec(
        select(func.max(LoginAttempt.at)).where(where, col(LoginAttempt.succeeded).is_(True))
    ).one()
    return found


def backoff_wait(
    session: Session,
    *,
    username: str,
    address: str,
    now: datetime,
    known_device: str | None = None,
    base_delay: timedelta = BASE_DELAY,
) -> timedelta | None:
    """How long this account or address must still wait before its next attempt (None: it may try now).

    Per account: failures since the last success or password change (within 24 h); per address:
    failures in the last 15 minutes (a success does not reset it, so signing in to one's own account
    does not buy more guesses at others). ``known_device``: the hash of this browser's device id when
    it signed in as this user before; it is then held back only by its own failures, never by
    anyone else's. ``base_delay``: the first wait (``TRACKER_SIGNIN_BACKOFF_SECONDS``, 30 s by default).
    """
    user = session.exec(select(AppUser).where(AppUser.username == username)).first()
    by_user = col(LoginAttempt.username) == username
    account_since = max(
        [now - BACKOFF_WINDOW, *(t for t in (_last_success(session, by_user), user and user.password_changed_at) if t)]
    )
    if known_device:
        by_device = and_(by_user, col(LoginAttempt.device) == known_device)
        candidates = [_backoff_until(session, by_device, account_since, FREE_FAILURES_PER_ACCOUNT, base_delay)]
    else:
        by_address = col(LoginAttempt.address) == address
        candidates = [
            _backoff_until(session, by_user, account_since, FREE_FAILURES_PER_ACCOUNT, base_delay),
            _backoff_until(session, by_address, now - ADDRESS_WINDOW, FREE_FAILURES_PER_ADDRESS, base_delay),
        ]
    untils = [t for t in candidates if t is not None and t > now]
    return max(untils) - now if untils else None


def throttled_message(wait: timedelta) -> str:
    """The refusal while backing off, with the wait in whole seconds or minutes."""
    seconds = max(int(wait.total_seconds() + 0.999), 1)
    when = f"{seconds} 秒" if seconds < 120 else f"{(seconds + 59) // 60} 分钟"
    return f"{THROTTLED}，请 {when}后再试。"


def check_credentials(
    session: Session,
    *,
    username: str,
    password: str,
    address: str,
    now: datetime,
    known_device: str | None = None,
    base_delay: timedelta = BASE_DELAY,
) -> AppUser:
    """The user for these credentials, or :class:`SignInRefused`; reads only (see :func:`record_attempt`).

    Reading and the slow password check happen before the write lock is taken, so sign-ins on
    SQLite do not queue behind each other's argon2; :func:`claim_attempt` checks the back-off again
    under the lock before the attempt is recorded.
    """
    username, address = username.strip()[:64], address[:64]
    wait = backoff_wait(
        session, username=username, address=address, now=now, known_device=known_device, base_delay=base_delay
    )
    if wait is not None:
        raise SignInRefused(throttled_message(wait), throttled=True)
    user = session.exec(select(AppUser).where(AppUser.username == username)).first()
    if user is None:
        _safe_dummy_verify(password)
        raise SignInRefused(BAD_CREDENTIALS)
    if not (verify_password(user, password) and user.active):
        raise SignInRefused(BAD_CREDENTIALS)
    return user


def claim_attempt(
    session: Session,
    *,
    username: str,
    address: str,
    now: datetime,
    known_device: str | None = None,
    base_delay: timedelta = BASE_DELAY,
) -> None:
    """Inside the write transaction, before :func:`record_attempt`: the back-off checked again, under a lock.

    Several workers may have checked the same account at the same moment and found it free; only one
    at a time gets here (SQLite: the write lock the caller took; PostgreSQL: transaction-level advisory
    locks on the account and the address, always in that order), and the others now see its attempt
    and are refused by the back-off, uncounted. Raises :class:`SignInRefused` (throttled).
    """
    username, address = username.strip()[:64], address[:64]
    if session.get_bind().dialect.name == "postgresql":
        for key, name in ((SIGN_IN_LOCK_ACCOUNT, username), (SIGN_IN_LOCK_ADDRESS, address)):
            session.execute(text("SELECT pg_advisory_xact_lock(:key, hashtext(:name))"), {"key": key, "name": name})
    wait = backoff_wait(
        session, username=username, address=address, now=now, known_device=known_device, base_delay=base_delay
    )
    if wait is not None:
        raise SignInRefused(throttled_message(wait), throttled=True)


def record_attempt(
    session: Session,
    *,
    username: str,
    address: str,
    now: datetime,
    user: AppUser | None,
    password: str = "",
    device: str | None = None,
) -> None:
    """Record a counted attempt (``user`` None: failed; ``device``: the browser's device-id hash, if it has one).

    A successful attempt also upgrades an outdated password hash.
    """
    session.add(
        LoginAttempt(
            username=username.strip()[:64], address=address[:64], at=now, succeeded=user is not None, device=device
        )
    )
    if user is not None and password and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.add(user)
    session.flush()


def authenticate(
    session: Session, *, username: str, password: str, address: str, now: datetime, known_device: str | None = None
) -> AppUser:
    """:func:`check_credentials`, :func:`claim_attempt`, :func:`record_attempt`, one transaction.

    A back-off refusal is not counted.
    """
    try:
        user = check_credentials(
            session, username=username, password=password, address=address, now=now, known_device=known_device
        )
    except SignInRefused as exc:
        if not exc.throttled:
            claim_attempt(session, username=username, address=address, now=now, known_device=known_device)
            record_attempt(session, username=username, address=address, now=now, user=None, device=known_device)
        raise
    claim_attempt(session, username=username, address=address, now=now, known_device=known_device)
    record_attempt(
        session, username=username, address=address, now=now, user=user, password=password, device=known_device
    )
    return user


def _safe_dummy_verify(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _hasher.verify(_DUMMY_HASH, password)


def start_session(session: Session, *, user: AppUser, address: str, now: datetime) -> str:
    """A new server-side session; returns the token to keep in the signed cookie."""
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=token_hash(token),
            user_id=user.id or 0,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
            address=address[:64],
        )
    )
    # expired sessions are cleared as new ones start, so the table does not grow without end
    session.execute(delete(UserSession).where(col(UserSession.expires_at) < now))
    session.flush()
    return token


def user_for_session(session: Session, *, token: str, now: datetime) -> AppUser | None:
    """The active user holding this session token, or None once it ended or expired."""
    row = session.exec(
        select(AppUser)
        .join(UserSession, col(UserSession.user_id) == col(AppUser.id))
        .where(UserSession.token_hash == token_hash(token), UserSession.expires_at > now)
        .where(col(AppUser.active).is_(True))
    ).first()
    return row


def end_session(session: Session, *, token: str) -> None:
    """End one browser's session (logout)."""
    session.execute(delete(UserSession).where(col(UserSession.token_hash) == token_hash(token)))
    session.flush()


def end_all_sessions(session: Session, *, user_id: int) -> None:
    """End every session of a user (password change, disabled account, changed role or street)."""
    session.execute(delete(UserSession).where(col(UserSession.user_id) == user_id))
    session.flush()


def issue_api_token(session: Session, *, user: AppUser) -> str:
    """A new API token for the user (shown once; the previous one stops working)."""
    token = "trk_" + secrets.token_urlsafe(32)
    user.api_token_hash = token_hash(token)
    session.add(user)
    session.flush()
    return token


def user_for_api_token(session: Session, *, token: str) -> AppUser | None:
    """The active user owning this API token."""
    return session.exec(
        select(AppUser).where(AppUser.api_token_hash == token_hash(token), col(AppUser.active).is_(True))
    ).first()


# --- administration (the 管理 pages): reading a role from a form, and what an administrator may not do to themselves


def parse_role(value: str) -> Role:
    """The role named by a form value (identifier or Chinese label), or a Chinese :class:`UserError`."""
    value = value.strip()
    for role, label in ROLE_LABELS.items():
        if value in (role.value, label):
            return role
    choices = " / ".join(f"{label}({role.value})" for role, label in ROLE_LABELS.items())
    raise UserError(f"角色“{value}”无效，可选：{choices}")


def user_by_id(session: Session, user_id: int) -> AppUser | None:
    """The stored user with this id, or None."""
    return session.get(AppUser, user_id)


def update_user_by(
    session: Session,
    *,
    acting_user_id: int,
    user: AppUser,
    display_name: str,
    role: Role,
    street: str | None,
    active: bool,
) -> AppUser:
    """:func:`update_user` done by an administrator, who may not disable or demote their own account."""
    if user.id == acting_user_id:
        if not active:
            raise UserError("不能停用自己的账号：请由另一位管理员操作")
        if role.value != user.role:
            raise UserError(f"不能更改自己的角色（当前为“{ROLE_LABELS[Role(user.role)]}”）：请由另一位管理员操作")
    return update_user(session, user=user, display_name=display_name, role=role, street=street, active=active)
