"""Web layer: thin blueprints over the services; labels come from the one label mapping."""

from __future__ import annotations

from flask import Flask

from tracker.domain import labels
from tracker.domain.privacy import mask_name, mask_phone
from tracker.domain.vocabulary import Action, AlertLevel, Outcome, Stage, State


def init_app(app: Flask) -> None:
    """Register blueprints, template filters and label lookups."""
    from tracker.web import errors
    from tracker.web.orders import bp as orders_bp

    app.register_blueprint(orders_bp)
    errors.init_app(app)
    app.jinja_env.filters["local"] = labels.format_local
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["mask_name"] = mask_name
    app.jinja_env.globals.update(
        state_label=lambda v: labels.STATE_LABELS[State(v)],
        action_label=lambda v: labels.ACTION_LABELS[Action(v)],
        stage_label=lambda v: labels.STAGE_LABELS[Stage(v)],
        outcome_label=lambda v: labels.OUTCOME_LABELS[Outcome(v)] if v else "—",
        alert_label=lambda v: labels.ALERT_LABELS[AlertLevel(v)] if v else "",
        field_label=lambda name: labels.FIELD_LABELS.get(name, name),
        describe_value=labels.describe_value,
        STATES=list(State),
    )
