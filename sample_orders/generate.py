"""Regenerate the sample exports (deterministic): `python -m sample_orders.generate`.

Writes a 12345-style XLSX (title row, 12345-prefixed headers, totals row, an unknown
column) and a 城管诉件 CSV in GB18030 (plain headers, slash dates), as of AS_OF, for
Jing'an's 14 streets and the usual 城管 categories. Every timeline obeys the lifecycle
rules, so the files import without errors; the tests check that.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook

from tracker.domain.calendar import WorkCalendar
from tracker.domain.deadlines import LOCAL_TZ, RuleTable, compute_due
from tracker.domain.vocabulary import Stage
from tracker.services.orders.calendar import package_arrangements

HERE = Path(__file__).parent
AS_OF = datetime(2026, 11, 20, 17, 0, tzinfo=LOCAL_TZ)
XLSX_NAME = "12345工单导出_2026-11-20.xlsx"
CSV_NAME = "城管诉件导出_2026-11-20.csv"

STREETS = (
    "静安寺街道",
    "曹家渡街道",
    "江宁路街道",
    "石门二路街道",
    "南京西路街道",
    "天目西路街道",
    "北站街道",
    "宝山路街道",
    "芷江西路街道",
    "共和新路街道",
    "大宁路街道",
    "彭浦新村街道",
    "临汾路街道",
    "彭浦镇",
)
ROADS = (
    "南京西路",
    "愚园路",
    "武定路",
    "康定路",
    "江宁路",
    "昌平路",
    "西康路",
    "大统路",
    "天目中路",
    "共和新路",
    "广中路",
    "临汾路",
    "平型关路",
    "场中路",
    "灵石路",
    "彭江路",
    "永和路",
    "万荣路",
)
CATEGORIES = {
    "油烟扰民": "楼下饭店油烟直排，开窗满屋油烟味，要求处理。",
    "噪声扰民": "夜间施工噪声扰民，晚上十点后仍在作业，影响休息。",
    "违法搭建": "小区内有住户在屋顶违法搭建，要求拆除。",
    "损坏房屋承重结构": "楼上装修敲墙，疑似破坏承重墙，存在安全隐患。",
    "群租": "某室群租，住了十多人，进出杂乱，要求整治。",
    "占道经营 / 无证设摊": "路口有流动摊贩占道经营，影响通行。",
    "跨门营业": "沿街商铺跨门营业，货物堆到人行道上。",
    "擅自占用道路堆物施工": "施工单位在人行道上堆放建材，行人无法通过。",
    "建筑垃圾": "装修建筑垃圾长期堆放在小区门口无人清运。",
    "渣土": "渣土车沿路抛洒，路面污染严重。",
    "工地扬尘": "工地未覆盖裸土，刮风时扬尘严重。",
    "户外广告 / 店招": "店招破损悬挂，存在坠落风险。",
    "乱张贴乱涂写": "楼道和电线杆上小广告乱张贴。",
    "暴露垃圾 / 垃圾分类": "垃圾箱房周边暴露垃圾，未按规定分类。",
    "毁绿占绿": "有人毁坏绿化种菜，要求恢复绿地。",
    "非机动车乱停放": "共享单车乱停放堵住小区出入口。",
}
REQUEST_TYPES = (("投诉举报", 60), ("求助", 15), ("咨询", 10), ("意见建议", 10), ("其他", 5))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈"
OFFICERS = ("张队员", "李队员", "王队员", "赵队员", "陈队员", "周队员")
REPLIES = {
    "实际解决": "经现场查看，反映情况属实，已责令当事人整改，复查时已整改到位。",
    "解释说明": "经现场查看，该问题涉及产权纠纷，已向市民解释说明相关政策及处理途径。",
    "未解决": "经现场查看，当事人拒不整改，已立案查处，后续将持续跟进。",
}
SATISFACTION = (("满意", 55), ("基本满意", 20), ("一般", 8), ("不满意", 7), ("未评价", 10))
RETURN_REASONS = (
    ("非本辖区", "经现场核实，该地址属于相邻街道管辖范围。"),
    ("非本部门职责", "反映问题属物业管理范畴，应由房管部门处理。"),
    ("重复件", "与此前工单反映同一问题，已在处理中。"),
)


@dataclass
class Row:
    """One order's columns, in the canonical names; renamed per layout on writing."""

    values: dict[str, object] = field(default_factory=dict)


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _work_time(rng: random.Random, day: date) -> datetime:
    minutes = rng.randint(8 * 60 + 30, 17 * 60 + 30)
    return datetime.combine(day, datetime.min.time(), LOCAL_TZ) + timedelta(minutes=minutes)


