"""Error pages in Chinese: not found, refused by the rules, and failures with what to do."""

from __future__ import annotations

import logging

from flask import Flask, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from tracker.db import DatabaseBusy, get_session, is_lock_timeout
from tracker.domain.errors import TrackerError
from tracker.domain.sizes import format_size
from tracker.services.operations import schema_problem
from tracker.web.security import ATTACHMENT_ENDPOINTS, UPLOAD_ENDPOINTS, body_limit

log = logging.getLogger(__name__)

TITLES = {400: "请求有误", 403: "无权访问", 404: "页面不存在", 405: "不支持的操作", 413: "文件过大", 500: "系统出错"}
BUSY_RETRY_SECONDS = 10


def busy_page() -> tuple[str, int, dict[str, str]]:
    """503 系统繁忙: the write lock did not come free in time; nothing was saved; try again shortly."""
    page = render_template("error.html", title="系统繁忙", message=DatabaseBusy.message)
    return page, 503, {"Retry-After": str(BUSY_RETRY_SECONDS)}


def _too_large() -> str:
    """The 413 sentence: the limit that applied to this route (the upload route has the large one)."""
    limit = body_limit(request.endpoint, current_app.config)
    if request.endpoint in UPLOAD_ENDPOINTS:
        return f"上传的内容超过大小上限 {format_size(limit)}，未保存任何内容；请拆分文件后再上传。"
    if request.endpoint in ATTACHMENT_ENDPOINTS:
        each = format_size(int(current_app.config.get("ATTACHMENT_MAX_BYTES", 15 << 20)))
        return (
            f"提交的附件合计超过大小上限 {format_size(limit)}（每个文件最多 {each}），未处理，也未保存任何内容；"
            "请压缩照片或分几次上传。"
        )
    return f"请求内容超过此页面的大小上限 {format_size(limit)}，未处理，也未保存任何内容。"


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int] | tuple[dict[str, str], int]:
        code = exc.code or 500
        if request.path.startswith("/api/"):  # unknown API paths and wrong methods answer in JSON too
            api_messages = {404: "工单不存在或接口地址有误", 405: "接口只支持 GET", 413: _too_large()}
            return {"error": api_messages.get(code, TITLES.get(code, "请求无法完成"))}, code
        message = "您要找的工单或页面不存在。" if code == 404 else "请求无法完成。"
        if code == 413:
            message = _too_large()
        return render_template("error.html", title=TITLES.get(code, "请求无法完成"), message=message), code

    @app.errorhandler(TrackerError)
    def tracker_error(exc: TrackerError) -> tuple[str, int]:
        return render_template("error.html", title="操作未完成", message=exc.message), 422

    @app.errorhandler(DatabaseBusy)
    def busy(exc: DatabaseBusy) -> tuple[str, int, dict[str, str]]:
        log.warning("write lock not free in time: %s %s answered 503", request.method, request.path)
        return busy_page()

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
        if is_lock_timeout(exc):  # a write that did not take the lock up front: still busy, not broken
            log.warning("database locked: %s %s answered 503", request.method, request.path, exc_info=True)
            get_session().rollback()
            return busy_page()
        log.exception("unhandled error")
        problem = schema_problem(get_session())
        message = problem or "系统出现意外错误，已记录日志。请稍后再试，或联系管理员。"
        return render_template("error.html", title="系统出错", message=message), 503 if problem else 500
