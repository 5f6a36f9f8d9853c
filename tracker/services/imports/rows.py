"""Validate at the edge: one export row becomes a checked record, or a row error naming row, column, value."""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

from tracker.domain.errors import TrackerError
from tracker.domain.labels import format_local
from tracker.domain.lifecycle import ActionInput
from tracker.domain.vocabulary import Action, State
from tracker.services.imports.profiles import Profile
from tracker.services.imports.reader import ExportFile, SheetRow, parse_datetime
from tracker.services.orders import NewOrder

Shift = Callable[[datetime], datetime]

CONSUMED_FIELDS = frozenset(
    {
        "工单编号",
        "受理时间",
        "派单时间",
        "诉求类型",
        "问题分类",
        "紧急程度",
        "诉求内容",
        "地址",
        "所属街镇",
        "承办单位",
        "诉求人",
        "联系电话",
        "满意度",
        "是否重复",
        "重复工单号",
        "工单状态",
        "签收时间",
        "联系时间",
        "联系结果",
        "未联原因",
        "先行联系人",
        "延期申请时间",
        "延期理由",
        "申请延期至",
        "延期审核结果",
        "延期审核时间",
        "退单申请时间",
        "退单原因",
        "退单依据",
        "退单审核结果",
        "退单审核时间",
        "办结时间",
        "答复内容",
        "结案评判",
        "答复方式",
        "重办时间",
        "重办原因",
        "督办时间",
        "督办事项",
        "处理时限",
    }
)


@dataclass(frozen=True)
class RowError:
    """A row that was not imported, or conflicts with the tracker: where, which column, which value, why."""

    row: int | None
    column: str
    value: str
    reason: str
    order_no: str = ""

    def __str__(self) -> str:
        where = f"第 {self.row} 行，" if self.row else ""
        return f"{where}字段「{self.column}」，值「{self.value}」：{self.reason}"

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of the report's errors."""
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "reason": self.reason,
            "order_no": self.order_no,
        }


class RowProblem(Exception):
    """Raised while parsing or applying a row; carries the row error."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Step:
    """One lifecycle step the row records, at its own time."""

    at: datetime
    action: Action
    data: ActionInput
    column: str
    value: str


@dataclass(frozen=True)
class ParsedRow:
    """A checked export row."""

    number: int
    order_no: str
    order: NewOrder
    status: State | None
    steps: list[Step]
    closes_at_import: bool  # closed in the export, with no 办结时间 to say when
    digest: str
    raw: dict[str, str] = field(default_factory=dict)  # the row's cells by field, as the file has them
    warnings: list[RowError] = field(default_factory=list)
    line_hash: str | None = None  # the line digest of the row's CSV line; None for a spreadsheet row


_NAME_ORDER: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}  # field names → (sorted, with separators)


def row_digest(row: SheetRow) -> str:
    """A digest of everything the row says, field by field in name order; equal digests mean nothing changed.

    A file's rows share their field names, so the sorted order is worked out once per set of names.
    """
    values = {**row.fields, **row.extras} if row.extras else row.fields
    names = tuple(values)
    known = _NAME_ORDER.get(names)
    if known is None:
        if len(_NAME_ORDER) > 4096:  # rows with scattered extra cells: keep the memo small
            _NAME_ORDER.clear()
        order = sorted(names)
        known = _NAME_ORDER[names] = (order, [name + "\x1e" for name in order])
    order, labels = known
    return _digest(labels, map(values.__getitem__, order))


def _digest(labels: Iterable[str], values: Iterable[str]) -> str:
    """The digest of labelled values: ``name\x1evalue`` joined by ``\x1f``, BLAKE2b, 16 bytes."""
    text = "\x1f".join(map(operator.add, labels, values))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def line_digester(key: bytes) -> Callable[[bytes], str]:
    """The digest of a CSV row's line as the file holds it, for a file whose layout is ``key`` (``line_key``).

    Equal line digests mean equal bytes under the same encoding, header and column mapping, and so
    the same :func:`row_digest`: an unchanged row of a re-exported CSV is recognised without being
    parsed (BLAKE2b, 16 bytes, the layout as its personalisation).
    """
    blake2b = hashlib.blake2b

    def digest(line: bytes) -> str:
        return blake2b(line, digest_size=16, person=key).hexdigest()

    return digest


def line_digests(key: bytes, lines: Iterable[bytes]) -> list[str]:
    """:func:`line_digester`'s digest of each line, in one pass (a chunk of a file: no call per line)."""
    blake2b = hashlib.blake2b
    return [blake2b(line, digest_size=16, person=key).hexdigest() for line in lines]


