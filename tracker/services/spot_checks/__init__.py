"""诉件质量抽查 (domain.md §6): a plan's population (``population``), its draw and later changes (``plans``),
the checklist it is reviewed against (``checklists``), 核验 (``verification``), reviews and redo
(``reviews``), results with their intervals (``results``) and the plan form (``forms``).

Owns the tables ``sample_plan``, ``sample_item`` and ``sample_event``.
May import: ``orders``, ``accounts``, ``tracker.domain``, ``tracker.models``, ``tracker.db``.
"""

from tracker.services.spot_checks import forms, results, reviews
from tracker.services.spot_checks.checklists import load_checklist, plan_checklist
from tracker.services.spot_checks.plans import (
    add_order,
    describe_method,
    draw_plan,
    drop_item,
    get_item,
    get_plan,
    item_reasons,
    list_plans,
    plan_events,
    plan_items,
    population_of,
    preview_plan,
    progress_of,
    sampling_plan_of,
)
from tracker.services.spot_checks.population import (
    EVENT_LABELS,
    MANUAL,
    RANDOM,
    PlanInput,
    Population,
    SpotCheckError,
    load_population,
    population_choices,
    population_digest,
)
from tracker.services.spot_checks.verification import verify_plan

__all__ = [
    "EVENT_LABELS",
    "MANUAL",
    "RANDOM",
    "PlanInput",
    "Population",
    "SpotCheckError",
    "add_order",
    "describe_method",
    "draw_plan",
    "drop_item",
    "forms",
    "get_item",
    "get_plan",
    "item_reasons",
    "list_plans",
    "load_checklist",
    "load_population",
    "plan_checklist",
    "plan_events",
    "plan_items",
    "population_choices",
    "population_digest",
    "population_of",
    "preview_plan",
    "progress_of",
    "results",
    "reviews",
    "sampling_plan_of",
    "verify_plan",
]
