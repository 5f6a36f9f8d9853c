"""Imports: the only place an export file is read, and the morning import from upload or inbox to stored orders.

A row's journey: ``reader`` (bytes, sheets, header, cells as text) with a ``profiles`` layout →
``rows`` (a row's fields parsed into a new order or an update) → ``survey`` (which rows are new,
changed or unchanged) → ``plan`` (new orders' lifecycle in memory) and ``reconcile`` (changes
to stored orders, replayed a chunk at a time in memory and written in batches by ``updates``) →
written by ``importer``, which owns the batch and the write lock (on SQLite it
plans the whole file before it takes the lock, then writes in one short transaction; ``steps``
are the pieces both ways share); ``report`` says what happened per row; ``uploads`` (web: dry
run, then commit) and ``inbox`` (a watched folder) start it; ``backfill`` imports a history into an
empty database with its secondary indexes built after the rows.
May import: ``orders``, ``accounts``, ``tracker.domain``, ``tracker.models``, ``tracker.db``.
"""

from tracker.services.imports import uploads
from tracker.services.imports.backfill import BackfillRefused, backfill_file
from tracker.services.imports.importer import ImportOptions, import_file, lock_imports, plan_first_default
from tracker.services.imports.inbox import process_inbox
from tracker.services.imports.profiles import header_key, load_profile
from tracker.services.imports.reader import ExportFileError, Limits, parse_datetime, table_rows
from tracker.services.imports.report import ImportReport, report_sheets, reports_to_xlsx

__all__ = [
    "BackfillRefused",
    "ExportFileError",
    "ImportOptions",
    "ImportReport",
    "Limits",
    "backfill_file",
    "header_key",
    "import_file",
    "load_profile",
    "lock_imports",
    "parse_datetime",
    "plan_first_default",
    "process_inbox",
    "report_sheets",
    "reports_to_xlsx",
    "table_rows",
    "uploads",
]
