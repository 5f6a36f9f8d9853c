"""The administration blueprint, its limits and the form helpers its pages share."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from tracker.db import get_session
from tracker.domain.errors import TrackerError
from tracker.domain.labels import STAGE_LABELS
from tracker.domain.roles import Role
from tracker.domain.vocabulary import Stage, Unit
from tracker.services.operations import admin_views
from tracker.web.auth import requires
from tracker.web.params import MAX_ID

bp = Blueprint("admin", __name__, template_folder="../templates", url_prefix="/admin")

REVEALS_PAGE_SIZE = 50
JOB_RUNS_SHOWN = 100
MOVED_SHOWN = 500
CALENDAR_FILE_MAX_BYTES = 64 * 1024

JOB_OUTCOME_LABELS = {"ok": "成功", "error": "失败", "skipped": "跳过"}
# the stage as the CLI accepts it: its identifier or its Chinese label
STAGE_CHOICES = {**{s.value: s for s in Stage}, **{label: stage for stage, label in STAGE_LABELS.items()}}
RULE_UNITS = {Unit.WORKING_DAYS.value: "工作日", Unit.HOURS.value: "小时"}
REQUEST_TYPES = ("投诉举报", "求助", "咨询", "意见建议", "其他")
URGENCIES = ("紧急", "普通")


class FormError(TrackerError):
    """A form field that could not be read (the message names the field and the value)."""


def int_field(name: str, label: str) -> int:
    text = request.form.get(name, "").strip()
    try:
        value = int(text)
    except ValueError:
        raise FormError(f"{label}「{text[:40]}」不是整数") from None
    if abs(value) > MAX_ID:
        raise FormError(f"{label}「{text[:40]}」超出范围") from None
    return value


# --- overview


@bp.get("/")
@requires(Role.ADMIN)
def index() -> str:
    """管理首页：各部分的入口与数量。"""
    return render_template("admin/index.html", counts=admin_views.section_counts(get_session()))
