"""Mapping profiles: TOML files that say how one platform's export maps onto the tracker's fields.

A profile maps header spellings to canonical fields (one header may feed several fields),
field values to canonical values, status texts to lifecycle states, satisfaction, verdict
and decision labels to the tracker's vocabulary, and names the date formats and timezone.
Built-in profiles live next to this file; any other file can be passed by path.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tracker.domain.errors import TrackerError
from tracker.domain.lifecycle import CLOSURE_VERDICTS
from tracker.domain.vocabulary import State

HERE = Path(__file__).parent

CANONICAL_FIELDS: tuple[str, ...] = (
    "工单编号", "受理时间", "派单时间", "工单来源", "处理方式", "诉求类型", "问题分类", "紧急程度", "诉求内容",
    "地址", "所属街镇", "承办单位", "处理时限", "联系时间", "联系结果", "先行联系人", "未联原因", "办结时间",
    "答复内容", "结案评判", "答复方式", "满意度", "是否重复", "重复工单号", "诉求人", "联系电话", "工单状态",
    "签收时间", "延期申请时间", "延期理由", "申请延期至", "延期审核结果", "延期审核时间", "退单申请时间",
    "退单原因", "退单依据", "退单审核结果", "退单审核时间", "重办时间", "重办原因", "督办时间", "督办事项",
)  # fmt: skip
DATETIME_FIELDS = frozenset(
    {"受理时间", "派单时间", "处理时限", "联系时间", "办结时间", "签收时间", "延期申请时间", "申请延期至",
     "延期审核时间", "退单申请时间", "退单审核时间", "重办时间", "督办时间"}
)  # fmt: skip
SATISFACTION_LABELS = ("满意", "基本满意", "一般", "不满意", "未评价")
DECISIONS = ("approve", "reject")


class ProfileError(TrackerError):
    """A profile file is malformed; names the file, key and value."""


def header_key(text: str) -> str:
    """How headers are compared: full-width to half-width, no spaces, case-insensitive."""
    return unicodedata.normalize("NFKC", text).replace(" ", "").replace("\u3000", "").casefold()


@dataclass(frozen=True)
class Profile:
    """One platform's export layout."""

    name: str
    title: str
    source: str
    timezone: ZoneInfo
    date_formats: tuple[str, ...]
    headers: Mapping[str, tuple[str, ...]]
    status: Mapping[str, State]
    satisfaction: Mapping[str, str]
    verdicts: Mapping[str, str]
    decisions: Mapping[str, str]
    yes: frozenset[str]
    values: Mapping[str, Mapping[str, str]]
    ignore: frozenset[str] = frozenset()
    # fields whose header spellings are levels of one hierarchy (一级分类…五级分类): an export may carry
    # several; the one listed first in [headers] feeds the field, the others are kept as extras
    ranked: frozenset[str] = frozenset()
    path: Path | None = None
    _lookup: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        lookup: dict[str, list[str]] = {}
        for canonical, aliases in self.headers.items():
            for name in (canonical, *aliases):
                targets = lookup.setdefault(header_key(name), [])
                if canonical not in targets:
                    targets.append(canonical)
        self._lookup.update({key: tuple(targets) for key, targets in lookup.items()})

    def fields_for(self, header: str) -> tuple[str, ...]:
        """The canonical fields a header cell feeds (empty when unknown)."""
        return self._lookup.get(header_key(header), ())

    def rank(self, canonical: str, header: str) -> int:
        """Where a header spelling stands among the field's own (its canonical name, then [headers] in order)."""
        names = [header_key(n) for n in (canonical, *self.headers.get(canonical, ()))]
        key = header_key(header)
        return names.index(key) if key in names else len(names)

    def map_value(self, canonical: str, value: str) -> str:
        """A field value through the profile's value map (unchanged when not listed)."""
        mapping = self.values.get(canonical)
        return mapping.get(value, value) if mapping else value


