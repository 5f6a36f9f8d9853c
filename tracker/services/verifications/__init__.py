"""Verifications (热线通报核查): the 12345 centre's 通报 imported, the 核查 of each named order with its
deadline, the squad's answer and the supervisor's decision, the reply to the centre, and their numbers.

Owns the tables ``hotline_notice``, ``notice_check`` and ``notice_check_event``. A 通报 file is read with the
order import's reader and limits (``layout`` maps its headers; ``importing`` stores its lines); ``audit``
writes one row per step; ``answers`` holds the squad's answer, the bureau's decision and the scope; ``alerting``
puts the deadlines into the scan and the digest; ``reply`` writes the reply to the centre;
``numbers`` counts them and ``snapshot`` stores the counts each night. A 重办 started from
an accepted 核查 goes through the orders service's one door.
May import: ``imports``, ``orders``, ``accounts``, ``tracker.domain``, ``tracker.models``, ``tracker.db``.
"""

from tracker.services.verifications.alerting import CheckScanResult, check_level, digest_lines, scan_checks
from tracker.services.verifications.answers import (
    Answer,
    CheckRefused,
    CheckView,
    accept_check,
    answer_check,
    order_checks,
    return_check,
    visible_check,
)
from tracker.services.verifications.audit import check_events
from tracker.services.verifications.importing import NoticeFileError, NoticeImportReport, RowError, import_notice
from tracker.services.verifications.layout import LayoutError, NoticeLayout, load_layout
from tracker.services.verifications.numbers import DATE_BASIS, CheckNumbers, check_numbers
from tracker.services.verifications.reply import NoticeLine, notice_list, reply_xlsx
from tracker.services.verifications.snapshot import CHECK_METRICS, snapshot_check_day

__all__ = [
    "CHECK_METRICS",
    "DATE_BASIS",
    "Answer",
    "CheckNumbers",
    "CheckRefused",
    "CheckScanResult",
    "CheckView",
    "LayoutError",
    "NoticeFileError",
    "NoticeImportReport",
    "NoticeLayout",
    "NoticeLine",
    "RowError",
    "accept_check",
    "answer_check",
    "check_events",
    "check_level",
    "check_numbers",
    "digest_lines",
    "import_notice",
    "load_layout",
    "notice_list",
    "order_checks",
    "reply_xlsx",
    "return_check",
    "scan_checks",
    "snapshot_check_day",
    "visible_check",
]
