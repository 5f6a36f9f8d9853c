"""What the database can hold of a cell: NUL bytes never, and no more characters than the field's column.

The lengths are read from the table definitions (``tracker.models``), so a column widened there is
widened here. A cell the database would refuse becomes a row-level rejection before any query sees it.
"""

from __future__ import annotations

from functools import cache

from tracker.models import Order

# canonical field → the work_order column it is stored in (as rows.parse_row builds the order)
FIELD_COLUMNS = {
    "工单编号": "order_no",
    "诉求类型": "request_type",
    "紧急程度": "urgency",
    "问题分类": "category",
    "诉求内容": "content",
    "地址": "address",
    "所属街镇": "street",
    "承办单位": "handling_unit",
    "诉求人": "complainant",
    "联系电话": "phone",
    "满意度": "satisfaction",
    "重复工单号": "repeat_of",
    "联系结果": "contact_result",
    "未联原因": "contact_reason",
    "先行联系人": "contact_person",
    "延期理由": "extension_reason",
    "退单原因": "return_reason_code",
    "退单依据": "return_basis",
    "答复内容": "reply",
    "结案评判": "verdict",
    "答复方式": "reply_method",
}
SHOWN_CHARS = 40
NUL_SIGN = "\u2400"  # ␀, how a NUL byte is shown and stored in a report


@cache
def field_lengths() -> dict[str, int]:
    """The canonical fields whose column has a length, with that length (e.g. 工单编号: 64)."""
    lengths = {}
    for field, attribute in FIELD_COLUMNS.items():
        length = getattr(Order.__table__.c[attribute].type, "length", None)  # type: ignore[attr-defined]
        if length:
            lengths[field] = int(length)
    return lengths


def shown(value: str) -> str:
    """A value as a report shows (and the database can store) it: NUL as ␀, long text shortened with its length."""
    text = value.replace("\x00", NUL_SIGN)
    if len(text) > SHOWN_CHARS:
        return f"{text[:SHOWN_CHARS]}…（共 {len(value)} 字）"
    return text


NUL_REASON = (
    "单元格含有不可见的空字符（NUL，\\x00），数据库无法保存；本行未导入，其余行照常导入。请在原系统中删除后重新导出"
)


def too_long_reason(length: int, limit: int) -> str:
    """Why an over-long value is refused."""
    return f"长度 {length} 字，超过该字段上限 {limit} 字，数据库无法保存；本行未导入，其余行照常导入"
