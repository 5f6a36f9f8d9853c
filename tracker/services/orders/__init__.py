"""Orders: the one door for an order's state (``actions``), its stage deadlines, alerts and digests, the
holiday calendar and deadline rules as stored, streets and categories, the order lists and export, and what
is kept beside an order without moving it: its attachments (photos, PDF; ``attachments``) and notes (``notes``),
and what the street's notification channels must be told (``notices``: written in the transaction of the
alert or action; the ``notify`` service sends it).

Only ``actions`` assigns an order's state and writes its audit event (tests/test_architecture.py).
May import: ``accounts``, ``tracker.domain``, ``tracker.models``, ``tracker.db``.
"""

from tracker.services.orders import calendar, directory, notices, rules
from tracker.services.orders.actions import (
    DETAIL_FIELDS,
    Context,
    MemoryStore,
    NewOrder,
    SessionStore,
    Store,
    address_key,
    apply_action,
    available_actions,
    open_order,
    transition,
    update_details,
)
from tracker.services.orders.alerts import (
    AlertFilter,
    BulkAckRefused,
    acknowledge_alert,
    acknowledge_alerts,
    digest_streets,
    latest_digests,
    scan,
    viewer_alert_counts,
    viewer_alerts,
)
from tracker.services.orders.attachments import (
    HEIC_SUPPORTED,
    AttachmentLimits,
    AttachmentRefused,
    Upload,
    add_attachments,
    attachment_file,
    discard_files,
    find_attachment,
    may_withdraw,
    order_attachments,
    remove_attachment,
)
from tracker.services.orders.calendar import load_calendar
from tracker.services.orders.counts import (
    LiveCounts,
    StageAlert,
    bounds_at,
    live_counts,
    overdue_by_street_stage,
)
from tracker.services.orders.digests import MailSettings, build_digests, load_recipients, send_digests
from tracker.services.orders.directory import (
    add_street,
    adopt_from_orders,
    all_streets,
    category_names,
    squad_name_for,
    street_choices_all,
)
from tracker.services.orders.export import ExportTooLarge, export_orders
from tracker.services.orders.notes import NOTE_MAX_CHARS, NoteRefused, add_note, order_notes
from tracker.services.orders.overview import (
    DEADLINE_SORT,
    SORTS,
    DeadlineView,
    OrderFilter,
    OrderLine,
    list_orders,
    order_detail,
    state_counts,
    visible_repeat_of,
)
from tracker.services.orders.rules import VerificationRule, rule_table, verification_rule

__all__ = [
    "DEADLINE_SORT",
    "DETAIL_FIELDS",
    "HEIC_SUPPORTED",
    "NOTE_MAX_CHARS",
    "SORTS",
    "AlertFilter",
    "AttachmentLimits",
    "AttachmentRefused",
    "BulkAckRefused",
    "Context",
    "DeadlineView",
    "ExportTooLarge",
    "LiveCounts",
    "MailSettings",
    "MemoryStore",
    "NewOrder",
    "NoteRefused",
    "OrderFilter",
    "OrderLine",
    "SessionStore",
    "StageAlert",
    "Store",
    "Upload",
    "VerificationRule",
    "acknowledge_alert",
    "acknowledge_alerts",
    "add_attachments",
    "add_note",
    "add_street",
    "address_key",
    "adopt_from_orders",
    "all_streets",
    "apply_action",
    "attachment_file",
    "available_actions",
    "bounds_at",
    "build_digests",
    "calendar",
    "category_names",
    "digest_streets",
    "directory",
    "discard_files",
    "export_orders",
    "find_attachment",
    "latest_digests",
    "list_orders",
    "live_counts",
    "load_calendar",
    "load_recipients",
    "may_withdraw",
    "notices",
    "open_order",
    "order_attachments",
    "order_detail",
    "order_notes",
    "overdue_by_street_stage",
    "remove_attachment",
    "rule_table",
    "rules",
    "scan",
    "send_digests",
    "squad_name_for",
    "state_counts",
    "street_choices_all",
    "transition",
    "update_details",
    "verification_rule",
    "viewer_alert_counts",
    "viewer_alerts",
    "visible_repeat_of",
]
