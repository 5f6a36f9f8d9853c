"""Overdue alerts for squads: open alerts by level and deadline, acknowledge, the latest digest."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("alerts", __name__, template_folder="templates", url_prefix="/alerts")
