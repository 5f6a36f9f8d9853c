"""Administration: users, streets and squads, categories, deadline rules, holiday calendar, job runs."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, template_folder="templates", url_prefix="/admin")