def _fmt(moment: datetime | None) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def build_rows(rng: random.Random, count: int, prefix: str, calendar: WorkCalendar) -> list[Row]:
    """``count`` orders with coherent timelines, newest last."""
    rules = RuleTable()
    rows: list[Row] = []
    for index in range(count):
        # spread over ~40 days, denser in the last week so there are open orders of every age
        age_days = rng.choice([rng.uniform(0, 7), rng.uniform(0, 40)])
        day = (AS_OF - timedelta(days=age_days)).date()
        dispatched = _work_time(rng, day)
        if dispatched > AS_OF - timedelta(minutes=20):
            dispatched = AS_OF - timedelta(minutes=rng.randint(20, 300))
        received = dispatched - timedelta(minutes=rng.randint(5, 90))
        request_type = _weighted(rng, REQUEST_TYPES)
        urgency = "紧急" if rng.random() < 0.08 else "普通"
        category = rng.choice(list(CATEGORIES))
        street = rng.choice(STREETS)
        v: dict[str, object] = {
            "工单编号": f"{prefix}{AS_OF:%Y%m}{index + 1:05d}",
            "受理时间": received,
            "派单时间": dispatched,
            "诉求类型": request_type,
            "问题分类": category,
            "紧急程度": urgency,
            "诉求内容": CATEGORIES[category],
            "地址": f"上海市静安区{rng.choice(ROADS)}{rng.randint(1, 1500)}号",
            "所属街镇": street,
            "承办单位": f"{street}综合行政执法队",
            "诉求人": rng.choice(SURNAMES) + rng.choice(("先生", "女士")),
            "联系电话": f"1{rng.choice('3456789')}{rng.randint(0, 999999999):09d}",
        }
        contact_rule = rules.match(Stage.FIRST_CONTACT, request_type=request_type, urgency=urgency)
        closure_rule = rules.match(Stage.CLOSURE, request_type=request_type, urgency=urgency)
        contact_due = compute_due(dispatched, contact_rule.amount, contact_rule.unit, calendar)
        closure_due = compute_due(dispatched, closure_rule.amount, closure_rule.unit, calendar)
        _timeline(rng, v, dispatched, contact_due, closure_due, calendar, rows)
        rows.append(Row(v))
    rows.sort(key=lambda r: r.values["派单时间"])  # type: ignore[arg-type, return-value]
    return rows


