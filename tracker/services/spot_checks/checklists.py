"""The checklist a plan is reviewed against: loaded from TOML or the default, stored with the plan as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tracker.domain.checklist import (
    DEFAULT_CHECKLIST,
    Checklist,
    ChecklistItem,
    GradeBand,
    HardFail,
    parse_checklist,
)
from tracker.models import SamplePlan
from tracker.services.spot_checks.population import SpotCheckError


def load_checklist(path: str | None) -> Checklist:
    """The configured checklist (a TOML file in the format of docs/checklist.toml), else the default one."""
    if not path:
        return DEFAULT_CHECKLIST
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpotCheckError(f"评分表文件「{path}」无法读取：{exc.strerror or exc}") from None
    return parse_checklist(text)


def checklist_to_dict(checklist: Checklist) -> dict[str, Any]:
    """The checklist as JSON (snapshotted into the plan, so later configuration changes leave old scores alone)."""
    return {
        "name": checklist.name,
        "items": [
            {"key": i.key, "label": i.label, "verifies": i.verifies, "weight": i.weight, "partial": i.partial}
            for i in checklist.items
        ],
        "hard_fails": [{"key": h.key, "label": h.label} for h in checklist.hard_fails],
        "bands": [{"label": b.label, "minimum": b.minimum, "passed": b.passed} for b in checklist.bands],
        "hard_fail_grade": checklist.hard_fail_grade,
    }


def checklist_from_dict(data: Mapping[str, Any]) -> Checklist:
    """The checklist :func:`checklist_to_dict` wrote (the default one for a plan stored without)."""
    if not data:
        return DEFAULT_CHECKLIST
    return Checklist(
        name=data["name"],
        items=tuple(ChecklistItem(**item) for item in data["items"]),
        hard_fails=tuple(HardFail(**hard) for hard in data["hard_fails"]),
        bands=tuple(GradeBand(**band) for band in data["bands"]),
        hard_fail_grade=data["hard_fail_grade"],
    )


def plan_checklist(plan: SamplePlan) -> Checklist:
    """The checklist this plan's reviews are scored with."""
    return checklist_from_dict(plan.checklist)


# ---------------------------------------------------------------------------- preview and draw
