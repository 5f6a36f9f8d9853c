"""Web layer: thin blueprints over the services; labels come from the one label mapping."""

from __future__ import annotations

from flask import Flask, current_app, g

from tracker.domain import labels
from tracker.domain.errors import CalendarNotLoaded
from tracker.domain.overdue import LEVELS_WORST_FIRST
from tracker.domain.privacy import mask_name, mask_phone, mask_phones_in_text
from tracker.domain.roles import ROLE_LABELS, Role
from tracker.domain.vocabulary import Action, AlertLevel, ExtensionStatus, Outcome, Stage, State

# (endpoint, label, roles); a link shows only when its blueprint is registered and the role may use it
NAV = (
    ("orders.index", "工单", frozenset(Role)),
    ("alerts.index", "逾期预警", frozenset(Role)),
    ("dashboard.index", "统计", frozenset(Role)),
    ("analysis.index", "分析", frozenset(Role)),
    ("spot_checks.index", "质量抽查", frozenset({Role.SUPERVISOR, Role.ADMIN})),
    ("checks.notices", "通报核查", frozenset({Role.SUPERVISOR, Role.ADMIN})),
    ("imports.index", "导入", frozenset({Role.ADMIN})),
    ("admin.index", "管理", frozenset({Role.ADMIN})),
)


def nav_links() -> list[tuple[str, str]]:
    """The navigation bar of the signed-in viewer."""
    viewer = g.get("viewer")
    if viewer is None:
        return []
    return [(e, label) for e, label, roles in NAV if e in current_app.view_functions and viewer.role in roles]


def nav_alert_count() -> int:
    """The viewer's overdue orders now (件工单, live: services.orders.counts), once per request.

    No badge while the year's holiday arrangement is missing (due times cannot be judged then): every
    page, the error page included, still renders; the pages that count say why themselves.
    """
    if "nav_alert_count" not in g:
        from tracker.web import live

        try:
            g.nav_alert_count = live.counts(g.viewer).overdue_orders if g.get("viewer") else 0
        except CalendarNotLoaded:
            g.nav_alert_count = 0
    count: int = g.nav_alert_count
    return count


def nav_alert_title() -> str:
    """The badge's words: what it counts and as of when."""
    from tracker.web import live

    if not nav_alert_count():
        return ""
    current = live.counts(g.viewer)
    return f"{current.as_of_label}，{current.orders_phrase(AlertLevel.RED)}"


def init_app(app: Flask) -> None:
    """Register security, sign-in, blueprints, template filters and label lookups."""
    from tracker.web import (
        admin,
        alerts,
        analysis,
        api,
        attachments,
        auth,
        charts,
        checks,
        dashboard,
        errors,
        health,
        imports,
        metrics,
        open311,
        orders,
        params,
        security,
        spot_checks,
    )

    params.init_app(app)  # first: the bounded <int:…> converter must be in place before any route
    security.init_app(app)
    auth.init_app(app)
    charts.init_app(app)
    metrics.init_app(app)
    for module in (orders, attachments, checks, alerts, dashboard, analysis, spot_checks, imports, admin, api, health):
        app.register_blueprint(module.bp)
    open311.init_app(app)  # public, read-only, answers 404 while TRACKER_OPEN311 is off
    errors.init_app(app)
    app.jinja_env.filters["local"] = labels.format_local
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["mask_name"] = mask_name
    app.jinja_env.filters["mask_text"] = mask_phones_in_text
    app.jinja_env.globals.update(
        batch_name=lambda b: labels.batch_label(b.started_at, b.file_name, b.actor_name),
        state_label=lambda v: labels.STATE_LABELS[State(v)],
        action_label=lambda v: labels.ACTION_LABELS[Action(v)],
        stage_label=labels.stage_label,
        outcome_label=lambda v: labels.OUTCOME_LABELS[Outcome(v)] if v else "—",
        alert_label=lambda v: labels.ALERT_LABELS[AlertLevel(v)] if v else "",
        extension_label=lambda v: labels.EXTENSION_LABELS[ExtensionStatus(v)],
        role_label=lambda v: ROLE_LABELS[Role(v)],
        field_label=lambda name: labels.FIELD_LABELS.get(name, name),
        describe_value=labels.describe_value,
        describe_late_entry=labels.describe_late_entry,
        nav_links=nav_links,
        nav_alert_count=nav_alert_count,
        nav_alert_title=nav_alert_title,
        STATES=list(State),
        LEVELS=list(AlertLevel),
        LIVE_LEVELS=list(LEVELS_WORST_FIRST),
        STAGES=list(Stage),
    )
