"""CSV export benchmark (issue 19 item 3): the cost of the CSV beside an XLSX export.

Two CSV paths: the orders export writes its CSV straight from the cells the workbook is written from
(``domain.spreadsheets.rows_to_csv``); the smaller exports read back the very workbook the XLSX route builds
(``tracker.web.csv_download.workbook_csv``). Reference, measured in the same run: building that workbook (openpyxl
write-only, ``services.orders.sheets_xlsx``) for ``--rows`` order-like rows of 20 cells. Figures: milliseconds
(best of ``--repeat``), each CSV path's ratio to the reference, the sizes. The last line printed is one JSON object.

``make bench-csv`` (BENCH_CSV_ROWS rows, default 20,000).
"""

from __future__ import annotations

import argparse
import json
import os
import platform

from benchmarks import best
from tracker.domain.spreadsheets import rows_to_csv
from tracker.services.orders import sheets_xlsx
from tracker.web.csv_download import workbook_csv

COLUMNS = 20


def cells(rows: int) -> list[list[object]]:
    """An order-like sheet: a header and ``rows`` rows of short Chinese text, a masked phone and times."""
    sheet: list[list[object]] = [[f"列{i}" for i in range(COLUMNS)]]
    for n in range(rows):
        sheet.append(
            [f"SH2026{n:07d}", "12345", "静安寺街道", "噪声扰民", f"南京西路{n % 900}号", "张**", "138****5678"]
            + ["2026-11-20 09:00", "处理中", 1]
            + [f"诉求内容第{n}件，夜间施工噪声" for _ in range(COLUMNS - 10)]
        )
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_CSV_ROWS", "20000")))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sheet = cells(args.rows)
    xlsx_ms, xlsx = best(lambda: sheets_xlsx({"工单": sheet}), args.repeat)
    direct_ms, direct = best(lambda: rows_to_csv(sheet), args.repeat)
    csv_ms, content = best(lambda: workbook_csv(xlsx, "工单"), args.repeat)
    assert content == direct and content.startswith(b"\xef\xbb\xbf") and content.count(b"\r\n") == args.rows + 1
    print(f"XLSX 生成（参照）：{xlsx_ms:.0f} ms，{len(xlsx) / 1e6:.1f} MB")
    print(f"CSV 直接由单元格写出（工单导出）：{direct_ms:.0f} ms，为参照的 {direct_ms / xlsx_ms:.2f} 倍")
    size = len(content) / 1e6
    print(f"CSV 读回同一工作簿再写出（其他导出）：{csv_ms:.0f} ms，{size:.1f} MB，为参照的 {csv_ms / xlsx_ms:.2f} 倍")
    print(
        json.dumps(
            {
                "benchmark": "csv_export",
                "rows": args.rows,
                "xlsx_ms": round(xlsx_ms),
                "direct_csv_ms": round(direct_ms),
                "direct_csv_over_xlsx": round(direct_ms / xlsx_ms, 2),
                "readback_csv_ms": round(csv_ms),
                "readback_csv_over_xlsx": round(csv_ms / xlsx_ms, 2),
                "xlsx_bytes": len(xlsx),
                "csv_bytes": len(content),
                "cpus": os.cpu_count(),
                "machine": platform.processor() or platform.machine(),
                "python": platform.python_version(),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
