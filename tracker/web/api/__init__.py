"""JSON API under /api/v1: orders, alerts, rates and 核查 numbers, with the same sign-in and scope as the pages.

Read-only (GET). Times are ISO 8601 in UTC; phone numbers and names are masked as on the pages,
and any mobile number inside free text is masked too. Errors are JSON ``{"error": "…"}`` in Chinese.

The parts: :mod:`.core` (blueprint, JSON answers, errors), :mod:`.query` (parameters as pydantic
models), :mod:`.shapes` (the JSON built from the services' results), :mod:`.schemas` (those shapes
as pydantic models), :mod:`.views` (the endpoints), :mod:`.openapi` (the OpenAPI 3.1 document and
its page, assembled from the models).
"""

from __future__ import annotations

from tracker.web.api import openapi, views
from tracker.web.api.core import bp, json_response

__all__ = ["bp", "json_response", "openapi", "views"]
