"""Open311 GeoReport v2 under /open311/v2 (issue 19): public, read-only, and off unless TRACKER_OPEN311=1.

``discovery``, ``services``, ``services/<code>``, ``requests`` and ``requests/<id>``, each as ``.json`` or
``.xml``. No sign-in (the gate lets this blueprint through) and nothing personal (services.open311 decides
what leaves). Every answer is rate-limited per client address, kept a short while in a per-worker cache and
sent with ``Cache-Control: public, max-age`` and an ``ETag`` (``If-None-Match`` answers 304). Errors are the
specification's list of ``{code, description}`` in the format asked for, described in Chinese. Off, every
route answers 404.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from tracker.db import get_session
from tracker.domain.open311 import (
    FORMATS,
    SPECIFICATION,
    Bounds,
    Open311Error,
    encode,
    error_body,
    parse_request_query,
)
from tracker.domain.ratelimit import ExpiringCache, RateLimiter
from tracker.domain.sizes import format_size
from tracker.models import utcnow
from tracker.services.open311 import PublicSettings, find_requests, public_services, request_by_id
from tracker.web.auth import client_address
from tracker.web.security import body_limit, csrf

log = logging.getLogger(__name__)
bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
csrf.exempt(bp)  # nothing is ever posted here: a POST is answered with an Open311 error, not a CSRF page
FMT = "<any(json, xml):fmt>"
BOTH = ["GET", "POST"]  # POST is routed only to be refused in Open311's own words
CHANGESET = "2026-12-06T00:00:00+08:00"  # when the discovery document last changed
READ_ONLY = "本接口只读，不受理在线提交诉求：反映问题请拨打 12345 市民服务热线。"
OFF = "Open311 接口未启用（管理员可设置 TRACKER_OPEN311=1 开启）"


@dataclass
class Runtime:
    """This worker's limiter and cache, made from the app's settings."""

    limiter: RateLimiter
    cache: ExpiringCache


@dataclass(frozen=True)
class Answer:
    """An encoded answer and its extra headers (a next-page Link), as the cache keeps it."""

    body: bytes
    headers: dict[str, str]


def runtime() -> Runtime:
    """The app's Open311 limiter and cache (one per app, so each test app starts clean)."""
    found = current_app.extensions.get("open311")
    if found is None:
        config = current_app.config
        found = Runtime(
            RateLimiter(int(config["OPEN311_RATE_LIMIT"]), float(config["OPEN311_RATE_WINDOW_SECONDS"])),
            ExpiringCache(float(config["OPEN311_CACHE_SECONDS"])),
        )
        current_app.extensions["open311"] = found
    return found


def bounds() -> Bounds:
    """How much one request may pull, from TRACKER_OPEN311_MAX_PAGE_SIZE and _MAX_DAYS."""
    largest = int(current_app.config["OPEN311_MAX_PAGE_SIZE"])
    days = int(current_app.config["OPEN311_MAX_DAYS"])
    # a client without paging (most, the specification has none) gets the whole page the bound allows
    return Bounds(max_page_size=largest, default_page_size=largest, max_days=days)


def settings() -> PublicSettings:
    """What the feed may show beyond the minimum."""
    return PublicSettings(description=bool(current_app.config["OPEN311_DESCRIPTION"]))


def asked_format() -> str:
    """``json`` or ``xml`` as the path asks; JSON for a path that names neither."""
    fmt = (request.view_args or {}).get("fmt")
    return fmt if fmt in FORMATS else "json"