def _timeline(
    rng: random.Random,
    v: dict[str, object],
    dispatched: datetime,
    contact_due: datetime,
    closure_due: datetime,
    calendar: WorkCalendar,
    earlier: list[Row],
) -> None:
    """Fill the lifecycle columns; every time stays before AS_OF."""

    def before_now(moment: datetime) -> bool:
        return moment < AS_OF - timedelta(minutes=5)

    if rng.random() < 0.06 and earlier:
        v["是否重复"] = "是"
        v["重复工单号"] = rng.choice(earlier).values["工单编号"]
    else:
        v["是否重复"] = "否"
    # 待签收: a few fresh ones and a few forgotten ones
    if rng.random() < (0.3 if dispatched > AS_OF - timedelta(days=2) else 0.01):
        v["工单状态"] = "待签收"
        return
    signed = dispatched + timedelta(minutes=rng.randint(5, 180))
    if not before_now(signed):
        v["工单状态"] = "待签收"
        return
    v["签收时间"] = signed
    # first contact: mostly on time, some late, some never
    roll = rng.random()
    if roll < 0.8:
        contact = signed + timedelta(minutes=rng.randint(10, 240))
    elif roll < 0.9:
        contact = contact_due + timedelta(hours=rng.randint(2, 30))
    else:
        contact = None
    if contact is not None and before_now(contact):
        v["联系时间"] = contact
        v["先行联系人"] = rng.choice(OFFICERS)
        if rng.random() < 0.12:
            v["联系结果"] = "未联"
            v["未联原因"] = rng.choice(("始终关机", "始终未接"))
        else:
            v["联系结果"] = "已联"
    state = "处理中"
    scenario = rng.random()
    if scenario < 0.12:  # return
        asked = signed + timedelta(minutes=rng.randint(30, 300))
        if before_now(asked):
            contact_at = v.get("联系时间")
            if isinstance(contact_at, datetime) and contact_at > asked:  # no contact while a return is pending
                for key in ("联系时间", "先行联系人", "联系结果", "未联原因"):
                    v.pop(key, None)
            code, basis = rng.choice(RETURN_REASONS)
            v.update({"退单申请时间": asked, "退单原因": code, "退单依据": basis})
            decided = asked + timedelta(hours=rng.randint(2, 30))
            if before_now(decided) and rng.random() < 0.75:
                approve = rng.random() < 0.6
                v.update({"退单审核时间": decided, "退单审核结果": "批准" if approve else "驳回"})
                if approve:
                    v["工单状态"] = "已退单"
                    return
            else:
                v["工单状态"] = "退单中"
                return
    busy_until = v.get("退单审核时间", signed)  # nothing else happens while a return is under review
    assert isinstance(busy_until, datetime)
    # extension: asked early (the demo shifts dates by whole days, which moves weekends about)
    asked = busy_until + timedelta(hours=rng.randint(1, 4))
    if scenario > 0.85 and asked < closure_due - timedelta(days=3) and before_now(asked):
        limit = calendar.add_working_days(dispatched.astimezone(LOCAL_TZ).date(), 12)
        current = closure_due.astimezone(LOCAL_TZ).date()
        new_date = min(limit, calendar.add_working_days(current, rng.randint(3, 5)))
        if new_date > calendar.add_working_days(current, 2):
            v.update(
                {
                    "延期申请时间": asked,
                    "延期理由": "需协调多个部门联合执法，现场整改需要时间。",
                    "申请延期至": new_date.isoformat(),
                }
            )
            decided = asked + timedelta(hours=rng.randint(1, 20))
            if before_now(decided) and rng.random() < 0.7:
                approve = rng.random() < 0.8
                v.update({"延期审核时间": decided, "延期审核结果": "批准" if approve else "驳回"})
                if approve:
                    closure_due = datetime.combine(new_date, datetime.max.time(), LOCAL_TZ)
    if rng.random() < 0.05:
        supervised = busy_until + timedelta(hours=rng.randint(2, 48))
        if before_now(supervised):
            v.update({"督办时间": supervised, "督办事项": "市民多次来电，请加快处置并及时反馈。"})
    # closure: most on time, some late, the rest still open
    roll = rng.random()
    if roll < 0.75:
        closed = min(closure_due - timedelta(hours=1), signed + timedelta(hours=rng.randint(3, 90)))
    elif roll < 0.88:
        closed = closure_due + timedelta(hours=rng.randint(3, 60))
    elif closure_due > AS_OF - timedelta(days=4) or rng.random() < 0.15:
        closed = None  # still open: recent ones, and a few long overdue
    else:
        closed = closure_due + timedelta(hours=rng.randint(3, 60))
    start = max(
        t
        for t in (
            signed,
            v.get("联系时间"),
            v.get("退单审核时间"),
            v.get("延期申请时间"),
            v.get("延期审核时间"),
            v.get("督办时间"),
        )
        if isinstance(t, datetime)
    )
    if closed is not None and closed <= start + timedelta(minutes=10):
        closed = start + timedelta(hours=rng.randint(1, 30))
    if closed is not None and before_now(closed):
        verdict = rng.choices(list(REPLIES), weights=(60, 32, 8))[0]
        v.update(
            {
                "办结时间": closed,
                "答复内容": REPLIES[verdict],
                "结案评判": verdict,
                "答复方式": rng.choice(("电话", "电话", "书面", "约谈")),
                "满意度": _weighted(rng, SATISFACTION),
            }
        )
        state = "已办结"
        if v["满意度"] == "不满意" and rng.random() < 0.7:
            redo = closed + timedelta(hours=rng.randint(20, 70))
            if before_now(redo):
                v.update({"重办时间": redo, "重办原因": "回访不满意，市民反映问题未解决。"})
                state = "处理中"
    v["工单状态"] = state


