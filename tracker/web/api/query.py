"""Query parameters of /api/v1 as pydantic models: one schema both validates a request and describes it.

A refused value answers 400 naming the parameter, the value sent and why, in Chinese, translated
from pydantic's error types (:data:`REASONS`); unknown parameters are ignored as the pages ignore them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, NoReturn, TypeVar

from flask import request
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from tracker.domain import labels
from tracker.domain.vocabulary import AlertLevel, Stage, State
from tracker.services.orders import SORTS, OrderFilter
from tracker.web.api.core import fail
from tracker.web.orders import OPEN_STATE
from tracker.web.params import MAX_PAGE

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
KEYWORD_LENGTH = 100  # the list page reads no more of a keyword either
# parameters whose name alone does not say what they are get their label in the message
PARAM_LABELS = {**labels.FILTER_LABELS, "from": "统计期间自", "to": "统计期间至"}
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
DIGITS = re.compile(r"[0-9]+")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
REASONS = {
    "iso_day": "不是有效日期，应写作 2026-11-20",
    "whole_number": "不是正整数",
    "greater_than_equal": "不是正整数",
    "less_than_equal": "超出范围：应为 1 至 {le} 的整数",
    "choice": "无效，可选：{choices}",
    "control_character": "含有控制字符（如换行、NUL），请只写文字",
    "before_start": "早于参数 from 的值「{start}」",
}
Q = TypeVar("Q", bound="Query")


def iso_day(value: Any) -> Any:
    """A day written YYYY-MM-DD (nothing else: not 20261101, not a timestamp)."""
    if isinstance(value, str):
        try:
            if not ISO_DAY.fullmatch(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("iso_day", "not a YYYY-MM-DD day") from None
    return value


def whole_number(value: Any) -> Any:
    """Digits only (no sign, no decimals, no spaces inside), as the pages read page numbers."""
    if isinstance(value, str) and not DIGITS.fullmatch(value):
        raise PydanticCustomError("whole_number", "not a whole number")
    return value


def plain_text(value: Any) -> Any:
    """Free text without control characters (PostgreSQL refuses NUL in a string; nobody types one)."""
    if isinstance(value, str) and CONTROL.search(value):
        raise PydanticCustomError("control_character", "control character in text")
    return value


@dataclass(frozen=True)
class OneOf:
    """A text parameter restricted to listed values; the description names each value's label."""

    values: tuple[str, ...]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> Any:
        return {"type": "string", "enum": list(self.values)}

    def check(self, value: Any) -> Any:
        """Refuse a value the list page would silently ignore (an API caller should know)."""
        if value is not None and value not in self.values:
            raise PydanticCustomError("choice", "not one of the choices", {"choices": "、".join(self.values)})
        return value


DAY_SCHEMA: JsonSchemaValue = {"type": "string", "format": "date"}


class IsoDay:
    """Marker for a YYYY-MM-DD day parameter (validated by :func:`iso_day`, described as format date)."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(iso_day, handler(source))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> Any:
        return DAY_SCHEMA


class WholeNumber:
    """Marker for a positive whole-number parameter written in digits."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(whole_number, handler(source))


Day = Annotated[date | None, IsoDay]
Text = Annotated[str | None, BeforeValidator(plain_text)]


class Query(BaseModel):
    """Base of every query model: text trimmed, unknown parameters ignored, values frozen."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)


class PageQuery(Query):
    """Paging of a list."""

    page: Annotated[int, Field(ge=1, le=MAX_PAGE), WholeNumber] = Field(1, description="页码，从 1 开始")
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE), WholeNumber] = Field(
        DEFAULT_PAGE_SIZE, description=f"每页条数，默认 {DEFAULT_PAGE_SIZE}；大于 {MAX_PAGE_SIZE} 按 {MAX_PAGE_SIZE} 计"
    )

    @property
    def size(self) -> int:
        """The page size served (at most MAX_PAGE_SIZE)."""
        return min(self.page_size, MAX_PAGE_SIZE)

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.page - 1) * self.size


def labelled(mapping: Mapping[Any, str], extra: Mapping[str, str] | None = None) -> str:
    """'closed＝已办结、…' for a parameter's description."""
    pairs = {str(k): v for k, v in mapping.items()} | dict(extra or {})
    return "、".join(f"{k}＝{v}" for k, v in pairs.items())


STATES = (*(s.value for s in State), OPEN_STATE)
LEVELS = tuple(level.value for level in AlertLevel)
STAGES = tuple(s.value for s in Stage)