class CellDigest:
    """:func:`row_digest` of a file's rows straight from their cells, without naming them first.

    For the usual row (every field's cell present, no other cell filled) the digest text is the
    field cells in name order; any other row is named and digested as :func:`row_digest` does, so
    both give the same digest for every row (a test holds them to it).
    """

    def __init__(self, export: ExportFile) -> None:
        self.export = export
        by_name = sorted(export.columns, key=lambda column: column[1])
        self.labels = [canonical + "\x1e" for _, canonical in by_name]
        self.pick = operator.itemgetter(*[i for i, _ in by_name]) if len(by_name) > 1 else None
        self.needed = max((i for i, _ in export.columns), default=-1) + 1
        self.width = len(export.header)
        self.extra = [i for i in export.extras if i < self.width]

    def __call__(self, index: int, cells: list[str]) -> str:
        if self.pick is None or len(cells) < self.needed or self._has_extras(cells):
            return row_digest(self.export.sheet_row(index, cells))
        return _digest(self.labels, self.pick(cells))

    def _has_extras(self, cells: list[str]) -> bool:
        if len(cells) > self.width and any(cells[self.width :]):
            return True
        return any(cells[i] for i in self.extra if i < len(cells))


EARLIEST_YEAR = 2000  # no 12345 order of this bureau is older; 1899 or 1900 is an empty Excel date
FUTURE_LIMIT = timedelta(days=365)  # a deadline or a requested date at most a year ahead
RECORDED_TOLERANCE = timedelta(days=1)  # a recorded step at most this far past the import's clock
FORWARD_FIELDS = frozenset({"处理时限", "申请延期至"})  # dates that lie ahead by nature


@dataclass(frozen=True)
class RowChecks:
    """What a row is checked against besides its own cells: the district's streets and the clock.

    ``streets``: the street list (管理 → 街镇与执法队); empty while none is configured, then any street
    is taken as written. ``now``: the import's time; None skips the checks against the clock.
    ``serials``: whether a bare number may be an Excel date serial (only a workbook's cells).
    """

    streets: frozenset[str] = frozenset()
    now: datetime | None = None
    serials: bool = True


@lru_cache(maxsize=1 << 16)
def _utc_moment(text: str, tz: tzinfo, formats: tuple[str, ...], serials: bool = True) -> datetime | None:
    """A time cell in UTC (an export's times repeat: each distinct text is read once)."""
    moment = parse_datetime(text, tz=tz, formats=formats, serials=serials)
    return None if moment is None else moment.astimezone(UTC)


def implausible(column: str, moment: datetime, now: datetime | None) -> str | None:
    """Why a time read from an export cannot be true (too old, too far ahead), or None."""
    if moment.astimezone(UTC).year < EARLIEST_YEAR:
        return f"日期 {format_local(moment)} 早于 {EARLIEST_YEAR} 年，不是可信的时间（常见于空日期被读成 1899/1900 年）"
    if now is None:
        return None
    if column in FORWARD_FIELDS:
        if moment > now + FUTURE_LIMIT:
            return f"日期 {format_local(moment)} 比导入时间 {format_local(now)} 晚一年以上，不是可信的期限"
    elif moment > now + RECORDED_TOLERANCE:
        return f"记录的时间 {format_local(moment)} 晚于导入时间 {format_local(now)}：尚未发生的环节不能导入"
    return None


