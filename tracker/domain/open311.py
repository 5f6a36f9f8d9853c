"""Open311 GeoReport v2 as the tracker speaks it: statuses, categories as services, filters and bounds, JSON and XML.

The public face of the orders (issue 19): what an outside client may ask (``requests`` filtered by
``service_request_id``, ``service_code``, ``start_date``, ``end_date``, ``status``, paged) and within which
bounds, how an order's state reads as open/closed, and how answers and errors are written in both formats
of the specification (http://wiki.open311.org/GeoReport_v2). Errors are a list of ``{code, description}``
with the description in Chinese, naming the parameter, its value and the bound. Standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from xml.etree import ElementTree

from tracker.domain.deadlines import LOCAL_TZ
from tracker.domain.errors import TrackerError
from tracker.domain.labels import STATE_LABELS
from tracker.domain.vocabulary import State

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json", "xml": "text/xml"}
OPEN, CLOSED = "open", "closed"
# a returned order (退单) has left the bureau: for the public its request is closed here
STATUS_OF = {
    State.DISPATCHED: OPEN,
    State.HANDLING: OPEN,
    State.RETURN_REQUESTED: OPEN,
    State.RETURNED: CLOSED,
    State.CLOSED: CLOSED,
}
UNCATEGORISED = "未分类"  # the service of an order the export gave no category
MAX_PAGE = 1_000_000
MAX_PARAM_CHARS = 40  # how much of a bad value an error quotes
# the default categories (domain.md §4) in groups, with words a citizen would search for; another bureau's
# own categories fall in 其他 with their name as keyword
CATEGORY_GROUPS: Mapping[str, tuple[str, str]] = {
    "油烟扰民": ("环境扰民", "油烟,餐饮,排烟"),
    "噪声扰民": ("环境扰民", "噪声,噪音,夜间施工"),
    "违法搭建": ("房屋管理", "违建,搭建,拆违"),
    "损坏房屋承重结构": ("房屋管理", "承重墙,装修,敲墙"),
    "群租": ("房屋管理", "群租,隔断"),
    "占道经营 / 无证设摊": ("街面秩序", "占道,设摊,摊贩"),
    "跨门营业": ("街面秩序", "跨门,出店经营,商铺"),
    "擅自占用道路堆物施工": ("街面秩序", "占路,堆物,施工"),
    "非机动车乱停放": ("街面秩序", "单车,共享单车,停放"),
    "建筑垃圾": ("工地与渣土", "建筑垃圾,装修垃圾"),
    "渣土": ("工地与渣土", "渣土,渣土车,抛洒"),
    "工地扬尘": ("工地与渣土", "扬尘,工地,裸土"),
    "户外广告 / 店招": ("市容环境", "广告,店招,招牌"),
    "乱张贴乱涂写": ("市容环境", "小广告,张贴,涂写"),
    "暴露垃圾 / 垃圾分类": ("市容环境", "垃圾,垃圾分类,暴露垃圾"),
    "毁绿占绿": ("市容环境", "绿化,绿地,毁绿"),
}
OTHER_GROUP = "其他"
# XML: the element name of one item of each list (``<services><service>``, ``<formats><format>``)
XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
}


class Open311Error(TrackerError):
    """A request the endpoint refuses: its HTTP status and a Chinese description naming what was wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Bounds:
    """How much one request may pull (TRACKER_OPEN311_MAX_PAGE_SIZE, _MAX_DAYS)."""

    max_page_size: int = 1000
    default_page_size: int = 100
    max_days: int = 90


@dataclass(frozen=True)
class RequestQuery:
    """The filters of ``GET requests``: by ids (which overrides the rest, as the specification says), or by
    service codes, a period of dispatch (aware UTC, end exclusive), statuses and a page."""

    ids: tuple[int, ...] = ()
    codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: frozenset[str] = frozenset()
    page: int = 1
    page_size: int = 100


def status_of(state: str) -> str:
    """``open`` or ``closed`` for an order's state."""
    return STATUS_OF[State(state)]


def status_notes(state: str) -> str:
    """The Chinese state the public reads beside open/closed (处置中, 已退单 …)."""
    return STATE_LABELS[State(state)]


def category_service(name: str) -> dict[str, Any]:
    """One category as an Open311 service: its name is its code, so the code stays the same across installations."""
    group, keywords = CATEGORY_GROUPS.get(name, (OTHER_GROUP, ",".join(p.strip() for p in name.split("/"))))
    description = "未归入分类的诉件" if name == UNCATEGORISED else f"12345 市民服务热线诉件：{name}"
    return {
        "service_code": name,
        "service_name": name,
        "description": description,
        "metadata": False,
        "type": "realtime",
        "keywords": keywords,
        "group": group,
    }


def w3c(moment: datetime | None) -> str | None:
    """An aware time in ISO 8601 at Beijing time, ``2026-11-26T10:00:00+08:00``."""
    return moment.astimezone(LOCAL_TZ).replace(microsecond=0).isoformat() if moment else None


# --- the query -------------------------------------------------------------------------------------


def _quoted(text: str) -> str:
    return text[:MAX_PARAM_CHARS] + ("…" if len(text) > MAX_PARAM_CHARS else "")