def load_profile(source: str | Path) -> Profile:
    """A built-in profile by name (``12345``, ``城管诉件``, ``nyc311``) or a TOML file by path."""
    path = Path(source)
    if not path.suffix:
        builtin = {p.name: p for p in builtin_profiles()}
        if str(source) in builtin:
            return builtin[str(source)]
        raise ProfileError(f"没有名为「{source}」的内置导入配置，可选：{'、'.join(builtin)}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise ProfileError(f"导入配置文件「{path}」无法打开") from None
    return parse_profile(text, path=path)


def parse_profile(text: str, *, path: Path | None = None) -> Profile:
    """Validate and build a profile from TOML text."""
    where = f"导入配置「{path.name if path else '（文本）'}」"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        place = re.search(r"line (\d+), column (\d+)", str(exc))
        at = f"（第 {place[1]} 行第 {place[2]} 列附近）" if place else ""
        raise ProfileError(f"{where}不是有效的 TOML{at}") from None
    name = _text(data, "name", where)
    try:
        timezone = ZoneInfo(str(data.get("timezone", "Asia/Shanghai")))
    except (ZoneInfoNotFoundError, ValueError):
        raise ProfileError(f"{where}的 timezone「{data.get('timezone')}」不是有效的时区名") from None
    headers = _table(data, "headers", where)
    unknown = [key for key in headers if key not in CANONICAL_FIELDS]
    if unknown:
        raise ProfileError(
            f"{where}的 [headers] 含有未知的字段「{'、'.join(unknown)}」，可用：{'、'.join(CANONICAL_FIELDS)}"
        )
    if "工单编号" not in headers:
        raise ProfileError(f"{where}的 [headers] 必须给出「工单编号」")
    header_map: dict[str, tuple[str, ...]] = {}
    for key, aliases in headers.items():
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ProfileError(f"{where}的 [headers] 中「{key}」应为表头写法的列表，实际为：{aliases!r}")
        header_map[key] = tuple(aliases)
    status = {}
    for text_value, state in _table(data, "status", where).items():
        if state not in State._value2member_map_:
            allowed = "、".join(s.value for s in State)
            raise ProfileError(f"{where}的 [status] 中「{text_value}」对应的状态「{state}」无效，可用：{allowed}")
        status[text_value] = State(state)
    satisfaction = _checked_map(data, "satisfaction", SATISFACTION_LABELS, where)
    verdicts = _checked_map(data, "verdicts", CLOSURE_VERDICTS, where)
    decisions = _checked_map(data, "decisions", DECISIONS, where)
    values = {}
    for key, mapping in _table(data, "values", where).items():
        if key not in CANONICAL_FIELDS or not isinstance(mapping, dict):
            raise ProfileError(f"{where}的 [values.{key}] 应为已知字段的取值对照表")
        values[key] = {str(k): str(v) for k, v in mapping.items()}
    formats = data.get("date_formats", [])
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise ProfileError(f"{where}的 date_formats 应为 strptime 格式字符串的列表，实际为：{formats!r}")
    yes = _table(data, "yes", where).get("values", ["是"])
    ignore = data.get("ignore_columns", [])
    if not isinstance(ignore, list) or not all(isinstance(c, str) for c in ignore):
        raise ProfileError(f"{where}的 ignore_columns 应为列名的列表，实际为：{ignore!r}")
    ranked = data.get("ranked_headers", [])
    if not isinstance(ranked, list) or not all(isinstance(c, str) and c in header_map for c in ranked):
        raise ProfileError(f"{where}的 ranked_headers 应为 [headers] 中字段名的列表，实际为：{ranked!r}")
    return Profile(
        name=name,
        title=str(data.get("title", name)),
        source=str(data.get("source", name)),
        timezone=timezone,
        date_formats=tuple(formats),
        headers=header_map,
        status=status,
        satisfaction=satisfaction,
        verdicts=verdicts,
        decisions=decisions,
        yes=frozenset(str(v) for v in yes),
        values=values,
        ignore=frozenset(ignore),
        ranked=frozenset(ranked),
        path=path,
    )


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{where}缺少 {key}（文本），实际为：{value!r}")
    return value.strip()


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ProfileError(f"{where}的 [{key}] 应为表，实际为：{value!r}")
    return value


def _checked_map(data: dict[str, Any], key: str, allowed: tuple[str, ...], where: str) -> dict[str, str]:
    result = {}
    for raw, mapped in _table(data, key, where).items():
        if mapped not in allowed:
            raise ProfileError(f"{where}的 [{key}] 中「{raw}」对应的值「{mapped}」无效，可用：{'、'.join(allowed)}")
        result[str(raw)] = str(mapped)
    return result


_builtin: list[Profile] = []


def builtin_profiles() -> list[Profile]:
    """The profiles shipped with the tracker (12345, 城管诉件, nyc311)."""
    if not _builtin:
        _builtin.extend(load_profile(path) for path in sorted(HERE.glob("*.toml")))
    return list(_builtin)
