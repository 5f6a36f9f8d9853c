"""Orders: the one door for an order's state (``actions``), its stage deadlines, alerts and digests, the
holiday calendar and deadline rules as stored, streets and categories, and the order lists and export.

Only ``actions`` assigns an order's state and writes its audit event (tests/test_architecture.py).
May import: ``accounts``, ``tracker.domain``, ``tracker.models``, ``tracker.db``.
"""

from tracker.services.orders import calendar, directory, rules
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
from tracker.services.orders.calendar import load_calendar
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
from tracker.services.orders.overview import (
    DEADLINE_SORT,
    SORTS,
    DeadlineView,
    OrderFilter,
    OrderLine,
    list_orders,
    open_alert_counts,
    order_detail,
    state_counts,
    visible_repeat_of,
)
from tracker.services.orders.rules import rule_table

__all__ = [
    "DEADLINE_SORT",
    "DETAIL_FIELDS",
    "SORTS",
    "AlertFilter",
    "BulkAckRefused",
    "Context",
    "DeadlineView",
    "ExportTooLarge",
    "MailSettings",
    "MemoryStore",
    "NewOrder",
    "OrderFilter",
    "OrderLine",
    "SessionStore",
    "Store",
    "acknowledge_alert",
    "acknowledge_alerts",
    "add_street",
    "address_key",
    "adopt_from_orders",
    "all_streets",
    "apply_action",
    "available_actions",
    "build_digests",
    "calendar",
    "category_names",
    "digest_streets",
    "directory",
    "export_orders",
    "latest_digests",
    "list_orders",
    "load_calendar",
    "load_recipients",
    "open_alert_counts",
    "open_order",
    "order_detail",
    "rule_table",
    "rules",
    "scan",
    "send_digests",
    "squad_name_for",
    "state_counts",
    "street_choices_all",
    "transition",
    "update_details",
    "viewer_alert_counts",
    "viewer_alerts",
    "visible_repeat_of",
]
