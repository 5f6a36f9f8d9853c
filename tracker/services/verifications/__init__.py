"""Verifications (热线通报核查): the 12345 centre's 通报 imported, the 核查 of each named order with its
deadline, the squad's answer and the supervisor's decision, the reply to the centre, and their numbers.

Owns the tables ``hotline_notice``, ``notice_check`` and ``notice_check_event``. A 通报 file is read with the
order import's reader and limits (``layout`` maps its headers; ``importing`` stores its lines); ``audit``
writes one row per step. A 重办 started from an accepted 核查 goes through the orders service's one door.
May import: ``imports``, ``orders``, ``accounts``, ``tracker.domain``, ``tracker.models``, ``tracker.db``.
"""

from tracker.services.verifications.alerting import CheckScanResult, check_level, digest_lines, scan_checks
from tracker.services.verifications.audit import check_events
from tracker.services.verifications.importing import NoticeFileError, NoticeImportReport, RowError, import_notice
from tracker.services.verifications.layout import LayoutError, NoticeLayout, load_layout

__all__ = [
    "CheckScanResult",
    "LayoutError",
    "NoticeFileError",
    "NoticeImportReport",
    "NoticeLayout",
    "RowError",
    "check_events",
    "check_level",
    "digest_lines",
    "import_notice",
    "load_layout",
    "scan_checks",
]
