"""Numbers in URLs and query strings kept within what the databases can bind.

A number past 64 bits raised OverflowError (500) when bound. Row ids are ``INTEGER`` columns, which
PostgreSQL keeps in 32 bits: an id above 2^31-1 failed there as "integer out of range" (answered 503,
found by the API's property test). An id out of range cannot name anything, so it answers 404 like an
unknown one; a ``page`` or ``page_size`` out of range answers 400 with the allowed range.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**31 - 1  # the largest value of an INTEGER id column on PostgreSQL
MAX_PAGE = 1_000_000  # with at most 200 rows a page the offset stays far inside 64 bits
PAGE_ARGS = ("page", "page_size")


class BoundedIntegerConverter(IntegerConverter):
    """``<int:…>`` that matches only 0 … MAX_ID: a larger number is an unknown path (404)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def in_id_range(value: int) -> bool:
    """Whether ``value`` can be a row id (a positive INTEGER)."""
    return 0 < value <= MAX_ID


def page_arg_problem() -> dict[str, str] | None:
    """The parameter, its value and a Chinese sentence when ``page`` or ``page_size`` is out of range, else None."""
    for name in PAGE_ARGS:
        text = request.args.get(name, "").strip()
        if text.isdigit() and (len(text) > len(str(MAX_PAGE)) or int(text) > MAX_PAGE):
            message = f"参数 {name} 的值「{text[:40]}」超出范围：应为 1 至 {MAX_PAGE} 的整数"
            return {"field": name, "value": text[:40], "message": message}
    return None


def init_app(app: Flask) -> None:
    """Install the bounded ``int`` converter (before any route is added) and the page-argument check."""
    app.url_map.converters["int"] = BoundedIntegerConverter

    @app.before_request
    def refuse_page_out_of_range() -> tuple[Any, int] | None:
        problem = None if request.blueprint == "open311" else page_arg_problem()  # Open311 bounds its own
        if problem is None:
            return None
        if request.path.startswith("/api/"):  # the API's 400 shape: the sentence, and the field it names
            return {"error": problem["message"], "fields": [problem]}, 400
        return render_template("error.html", title="请求有误", message=problem["message"]), 400
