"""Quality spot checks (诉件质量抽查): sampling plans, reviews against the checklist, results with intervals."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("spot_checks", __name__, template_folder="templates", url_prefix="/spot-checks")
