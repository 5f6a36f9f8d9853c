"""API parameter benchmark (`make bench-api`): the cost of reading /api/v1's query parameters through pydantic.

Reads one typical order-list query string (seven parameters: two dates, three choices, a page and a
page size) inside a request context, with the pydantic model of ``tracker.web.api.query`` and, as
the reference, with the hand-written reading it replaced (regular expressions and membership tests,
reproduced here as :func:`handwritten`). Also times building the OpenAPI document from the models
(once per process, then cached). Prints the figures, their ratio, and one JSON line last.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date

from flask import Flask, request

from benchmarks import best
from tracker.domain.vocabulary import AlertLevel, Stage, State
from tracker.services.orders import SORTS
from tracker.web.api import openapi
from tracker.web.api.query import OrdersQuery, parse

QUERY = (
    "dispatched_from=2026-11-01&dispatched_to=2026-11-26&state=open&level=red&stage=closure"
    "&sort=deadline&page=3&page_size=50"
)
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
CHOICES = {
    "state": [s.value for s in State] + ["open"],
    "level": [v.value for v in AlertLevel],
    "stage": [s.value for s in Stage],
    "sort": list(SORTS),
}
ROUNDS = 2_000


def handwritten() -> tuple[int, int]:
    """The reading the API did before pydantic: dates by pattern, choices by membership, digits for pages."""
    for name in ("dispatched_from", "dispatched_to", "closed_from", "closed_to"):
        text = request.args.get(name, "").strip()
        if text and ISO_DAY.fullmatch(text):
            date.fromisoformat(text)
    for name, choices in CHOICES.items():
        text = request.args.get(name, "")
        if text and text not in choices:
            raise ValueError(name)
    page, size = request.args.get("page", "1").strip(), request.args.get("page_size", "50").strip()
    assert page.isdigit() and size.isdigit()
    return int(page), min(int(size), 200)


def main() -> None:
    app = Flask(__name__)
    with app.test_request_context(f"/api/v1/orders?{QUERY}"):
        typed_ms, query = best(lambda: [parse(OrdersQuery) for _ in range(ROUNDS)][-1], 5)
        plain_ms, _ = best(lambda: [handwritten() for _ in range(ROUNDS)][-1], 5)
    assert query.page == 3 and query.state == "open"
    build_ms, _ = best(lambda: (openapi.document.cache_clear(), openapi.document()), 5)
    typed_us, plain_us = typed_ms * 1000 / ROUNDS, plain_ms * 1000 / ROUNDS
    print(f"pydantic query model : {typed_us:8.1f} µs per request")
    print(f"hand-written reading : {plain_us:8.1f} µs per request (reference)")
    print(f"ratio                : {typed_us / plain_us:8.2f}")
    print(f"OpenAPI document     : {build_ms:8.1f} ms to build (once per process)")
    load = os.getloadavg()[0]
    print(f"load average (1 min) : {load:8.2f} on {os.cpu_count()} CPUs")
    figures = {
        "typed_us": round(typed_us, 2),
        "handwritten_us": round(plain_us, 2),
        "ratio": round(typed_us / plain_us, 2),
        "document_ms": round(build_ms, 2),
        "load1": round(load, 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