XLSX_HEADERS = {  # canonical → header in the 12345 layout
    "工单编号": "12345工单编号",
    "受理时间": "12345受理时间",
    "派单时间": "派单时间",
    "诉求类型": "12345工单类型",
    "问题分类": "二级分类",
    "紧急程度": "紧急程度",
    "诉求内容": "12345内容描述",
    "地址": "12345诉求地址",
    "所属街镇": "街道",
    "承办单位": "主办单位",
    "诉求人": "反映人",
    "联系电话": "市民移动电话",
    "工单状态": "工单状态",
    "签收时间": "签收时间",
    "联系时间": "先行联系时间",
    "联系结果": "先行联系",
    "未联原因": "未联原因",
    "先行联系人": "先行联系人",
    "延期申请时间": "延期申请时间",
    "延期理由": "延期理由",
    "申请延期至": "申请延期至",
    "延期审核结果": "延期审核结果",
    "延期审核时间": "延期审核时间",
    "退单申请时间": "退单申请时间",
    "退单原因": "退单原因",
    "退单依据": "退单依据",
    "退单审核结果": "退单审核结果",
    "退单审核时间": "退单审核时间",
    "督办时间": "督办时间",
    "督办事项": "督办事项",
    "办结时间": "办结时间",
    "答复内容": "答复市民要点",
    "结案评判": "解决情况",
    "答复方式": "答复方式",
    "满意度": "回访总体满意度",
    "重办时间": "重办时间",
    "重办原因": "重办原因",
    "是否重复": "12345工单是否重复",
    "重复工单号": "12345重复工单号",
}
CSV_HEADERS = {canonical: canonical for canonical in XLSX_HEADERS}