class OrdersQuery(PageQuery):
    """The order list's filters (the same as the list page's) and paging."""

    street: Text = Field(None, description="街镇名称，如 静安寺街道（执法队只能看到本街镇）")
    category: Text = Field(None, description="问题分类，如 油烟扰民")
    state: Annotated[str | None, OneOf(STATES)] = Field(
        None, description="状态：" + labelled(labels.STATE_LABELS, {OPEN_STATE: "所有未办结"})
    )
    level: Annotated[str | None, OneOf(LEVELS)] = Field(
        None, description="当前预警级别（按最先到期的未完成环节）：" + labelled(labels.ALERT_LABELS)
    )
    stage: Annotated[str | None, OneOf(STAGES)] = Field(
        None, description="只看此环节的未完成期限：" + labelled(labels.STAGE_LABELS)
    )
    dispatched_from: Day = Field(None, description="派单日期自（北京时间，含当天），YYYY-MM-DD")
    dispatched_to: Day = Field(None, description="派单日期至（北京时间，含当天），YYYY-MM-DD")
    closed_from: Day = Field(None, description="办结日期自（北京时间，含当天），YYYY-MM-DD")
    closed_to: Day = Field(None, description="办结日期至（北京时间，含当天），YYYY-MM-DD")
    q: Text = Field(None, description=f"关键词：工单编号、诉求内容或地址（只取前 {KEYWORD_LENGTH} 个字）")
    sort: Annotated[str, OneOf(tuple(SORTS))] = Field(
        "dispatched_desc", description="排序：" + labelled({k: label for k, (label, _) in SORTS.items()})
    )

    def order_filter(self) -> OrderFilter:
        """The list filter these parameters ask for."""
        return OrderFilter(
            street=self.street or None,
            category=self.category or None,
            state=State(self.state) if self.state and self.state != OPEN_STATE else None,
            open_only=self.state == OPEN_STATE,
            level=AlertLevel(self.level) if self.level else None,
            stage=Stage(self.stage) if self.stage else None,
            dispatched_from=self.dispatched_from,
            dispatched_to=self.dispatched_to,
            closed_from=self.closed_from,
            closed_to=self.closed_to,
            keyword=(self.q or "")[:KEYWORD_LENGTH] or None,
            sort=self.sort,
        )


class AlertsQuery(PageQuery):
    """The alert list's filters and paging."""

    level: Annotated[str | None, OneOf(LEVELS)] = Field(None, description="预警级别：" + labelled(labels.ALERT_LABELS))
    stage: Annotated[str | None, OneOf(STAGES)] = Field(None, description="环节：" + labelled(labels.STAGE_LABELS))
    street: Text = Field(None, description="街镇名称（执法队只能看到本街镇）")


class PeriodQuery(Query):
    """A period of Beijing days, both ends included, and an optional street."""

    start: Day = Field(
        None, alias="from", description="期间自（北京时间，含当天），YYYY-MM-DD；默认为期间至所在月的 1 日"
    )
    end: Day = Field(None, alias="to", description="期间至（北京时间，含当天），YYYY-MM-DD；默认为今天")
    street: Text = Field(None, description="只看此街镇（执法队只能看到本街镇）")

    def period(self, today: date) -> tuple[date, date]:
        """The first and last day asked for, defaults filled in; a period ending before it starts is a 400."""
        last = self.end or today
        first = self.start or last.replace(day=1)
        if last < first:
            refuse([("to", last.isoformat(), REASONS["before_start"].format(start=first.isoformat()))])
        return first, last


def present_args() -> dict[str, str]:
    """The query string's parameters with a value (first value of each; blank means absent)."""
    return {name: value.strip() for name, value in request.args.items() if value.strip()}


def parse(model: type[Q]) -> Q:
    """This request's query parameters as ``model``, or a 400 naming every refused parameter."""
    args = present_args()
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            reason = REASONS.get(error["type"], "无效").format(**error.get("ctx", {}))
            problems.append((name, args.get(name, ""), reason))
        refuse(problems)


def refuse(problems: list[tuple[str, str, str]]) -> NoReturn:
    """Answer 400: one sentence per refused parameter, and the same as fields."""
    fields = [
        {"field": name, "value": value[:40], "message": f"参数 {name}{label_of(name)}的值「{value[:40]}」{reason}"}
        for name, value, reason in problems
    ]
    fail(400, "；".join(f["message"] for f in fields), fields)


def label_of(name: str) -> str:
    """'（派单日期自）' after a parameter whose name needs it, else a space before 的."""
    return f"（{PARAM_LABELS[name]}）" if name in PARAM_LABELS else " "
