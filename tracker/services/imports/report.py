"""The import report: counts, and for every rejected or conflicting row its row, column, value and reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from openpyxl import Workbook

from tracker.domain.spreadsheets import formula_safe
from tracker.services.imports.rows import RowError


@dataclass
class ImportReport:
    """What importing one file did."""

    file: str
    sha256: str = ""
    profile: str = ""
    source: str = ""
    batch: str = ""
    already_imported: str = ""  # the earlier batch, when the same file was imported before
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    conflicts: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        if self.already_imported:
            return f"{self.file}：该文件已于批次 {self.already_imported} 导入过，本次未做任何改动"
        return (
            f"{self.file}（{self.profile}，来源 {self.source}）：读取 {self.rows_read} 行，新建 {self.created} 件，"
            f"更新 {self.updated} 件，未变 {self.unchanged} 件，拒绝 {len(self.rejected)} 行，"
            f"冲突 {len(self.conflicts)} 行，跳过非数据行 {len(self.skipped)} 行"
        )

    def as_json(self) -> dict[str, Any]:
        """The machine-readable report (keys stable for scripts)."""
        return {
            "file": self.file,
            "sha256": self.sha256,
            "profile": self.profile,
            "source": self.source,
            "batch": self.batch,
            "already_imported": self.already_imported or None,
            "rows_read": self.rows_read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
            "conflicts": len(self.conflicts),
            "errors": [e.as_dict() for e in self.rejected],
            "conflict_rows": [e.as_dict() for e in self.conflicts],
            "warnings": [e.as_dict() for e in self.warnings],
            "skipped": [{"row": row, "reason": why} for row, why in self.skipped],
        }

    def to_xlsx(self) -> bytes:
        """The report as a workbook (see :func:`reports_to_xlsx`)."""
        return reports_to_xlsx([self])


def reports_to_xlsx(reports: list[ImportReport]) -> bytes:
    """A summary sheet (one column per file) and one detail row per rejected, conflicting, noted or skipped row."""
    book = Workbook(write_only=True)
    for title, rows in report_sheets(reports).items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def report_sheets(reports: list[ImportReport]) -> dict[str, list[list[object]]]:
    """The cells of :func:`reports_to_xlsx` (formula-safe), sheet by sheet (汇总, 明细); the CSV uses them."""
    summary: list[list[object]] = []
    labels = (
        "文件",
        "SHA-256",
        "导入配置",
        "来源",
        "批次",
        "读取行数",
        "新建",
        "更新",
        "未变",
        "拒绝",
        "冲突",
        "跳过的非数据行",
    )
    for index, label in enumerate(labels):
        values = [
            (
                r.file,
                r.sha256,
                r.profile,
                r.source,
                r.batch,
                r.rows_read,
                r.created,
                r.updated,
                r.unchanged,
                len(r.rejected),
                len(r.conflicts),
                len(r.skipped),
            )[index]
            for r in reports
        ]
        summary.append([label, *(formula_safe(v) for v in values)])
    details: list[list[object]] = []
    details.append(["文件", "类别", "行号", "工单编号", "列", "值", "原因"])
    for report in reports:
        name = formula_safe(report.file)
        for kind, issues in (("拒绝", report.rejected), ("冲突", report.conflicts), ("提示", report.warnings)):
            for issue in issues:
                details.append(
                    [
                        name,
                        kind,
                        issue.row,
                        formula_safe(issue.order_no),
                        formula_safe(issue.column),
                        formula_safe(issue.value),
                        formula_safe(issue.reason),
                    ]
                )
        for row, why in report.skipped:
            details.append([name, "跳过", row, "", "", "", formula_safe(why)])
    return {"汇总": summary, "明细": details}