def write_xlsx(rows: list[Row], path: Path) -> None:
    """12345 layout: title row, prefixed headers, real date cells, an unknown column, totals row."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "工单明细"
    first = min(r.values["派单时间"] for r in rows)  # type: ignore[type-var]
    sheet.append([f"静安区 12345 市民服务热线工单导出（派单时间 {first:%Y-%m-%d} 至 {AS_OF:%Y-%m-%d}）"])
    sheet.append([*XLSX_HEADERS.values(), "坐席工号"])
    for number, row in enumerate(rows):
        cells: list[object] = []
        for canonical in XLSX_HEADERS:
            value = row.values.get(canonical, "")
            cells.append(value.astimezone(LOCAL_TZ).replace(tzinfo=None) if isinstance(value, datetime) else value)
        cells.append(f"{number % 37:04d}")
        sheet.append(cells)
    sheet.append([f"合计：{len(rows)} 件"])
    book.save(path)


def write_csv(rows: list[Row], path: Path) -> None:
    """城管诉件 layout: plain headers, slash dates, GB18030."""
    with path.open("w", encoding="gb18030", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADERS.values())
        for row in rows:
            out = []
            for canonical in CSV_HEADERS:
                value = row.values.get(canonical, "")
                out.append(
                    value.astimezone(LOCAL_TZ).strftime("%Y/%m/%d %H:%M") if isinstance(value, datetime) else value
                )
            writer.writerow(out)


def main() -> None:
    """Write both sample files next to this script."""
    calendar = WorkCalendar.from_arrangements(package_arrangements())
    rng = random.Random(20261120)
    write_xlsx(build_rows(rng, 220, "SH", calendar), HERE / XLSX_NAME)
    write_csv(build_rows(rng, 90, "CG", calendar), HERE / CSV_NAME)
    print(f"wrote {XLSX_NAME} and {CSV_NAME} as of {_fmt(AS_OF)}")


# ---- dirty exports: each exercises what real exports do to importers (tests assert their reports) ----

DIRTY_HEADER = [
    "12345工单编号",
    "12345受理时间",
    "派单时间",
    "12345工单类型",
    "二级分类",
    "12345诉求地址",
    "街道",
    "工单状态",
    "签收时间",
    "办结时间",
    "答复市民要点",
    "解决情况",
    "市民移动电话",
    "备注",
]


def write_dirty_xlsx(path: Path) -> None:
    """Title merged across, Excel serial dates, a street merged down, repeated header, blanks, bad rows, totals."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "导出"
    sheet.append(["静安区 12345 工单导出（含合并单元格与序列号日期）"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(DIRTY_HEADER))
    sheet.append(DIRTY_HEADER)
    serial = 46345.375  # 2026-11-19 09:00 as an Excel serial number
    rows = [
        [
            "SH20261119001",
            serial,
            serial + 0.01,
            "投诉举报",
            "油烟扰民",
            "武定路100号",
            "江宁路街道",
            "处理中",
            serial + 0.02,
            None,
            None,
            None,
            "13812345678",
            "合并单元格首行",
        ],
        [
            "SH20261119002",
            serial,
            serial + 0.01,
            "求助",
            "噪声扰民",
            "康定路200号",
            None,
            "待签收",
            None,
            None,
            None,
            None,
            "13912345678",
            "街道由上一行合并而来",
        ],
        [
            "SH20261119003",
            serial,
            serial + 0.01,
            "咨询",
            "群租",
            "昌平路300号",
            None,
            "已办结",
            serial + 0.02,
            serial + 0.5,
            "已解释政策",
            "解释说明",
            "13712345678",
            "街道由合并单元格填入",
        ],
        DIRTY_HEADER,  # the header repeated (page break in the export)
        [None] * len(DIRTY_HEADER),
        [
            "SH20261119004",
            "2026-11-19 09:00",
            "2026-11-19 09:10",
            "投诉举报",
            "违法搭建",
            "西康路400号",
            "静安寺街道",
            "已办结",
            "2026-11-19 09:30",
            "2026-11-19 16:00",
            None,
            "实际解决",
            "13612345678",
            "见附件",
        ],
        [
            "SH20261119005",
            "not a date",
            "2026-11-19 09:10",
            "投诉举报",
            "渣土",
            "大统路500号",
            "北站街道",
            "待签收",
            None,
            None,
            None,
            None,
            "13512345678",
            "受理时间写坏了",
        ],
        [
            "SH20261119006",
            serial,
            serial + 0.01,
            "投诉举报",
            "渣土",
            "大统路600号",
            "北站街道",
            "处理中",
            serial + 0.02,
            None,
            None,
            "已搞定",
            "13412345678",
            "办结评判写错",
        ],
    ]
    for row in rows:
        sheet.append(row)
    sheet.merge_cells("G3:G5")  # 江宁路街道 spans the first three data rows
    sheet.append(["合计", 6])
    book.save(path)


def write_dirty_csv(path: Path) -> None:
    """GB18030, title row, plain headers, Chinese and compact dates, full-width digits, repeated header, totals."""
    header = [
        "工单编号",
        "受理时间",
        "派单时间",
        "诉求类型",
        "问题分类",
        "地址",
        "所属街镇",
        "工单状态",
        "签收时间",
        "联系时间",
        "联系结果",
        "未联原因",
        "办结时间",
        "答复内容",
        "结案评判",
        "联系电话",
    ]
    rows = [
        ["城管诉件导出（2026年11月19日）"],
        header,
        [
            "CG20261119001",
            "2026年11月19日 09时00分",
            "2026年11月19日 09时10分",
            "投诉举报",
            "占道经营 / 无证设摊",
            "共和新路 1 号",
            "共和新路街道",
            "处理中",
            "20261119093000",
            "２０２６-１１-１９ １０:００",
            "已联",
            "",
            "",
            "",
            "",
            "01012345678",
        ],
        [
            "CG20261119002",
            "2026/11/19 09:00",
            "2026/11/19 09:10",
            "求助",
            "暴露垃圾 / 垃圾分类",
            "灵石路 2 号",
            "大宁路街道",
            "处理中",
            "2026/11/19 09:20",
            "2026/11/19 11:00",
            "未联",
            "始终关机",
            "",
            "",
            "",
            "13800000002",
        ],
        [],
        header,
        [
            "CG20261119003",
            "2026/11/19 09:00",
            "2026/11/19 09:10",
            "投诉举报",
            "噪声扰民",
            "场中路 3 号",
            "彭浦镇",
            "已办结",
            "2026/11/19 09:20",
            "2026/11/19 10:00",
            "已联",
            "",
            "2026/11/19 15:00",
            "已责令停止夜间施工",
            "实际解决",
            "13800000003",
        ],
        [
            "CG20261119004",
            "2026/11/19 09:00",
            "2026/11/19 09:10",
            "投诉举报",
            "噪声扰民",
            "场中路 4 号",
            "彭浦镇",
            "处理中",
            "2026/11/19 09:20",
            "2026/11/19 10:00",
            "未联",
            "",
            "",
            "",
            "",
            "13800000004",
        ],
        [
            "CG20261119005",
            "2026/11/19 09:00",
            "2026/11/19 09:10",
            "投诉举报",
            "噪声扰民",
            "场中路 5 号",
            "彭浦镇",
            "待签收",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "13800000005",
        ],
        [
            "CG20261119005",
            "2026/11/19 09:00",
            "2026/11/19 09:10",
            "投诉举报",
            "噪声扰民",
            "场中路 5 号",
            "彭浦镇",
            "待签收",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "13800000005",
        ],
        ["总计：6 件"],
    ]
    with path.open("w", encoding="gb18030", newline="") as handle:
        csv.writer(handle).writerows(rows)


def write_broken(folder: Path) -> None:
    """Files the importer must refuse whole."""
    folder.mkdir(exist_ok=True)
    (folder / "不是表格.xlsx").write_text("这是一个改了扩展名的文本文件", encoding="utf-8")
    (folder / "缺少工单编号.csv").write_text(
        "派单时间,诉求类型,所属街镇,工单状态\n2026-11-19 09:00,求助,北站街道,待签收\n", encoding="utf-8"
    )


def main_dirty() -> None:
    """Write the dirty and broken samples under sample_orders/dirty/."""
    folder = HERE / "dirty"
    folder.mkdir(exist_ok=True)
    write_dirty_xlsx(folder / "12345_合并单元格_序列号日期.xlsx")
    write_dirty_csv(folder / "城管诉件_GB18030_杂乱.csv")
    write_broken(folder / "broken")
    print("wrote sample_orders/dirty/")


if __name__ == "__main__":
    main()
    main_dirty()