def parse_row(
    row: SheetRow,
    profile: Profile,
    *,
    source: str,
    shift: Shift | None = None,
    digest: str | None = None,
    line_hash: str | None = None,
    checks: RowChecks = RowChecks(),
) -> ParsedRow:
    """Check and convert one row; raises :class:`RowProblem` for the first bad cell."""
    fields = {name: profile.map_value(name, value) for name, value in row.fields.items()}
    order_no = fields.get("工单编号", "")

    def problem(column: str, reason: str) -> RowProblem:
        return RowProblem(RowError(row.number, column, fields.get(column, ""), reason, order_no))

    def when(column: str) -> datetime | None:
        try:
            moment = _utc_moment(fields.get(column, ""), profile.timezone, profile.date_formats, checks.serials)
        except ValueError as exc:
            raise problem(column, str(exc)) from None
        if moment is None:
            return None
        if shift is not None:
            try:
                moment = shift(moment)
            except TrackerError as exc:  # e.g. the demo's working-day shift needs an unloaded year
                raise problem(column, exc.message) from None
        why = implausible(column, moment, checks.now)
        if why is not None:
            raise problem(column, why + "；本行未导入")
        return moment

    if not order_no:
        raise problem("工单编号", "工单编号为空")
    if checks.streets:
        _check_street(fields, checks.streets, problem)
    dispatched = when("派单时间") or when("受理时间")
    if dispatched is None:
        raise problem("派单时间", "派单时间与受理时间均为空，无法起算期限")
    status: State | None = None
    status_text = fields.get("工单状态", "")
    if "工单状态" in fields:
        if not status_text:
            raise problem("工单状态", "工单状态为空")
        status = profile.status.get(status_text)
        if status is None:
            raise problem("工单状态", f"无法识别的工单状态，可识别：{'、'.join(profile.status)}")
    satisfaction = fields.get("满意度", "")
    if satisfaction:
        mapped = profile.satisfaction.get(satisfaction)
        if mapped is None:
            raise problem("满意度", f"无法识别的满意度，可识别：{'、'.join(profile.satisfaction)}")
        satisfaction = mapped
    verdict = fields.get("结案评判", "")
    if verdict:
        mapped = profile.verdicts.get(verdict)
        if mapped is None:
            raise problem("结案评判", f"无法识别的结案评判，可识别：{'、'.join(profile.verdicts)}")
        verdict = mapped
    extras: dict[str, object] = {k: v for k, v in fields.items() if k not in CONSUMED_FIELDS and v}
    extras.update(row.extras)
    order = NewOrder(
        source=source,
        order_no=order_no,
        dispatched_at=dispatched,
        received_at=when("受理时间"),
        request_type=fields.get("诉求类型") or None,
        urgency=fields.get("紧急程度") or None,
        category=fields.get("问题分类") or None,
        content=fields.get("诉求内容") or None,
        address=fields.get("地址") or None,
        street=fields.get("所属街镇") or None,
        handling_unit=fields.get("承办单位") or None,
        complainant=fields.get("诉求人") or None,
        phone=fields.get("联系电话") or None,
        satisfaction=satisfaction or None,
        is_repeat=fields.get("是否重复", "") in profile.yes,
        repeat_of=fields.get("重复工单号") or None,
        platform_due_at=when("处理时限"),
        extras=extras,
    )
    steps = _steps(fields, when, problem, profile, verdict)
    dispatch_column = "派单时间" if fields.get("派单时间") else "受理时间"
    for column, moment in [(s.column, s.at) for s in steps] + [("处理时限", order.platform_due_at)]:
        if moment is not None and moment < dispatched:
            raise problem(
                column,
                f"{column} {format_local(moment)} 早于{dispatch_column} {format_local(dispatched)}："
                "任何环节都不能早于派单；本行未导入",
            )
    warnings: list[RowError] = []
    closing = [s for s in steps if s.action is Action.PLATFORM_CLOSE]
    reopened = closing and any(s.action is Action.REDO and s.at > closing[-1].at for s in steps)
    if status is not None and status is not State.CLOSED and closing and not reopened:
        # the status column is the platform's word on the state; a stray 办结时间 does not close
        steps = [s for s in steps if s.action is not Action.PLATFORM_CLOSE]
        warnings.append(
            RowError(
                row.number,
                "办结时间",
                closing[0].value,
                f"工单状态为「{status_text}」，却有办结时间；以工单状态为准，未办结",
                order_no,
            )
        )
    closes_at_import = status is State.CLOSED and not closing
    if closes_at_import:
        warnings.append(
            RowError(
                row.number,
                "办结时间",
                "",
                "工单状态为已办结，但导出没有办结时间：办结时间按导出中最近的已知时间推定，是否按时无法判定",
                order_no,
            )
        )
    return ParsedRow(
        row.number,
        order_no,
        order,
        status,
        steps,
        closes_at_import,
        digest or row_digest(row),
        dict(fields),
        warnings,
        line_hash,
    )


