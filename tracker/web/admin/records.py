"""What the administrator reads: job runs, the log of revealed phone numbers and the export log."""

from __future__ import annotations

from flask import render_template, request

from tracker.db import get_session
from tracker.domain.labels import JOB_TITLES
from tracker.domain.roles import Role
from tracker.services.accounts import export_log
from tracker.services.operations import admin_views, job_runs
from tracker.web.admin.common import (
    JOB_OUTCOME_LABELS,
    JOB_RUNS_SHOWN,
    REVEALS_PAGE_SIZE,
    bp,
)
from tracker.web.auth import requires, viewer

# --- job runs


def _job_titles() -> dict[str, str]:
    return dict(JOB_TITLES)


@bp.get("/jobs")
@requires(Role.ADMIN)
def jobs() -> str:
    """定时任务的运行记录（最新在前），可按任务筛选。"""
    db = get_session()
    titles = _job_titles()
    job_id = request.args.get("job", "").strip() or None
    choices = list(titles) + [j for j in admin_views.job_ids_seen(db) if j not in titles]
    return render_template(
        "admin/jobs.html",
        runs=job_runs.recent_runs(db, job_id=job_id, limit=JOB_RUNS_SHOWN),
        job_id=job_id,
        choices=choices,
        titles=titles,
        outcome_labels=JOB_OUTCOME_LABELS,
        shown=JOB_RUNS_SHOWN,
    )


# --- phone-reveal audit


@bp.get("/reveals")
@requires(Role.ADMIN)
def reveals() -> str:
    """查看完整电话号码的记录：谁、何时、哪个工单、事由（最新在前）。"""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    lines, total = admin_views.phone_reveals(
        get_session(), viewer=viewer(), limit=REVEALS_PAGE_SIZE, offset=(page - 1) * REVEALS_PAGE_SIZE
    )
    return render_template(
        "admin/reveals.html",
        lines=lines,
        total=total,
        page=page,
        pages=max((total + REVEALS_PAGE_SIZE - 1) // REVEALS_PAGE_SIZE, 1),
    )


# --- export log


@bp.get("/exports")
@requires(Role.ADMIN)
def exports() -> str:
    """导出记录：谁、何时导出了什么（筛选条件、行数、是否脱敏），最新在前。"""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    lines, total = export_log.export_logs(get_session(), limit=REVEALS_PAGE_SIZE, offset=(page - 1) * REVEALS_PAGE_SIZE)
    return render_template(
        "admin/exports.html",
        lines=lines,
        total=total,
        page=page,
        pages=max((total + REVEALS_PAGE_SIZE - 1) // REVEALS_PAGE_SIZE, 1),
    )