def _moment(name: str, text: str) -> datetime:
    """A W3C date-time (a bare date is that Beijing day's start; no offset means Beijing time), as aware UTC."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = datetime.combine(date.fromisoformat(text), time(), LOCAL_TZ)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", text):
            moment = datetime.fromisoformat(text)
        else:
            raise ValueError(text)
    except ValueError:
        example = "2026-11-20T00:00:00+08:00（W3C 格式）或 2026-11-20"
        raise Open311Error(400, f"参数 {name} 的值「{_quoted(text)}」不是有效时间，应写作 {example}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)).astimezone(UTC)


def _whole(name: str, text: str, *, default: int, maximum: int) -> int:
    if not text:
        return default
    if not text.isdigit() or len(text) > len(str(maximum)) or not 1 <= int(text) <= maximum:
        raise Open311Error(400, f"参数 {name} 的值「{_quoted(text)}」超出范围：应为 1 至 {maximum} 的整数")
    return int(text)


def _listed(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_ids(text: str, bounds: Bounds) -> tuple[int, ...]:
    """``service_request_id``: a comma list of order ids, at most a page's worth."""
    parts = _listed(text)
    for part in parts:
        if not part.isdigit() or len(part) > 18 or int(part) < 1:
            raise Open311Error(400, f"参数 service_request_id 中的「{_quoted(part)}」不是服务请求编号（正整数）")
    if len(parts) > bounds.max_page_size:
        raise Open311Error(
            400, f"参数 service_request_id 列出 {len(parts)} 个编号，超过上限：一次最多 {bounds.max_page_size} 个"
        )
    return tuple(dict.fromkeys(int(p) for p in parts))


def _period(args: Mapping[str, str], now: datetime, bounds: Bounds) -> tuple[datetime, datetime]:
    """start_date / end_date, defaulting to the last ``max_days`` days, never wider than that."""
    start_text, end_text = args.get("start_date", "").strip(), args.get("end_date", "").strip()
    span = timedelta(days=bounds.max_days)
    end = _moment("end_date", end_text) if end_text else None
    start = _moment("start_date", start_text) if start_text else None
    if start is None and end is None:
        return now - span, now
    if start is None:
        assert end is not None
        return end - span, end
    if end is None:
        return start, start + span
    if end < start:
        message = f"参数 end_date 的值「{_quoted(end_text)}」早于 start_date 的值「{_quoted(start_text)}」"
        raise Open311Error(400, message)
    if end - start > span:
        days = (end - start) / timedelta(days=1)
        raise Open311Error(
            400,
            f"start_date 至 end_date 跨 {days:.1f} 天，超过上限 {bounds.max_days} 天：请分段查询"
            f"（参数 start_date「{_quoted(start_text)}」，end_date「{_quoted(end_text)}」）",
        )
    return start, end


def parse_request_query(args: Mapping[str, str], *, now: datetime, bounds: Bounds) -> RequestQuery:
    """The filters of ``GET requests`` read and checked; an :class:`Open311Error` names the first bad one."""
    ids_text = args.get("service_request_id", "").strip()
    if ids_text:
        return RequestQuery(ids=parse_ids(ids_text, bounds))
    statuses = _listed(args.get("status", ""))
    for value in statuses:
        if value not in (OPEN, CLOSED):
            raise Open311Error(400, f"参数 status 的值「{_quoted(value)}」无效，可选：open、closed（可用逗号并列）")
    codes = _listed(args.get("service_code", ""))
    if len(codes) > 100:
        raise Open311Error(400, f"参数 service_code 列出 {len(codes)} 个分类，超过上限：一次最多 100 个")
    start, end = _period(args, now, bounds)
    size = bounds.default_page_size
    return RequestQuery(
        codes=tuple(codes),
        start=start,
        end=end,
        statuses=frozenset(statuses),
        page=_whole("page", args.get("page", "").strip(), default=1, maximum=MAX_PAGE),
        page_size=_whole("page_size", args.get("page_size", "").strip(), default=size, maximum=bounds.max_page_size),
    )


# --- writing answers ---------------------------------------------------------------------------------


def to_json(data: Any) -> bytes:
    """An answer as UTF-8 JSON (Chinese readable)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _xml_fill(ElementTree.SubElement(element, key), item)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for item in value:
            _xml_fill(ElementTree.SubElement(element, XML_ITEMS.get(element.tag, "item")), item)
    else:
        element.text = _xml_text(value)


def to_xml(root: str, data: Any) -> bytes:
    """An answer as the specification's XML: ``root`` holding a list's items (named by :data:`XML_ITEMS`) or a
    document's fields; ``None`` is an empty element."""
    element = ElementTree.Element(root)
    _xml_fill(element, data)
    text: bytes = ElementTree.tostring(element, encoding="utf-8", xml_declaration=True)
    return text


def encode(fmt: str, root: str, data: Any) -> bytes:
    """An answer in ``json`` or ``xml``."""
    return to_json(data) if fmt == "json" else to_xml(root, data)


def error_body(fmt: str, status: int, message: str) -> bytes:
    """Errors as the specification writes them: a list of ``{code, description}``."""
    return encode(fmt, "errors", [{"code": status, "description": message}])
