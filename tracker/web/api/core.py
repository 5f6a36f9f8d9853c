"""The API blueprint and its answers: JSON in UTF-8 with free-text mobile numbers masked, errors as JSON in Chinese.

Every error is ``{"error": "…"}``; a refused query parameter adds ``fields``, one entry per parameter
with its name, the value sent and the reason (see :mod:`tracker.web.api.query`).
"""

from __future__ import annotations

import json
import logging
from typing import Any, NoReturn

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from tracker.db import DatabaseBusy, get_session, is_lock_timeout
from tracker.domain.errors import TrackerError
from tracker.domain.privacy import mask_phones_in_text
from tracker.services.operations import schema_problem

log = logging.getLogger(__name__)

# templates live with the other blueprints' in tracker/web/templates
bp = Blueprint("api", __name__, template_folder="../templates", url_prefix="/api/v1")
MESSAGES = {
    400: "请求有误",
    401: "未登录或令牌无效",
    403: "无权访问",
    404: "接口不存在",
    405: "不支持的请求方法：接口只读，仅支持 GET",
    500: "系统出现意外错误，已记录日志。请稍后再试，或联系管理员。",
}
IDENTIFIERS = frozenset({"order_no", "repeat_of"})  # order numbers are not personal data: never rewritten


class ApiError(HTTPException):
    """An API refusal with its Chinese message (and, for bad parameters, the fields it names)."""

    def __init__(self, code: int, message: str, fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(description=message)
        self.code = code
        self.fields = fields


def fail(code: int, message: str, fields: list[dict[str, str]] | None = None) -> NoReturn:
    """Answer the request with a JSON error."""
    raise ApiError(code, message, fields)


def json_response(data: Any, status: int = 200) -> Response:
    """JSON as UTF-8 text (Chinese readable), with free-text mobile numbers masked."""
    return Response(json.dumps(scrub(data), ensure_ascii=False), status=status, mimetype="application/json")


def scrub(value: Any, key: str = "") -> Any:
    """Mask every mobile number inside strings (content, replies, extras), leaving identifiers alone."""
    if isinstance(value, str):
        return value if key in IDENTIFIERS else mask_phones_in_text(value)
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, key) for v in value]
    return value


@bp.errorhandler(400)
@bp.errorhandler(401)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(405)
def http_error(exc: HTTPException) -> Response:
    """Errors raised in the API's views, as JSON in Chinese."""
    code = exc.code or 500
    if not isinstance(exc, ApiError):
        return json_response({"error": MESSAGES.get(code, "请求无法完成")}, code)
    body: dict[str, Any] = {"error": exc.description}
    if exc.fields:
        body["fields"] = exc.fields
    return json_response(body, code)


@bp.errorhandler(TrackerError)
def tracker_error(exc: TrackerError) -> Response:
    """A refusal by the rules, as JSON."""
    return json_response({"error": exc.message}, 422)


@bp.errorhandler(Exception)
def unexpected(exc: Exception) -> Response:
    """An unexpected failure, logged, as JSON."""
    if isinstance(exc, HTTPException):  # ApiError, and codes without a handler of their own (e.g. 413)
        return http_error(exc)
    if isinstance(exc, DatabaseBusy) or is_lock_timeout(exc):  # SQLite's write lock busy: try again shortly
        log.warning("database busy: %s answered 503", request.path)
        get_session().rollback()
        response = json_response({"error": DatabaseBusy.message}, 503)
        response.headers["Retry-After"] = "10"
        return response
    log.exception("unhandled error in the API")
    problem = schema_problem(get_session())
    return json_response({"error": problem or MESSAGES[500]}, 503 if problem else 500)
