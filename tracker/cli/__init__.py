"""The operators' command line (``flask --app wsgi …``), one module per command group.

Each module calls services and owns its session through ``common.unit_of_work``; none holds a
rule of its own. ``run-job`` belongs to the scheduler (``jobs/cli.py``) and is added by ``wsgi.py``.
May import: ``tracker.services`` packages, ``tracker.domain``, ``tracker.db``, ``tracker.models``.
"""

from __future__ import annotations

from flask import Flask

from tracker.cli.common import parse_local_time, unit_of_work, upgrade_database

__all__ = ["init_app", "parse_local_time", "unit_of_work", "upgrade_database"]


def init_app(app: Flask) -> None:
    """Register the tracker's commands."""
    from tracker.cli.backup import backup_group
    from tracker.cli.database import init_db_command
    from tracker.cli.deadlines import calendar_group, deadline_command, rules_group
    from tracker.cli.imports import demo_load_command, import_orders_command
    from tracker.cli.notify import notify_group
    from tracker.cli.retention import retention_group
    from tracker.cli.sampling import sample_size_command
    from tracker.cli.stats import snapshot_metrics_command
    from tracker.cli.users import api_token_command, create_user_command, set_password_command

    for cmd in (
        init_db_command,
        deadline_command,
        calendar_group,
        rules_group,
        demo_load_command,
        import_orders_command,
        snapshot_metrics_command,
        create_user_command,
        set_password_command,
        api_token_command,
        sample_size_command,
        backup_group,
        retention_group,
        notify_group,
    ):
        app.cli.add_command(cmd)
