"""The OpenAPI 3.1 document of /api/v1, assembled from the pydantic models, and the page that shows it.

Parameters come from the query models (:mod:`.query`), responses from the response models
(:mod:`.schemas`) through ``pydantic.json_schema.models_json_schema``; OpenAPI 3.1 speaks JSON Schema
2020-12, which is what pydantic writes. The document and its page need the same sign-in as the API:
they hold no personal data, but nothing of the tracker is open to the public but the sign-in page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from flask import Response, render_template
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from tracker.domain import labels
from tracker.web.api import schemas
from tracker.web.api.core import bp
from tracker.web.api.docs_page import page
from tracker.web.api.query import AlertsQuery, OrdersQuery, PeriodQuery, Query, labelled
from tracker.web.params import MAX_ID

REF = "#/components/schemas/{model}"
STATUS = {
    200: "成功",
    400: "参数有误：error 为中文说明，fields 逐个列出参数名、收到的值和原因",
    401: "未登录或令牌无效",
    403: "无权访问（如须先在网页上修改初始密码）",
    404: "工单不存在，或不在本人可见范围内",
    422: "业务规则拒绝（如所需年份的节假日安排尚未载入）",
    500: "系统意外错误（已记录日志）",
    503: "数据库繁忙或结构尚未升级，请稍后再试",
}
COMMON_ERRORS = (401, 403, 422, 500, 503)
ENUM_LABELS: Mapping[str, Mapping[Any, str]] = {
    "State": labels.STATE_LABELS,
    "Stage": labels.STAGE_LABELS,
    "AlertLevel": labels.ALERT_LABELS,
    "Action": labels.ACTION_LABELS,
    "Outcome": labels.OUTCOME_LABELS,
    "ExtensionStatus": labels.EXTENSION_LABELS,
}
ORDER_ID = {
    "name": "order_id",
    "in": "path",
    "required": True,
    "description": "工单内部编号（列表中的 id）",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}


class Untitled(GenerateJsonSchema):
    """pydantic's JSON Schema without a generated English title on every field."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


@dataclass(frozen=True)
class Operation:
    """One GET route of the API as the document describes it."""

    path: str  # as OpenAPI writes it: /api/v1/orders/{order_id}
    endpoint: str  # the Flask endpoint that serves it
    summary: str
    description: str
    response: type[BaseModel] | None  # None: not JSON from a model (the document itself, the page)
    query: type[Query] | None = None
    path_params: tuple[dict[str, Any], ...] = ()
    errors: tuple[int, ...] = ()  # besides COMMON_ERRORS
    media_type: str = "application/json"
    tags: tuple[str, ...] = field(default=("数据",))


OPERATIONS = (
    Operation(
        "/api/v1/orders",
        "api.orders",
        "工单列表",
        "与工单列表页相同的筛选和排序，按页返回；执法队只能看到本街镇的工单。current 为此刻各预警级别的计数，"
        "links 为翻页链接。",
        schemas.OrdersPage,
        query=OrdersQuery,
        errors=(400,),
    ),
    Operation(
        "/api/v1/orders/{order_id}",
        "api.order",
        "单个工单",
        "全部字段、各阶段期限及其计算说明、操作记录，以及本人此刻可做的操作。",
        schemas.OrderDetail,
        path_params=(ORDER_ID,),
        errors=(404,),
    ),
    Operation(
        "/api/v1/alerts",
        "api.alerts",
        "预警列表",
        "当前已超期或即将到期的未完成环节（按当前时间计，不限派单日期），最严重的在前，按页返回。",
        schemas.AlertsPage,
        query=AlertsQuery,
        errors=(400,),
    ),
    Operation(
        "/api/v1/rates",
        "api.rates",
        "各项指标",
        "先行联系率、按时办结率、实际解决率、满意率、退单率、重办率、重复率，按街镇及合计，各注明计入期间所依据的日期。",
        schemas.RatesPeriod,
        query=PeriodQuery,
        errors=(400,),
    ),
    Operation(
        "/api/v1/checks",
        "api.checks",
        "热线通报核查",
        "通报件数（按街镇、通报类型）、核查按时率、退回率；期间按通报日期计。",
        schemas.CheckNumbersPeriod,
        query=PeriodQuery,
        errors=(400,),
    ),
    Operation("/api/v1/", "api.index", "接口一览", "各接口的简要说明。", schemas.ApiIndex, tags=("说明",)),
    Operation(
        "/api/v1/openapi.json",
        "api.openapi_document",
        "OpenAPI 描述",
        "本文档：OpenAPI 3.1，JSON。",
        None,
        tags=("说明",),
    ),
    Operation(
        "/api/v1/docs",
        "api.docs",
        "接口说明页",
        "由本文档生成的中文说明页（HTML）。",
        None,
        media_type="text/html",
        tags=("说明",),
    ),
)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (schemas.Error, *(op.response for op in OPERATIONS if op.response))


