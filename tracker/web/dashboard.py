"""The bureau's dashboard: orders by state and alert level, intake, overdue, the rates of domain.md §5."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboard", __name__, template_folder="templates", url_prefix="/dashboard")