def _check_street(fields: dict[str, str], streets: frozenset[str], problem: Callable[[str, str], RowProblem]) -> None:
    """Every order belongs to a street's squad: an empty or unknown 所属街镇 refuses the row."""
    street = fields.get("所属街镇", "")
    if street in streets:
        return
    if "所属街镇" not in fields:
        reason = "文件没有「所属街镇」列：无法确定由哪个街镇的执法队办理，本行未导入"
    elif not street:
        reason = "所属街镇为空：无法确定由哪个街镇的执法队办理，本行未导入；请在原系统补全后重新导入"
    else:
        reason = (
            "不在本区街镇名单中（管理 → 街镇与执法队）：无法确定由哪个执法队办理，本行未导入；"
            "请核对街镇名称，或先在名单中添加该街镇"
        )
    raise problem("所属街镇", reason)


def _steps(
    fields: dict[str, str],
    when: Callable[[str], datetime | None],
    problem: Callable[[str, str], RowProblem],
    profile: Profile,
    verdict: str,
) -> list[Step]:
    """The row's recorded lifecycle steps, in time order."""
    steps: list[Step] = []

    def add(column: str, action: Action, data: ActionInput) -> None:
        moment = when(column)
        if moment is not None:
            steps.append(Step(moment, action, data, column, fields.get(column, "")))

    def decision(column: str, approve: Action, reject: Action) -> Action:
        result = profile.decisions.get(fields.get(column, ""))
        if result is None:
            raise problem(column, f"审核结果应为 {'、'.join(profile.decisions) or '批准 / 驳回'} 之一")
        return approve if result == "approve" else reject

    add("签收时间", Action.SIGN, ActionInput())
    contact_at = when("联系时间")
    add(
        "联系时间",
        Action.FIRST_CONTACT,
        ActionInput(
            contact_at=contact_at,
            contact_result=fields.get("联系结果", ""),
            contact_reason=fields.get("未联原因", ""),
            contact_person=fields.get("先行联系人", ""),
        ),
    )
    new_due = when("申请延期至")
    add(
        "延期申请时间",
        Action.REQUEST_EXTENSION,
        ActionInput(
            reason=fields.get("延期理由", ""),
            new_due_date=new_due.astimezone(profile.timezone).date() if new_due else None,
        ),
    )
    if fields.get("延期审核时间"):
        add(
            "延期审核时间",
            decision("延期审核结果", Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION),
            ActionInput(reason=f"平台审核结果：{fields.get('延期审核结果', '')}"),
        )
    add(
        "退单申请时间",
        Action.REQUEST_RETURN,
        ActionInput(reason_code=fields.get("退单原因", ""), basis=fields.get("退单依据", "")),
    )
    if fields.get("退单审核时间"):
        add(
            "退单审核时间",
            decision("退单审核结果", Action.APPROVE_RETURN, Action.REJECT_RETURN),
            ActionInput(reason=f"平台审核结果：{fields.get('退单审核结果', '')}"),
        )
    add("督办时间", Action.SUPERVISE, ActionInput(reason=fields.get("督办事项", "") or "平台督办"))
    add(
        "办结时间",
        Action.PLATFORM_CLOSE,
        ActionInput(reply=fields.get("答复内容", ""), verdict=verdict, reply_method=fields.get("答复方式", "")),
    )
    add("重办时间", Action.REDO, ActionInput(reason=fields.get("重办原因", "") or "平台重办"))
    return sorted(steps, key=lambda step: step.at)