def without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: a parameter is absent rather than null."""
    schema = {k: v for k, v in schema.items() if not (k == "default" and v is None)}
    options = [o for o in schema.get("anyOf", []) if o != {"type": "null"}]
    if "anyOf" in schema and len(options) == 1:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**options[0], **rest}
    return schema


def query_parameters(model: type[Query]) -> list[dict[str, Any]]:
    """The query parameters of ``model``, one OpenAPI parameter object each."""
    properties = model.model_json_schema(schema_generator=Untitled)["properties"]
    found = []
    for name, prop in properties.items():
        schema = without_null(dict(prop))
        description = schema.pop("description", "")
        found.append({"name": name, "in": "query", "required": False, "description": description, "schema": schema})
    return found


def error_ref() -> dict[str, Any]:
    """The error body."""
    return {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}


def responses(op: Operation) -> dict[str, Any]:
    """The operation's answers by status code."""
    if op.response is not None:
        ok = {"application/json": {"schema": {"$ref": REF.format(model=op.response.__name__)}}}
    elif op.media_type == "text/html":
        ok = {"text/html": {"schema": {"type": "string"}}}
    else:
        ok = {"application/json": {"schema": {"type": "object"}}}
    found: dict[str, Any] = {"200": {"description": STATUS[200], "content": ok}}
    for code in sorted({*op.errors, *COMMON_ERRORS}):
        found[str(code)] = {"description": STATUS[code], "content": error_ref()}
    return found


def operation_object(op: Operation) -> dict[str, Any]:
    """The OpenAPI operation object of ``op``."""
    parameters = [*op.path_params, *(query_parameters(op.query) if op.query else [])]
    return {
        "operationId": op.endpoint.removeprefix("api."),
        "summary": op.summary,
        "description": op.description,
        "tags": list(op.tags),
        "parameters": parameters,
        "responses": responses(op),
    }


@cache
def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document (built once per process: it depends only on code)."""
    _, defs = models_json_schema(
        [(model, "serialization") for model in RESPONSE_MODELS], ref_template=REF, schema_generator=Untitled
    )
    components = defs.get("$defs", {})
    for name, mapping in ENUM_LABELS.items():  # an enum's English docstring gives way to its values' labels
        if name in components:
            components[name]["description"] = labelled(mapping)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "城管执法局诉件管理 JSON 接口",
            "version": "1",
            "description": "只读（GET）。时间为 ISO 8601 UTC；姓名、电话及文本中的手机号已脱敏；"
            '执法队只能看到本街镇的数据。错误以 JSON 返回：{"error": "中文说明"}。',
        },
        "tags": [
            {"name": "数据", "description": "工单、预警、指标"},
            {"name": "说明", "description": "接口自身的说明"},
        ],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {op.path: {"get": operation_object(op)} for op in OPERATIONS},
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "个人 API 令牌：管理 → 用户 → 生成令牌，或 flask --app wsgi api-token --username U",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "session", "description": "浏览器登录会话"},
            },
        },
    }


@cache
def document_text() -> str:
    """The document as JSON text, serialised once (it holds no data, so nothing needs masking per request)."""
    return json.dumps(document(), ensure_ascii=False)


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """本接口的 OpenAPI 3.1 描述。"""
    return Response(document_text(), mimetype="application/json")


@bp.get("/docs")
def docs() -> str:
    """本接口的中文说明页：由 OpenAPI 描述生成。"""
    return render_template("api/docs.html", **page(document()))
