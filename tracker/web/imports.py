"""Import pages: upload an export, see the dry run, commit it; batch history and reports."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("imports", __name__, template_folder="templates", url_prefix="/imports")