def refuse(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An Open311 error answer, never cached."""
    fmt = asked_format()
    response = Response(error_body(fmt, status, message), status=status, mimetype=FORMATS[fmt])
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.before_request
def guard() -> Response | None:
    """Off → 404; over the address's rate → 429; a POST → 405; another jurisdiction → 404."""
    config = current_app.config
    if not config.get("OPEN311"):
        return refuse(404, OFF)
    wait = runtime().limiter.retry_after(client_address(), now=time.monotonic())
    if wait:
        limit, window = config["OPEN311_RATE_LIMIT"], config["OPEN311_RATE_WINDOW_SECONDS"]
        seconds = math.ceil(wait)
        message = f"请求过于频繁：每个地址每 {window:g} 秒最多 {limit} 次，请 {seconds} 秒后再试"
        return refuse(429, message, {"Retry-After": str(seconds)})
    if request.method == "POST":
        return refuse(405, READ_ONLY, {"Allow": "GET, HEAD"})
    asked, ours = request.args.get("jurisdiction_id", "").strip(), config["OPEN311_JURISDICTION"]
    if asked and ours and asked != ours:
        return refuse(404, f"参数 jurisdiction_id 的值「{asked[:40]}」不是本接口的辖区：本接口只服务「{ours}」")
    return None


@bp.errorhandler(Open311Error)
def open311_error(exc: Open311Error) -> Response:
    """A refused filter or an unknown id, in the format asked for."""
    return refuse(exc.status, exc.message)


def http_message(code: int) -> str:
    """A refusal by the web server in Chinese."""
    if code == 413:
        limit = format_size(body_limit(request.endpoint, current_app.config))
        return f"请求内容超过此页面的大小上限 {limit}，未处理，也未保存任何内容。{READ_ONLY}"
    return {404: "接口不存在", 405: READ_ONLY}.get(code, "请求无法完成")


@bp.errorhandler(Exception)
def unexpected(exc: Exception) -> Response:
    """Anything else, logged, as an Open311 error."""
    if isinstance(exc, HTTPException):  # e.g. 413 for a body over the limit, refused before it is read
        code = exc.code or 500
        return refuse(code, http_message(code))
    log.exception("unhandled error in Open311")
    return refuse(500, "系统出现意外错误，已记录日志，请稍后再试")


def serve(fmt: str, root: str, produce: Callable[[], tuple[Any, dict[str, str]]]) -> Response:
    """An answer from the cache or from ``produce`` (data and extra headers), with caching headers and ETag."""
    key = f"{request.path}?{urlencode(sorted(request.args.items(multi=True)))}"
    cache = runtime().cache
    found = cache.get(key, now=time.monotonic())
    if not isinstance(found, Answer):
        data, headers = produce()
        found = Answer(encode(fmt, root, data), headers)
        cache.put(key, found, now=time.monotonic())
    body, headers = found.body, found.headers
    response = Response(body, mimetype=FORMATS[fmt])
    response.headers.update(headers)
    response.headers["Cache-Control"] = f"public, max-age={int(current_app.config['OPEN311_CACHE_SECONDS'])}"
    response.headers["Access-Control-Allow-Origin"] = "*"  # public data: a browser app elsewhere may read it
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    return response.make_conditional(request)


def query_args() -> dict[str, str]:
    """The query string with a repeated parameter joined by commas (``status=open&status=closed``): the
    specification lets a filter be "declared multiple times, comma delimited"."""
    return {name: ",".join(values) for name, values in request.args.lists()}


def base_url() -> str:
    """Where this endpoint is reached from outside: TRACKER_PUBLIC_URL, else as the request came in."""
    public = str(current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return f"{public or request.url_root.rstrip('/')}{bp.url_prefix}"


@bp.route(f"/discovery.{FMT}", methods=BOTH)
def discovery(fmt: str) -> Response:
    """The discovery document: where the endpoint is, which specification and formats."""
    document = {
        "changeset": CHANGESET,
        "contact": "反映问题请拨打 12345 市民服务热线；本接口只提供诉件办理进度的公开信息。",
        "key_service": "本接口只读，无需 API 密钥",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base_url(),
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return serve(fmt, "discovery", lambda: (document, {}))


@bp.route(f"/services.{FMT}", methods=BOTH)
def services(fmt: str) -> Response:
    """The categories as services."""
    return serve(fmt, "services", lambda: (public_services(get_session()), {}))


@bp.route(f"/services/<path:code>.{FMT}", methods=BOTH)
def service_definition(code: str, fmt: str) -> Response:
    """A service's definition: no attributes (``metadata`` is false for every service)."""

    def produce() -> tuple[Any, dict[str, str]]:
        if code not in {s["service_code"] for s in public_services(get_session())}:
            raise Open311Error(404, f"服务「{code[:40]}」不存在：可用的 service_code 见 services.{fmt}")
        return {"service_code": code, "attributes": []}, {}

    return serve(fmt, "service_definition", produce)


@bp.route(f"/requests.{FMT}", methods=BOTH)
def requests_list(fmt: str) -> Response:
    """Service requests by id (comma list), or by service code, dispatch period and status, paged."""

    def produce() -> tuple[Any, dict[str, str]]:
        filters = parse_request_query(query_args(), now=utcnow(), bounds=bounds())
        found, more = find_requests(get_session(), filters=filters, settings=settings())
        headers = {}
        if more:  # the next page, as a Link header (Open311's body is a bare list)
            args = {**request.args.to_dict(), "page": str(filters.page + 1), "page_size": str(filters.page_size)}
            headers["Link"] = f'<{base_url()}/requests.{fmt}?{urlencode(args)}>; rel="next"'
        return found, headers

    return serve(fmt, "service_requests", produce)


@bp.route(f"/requests/<request_id>.{FMT}", methods=BOTH)
def request_detail(request_id: str, fmt: str) -> Response:
    """One service request (as a list of one, as the specification writes it)."""

    def produce() -> tuple[Any, dict[str, str]]:
        found = None
        if request_id.isdigit() and len(request_id) <= 18:
            found = request_by_id(get_session(), order_id=int(request_id), settings=settings())
        if found is None:
            raise Open311Error(404, f"服务请求「{request_id[:40]}」不存在")
        return [found], {}

    return serve(fmt, "service_requests", produce)


@bp.route("/<path:rest>", methods=BOTH)
def unknown(rest: str) -> Response:
    """Any other path under /open311/v2."""
    return refuse(404, f"接口「{rest[:60]}」不存在：可用 discovery、services、requests，后缀 .json 或 .xml")


def init_app(app: Flask) -> None:
    """Register the blueprint (always: off, its routes answer 404 rather than the sign-in page)."""
    app.register_blueprint(bp)
