"""JSON API under /api/v1: orders, alerts and rates, with the same sign-in and scope as the pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, template_folder="templates", url_prefix="/api/v1")
