"""The API's Chinese description page, read from the OpenAPI document (no script, no CDN).

Turns the document into plain rows for a server-rendered template: per route its parameters and
answers, per schema its fields, each type written in words, a schema name linking to its table.
"""

from __future__ import annotations

from typing import Any

Token = tuple[str, str]  # ("text", "整数") or ("ref", "OrdersPage")
WHERE = {"query": "查询", "path": "路径"}
FORMATS = {"date-time": "时间（ISO 8601，UTC）", "date": "日期（YYYY-MM-DD）"}
TYPES = {"string": "文本", "integer": "整数", "number": "数字", "boolean": "是/否", "null": "null", "object": "对象"}


def type_tokens(schema: dict[str, Any]) -> list[Token]:
    """A JSON Schema written in words, with references kept as links."""
    if "$ref" in schema:
        return [("ref", str(schema["$ref"]).rsplit("/", 1)[-1])]
    if "anyOf" in schema:
        tokens: list[Token] = []
        for i, option in enumerate(schema["anyOf"]):
            tokens += ([("text", " 或 ")] if i else []) + type_tokens(option)
        return tokens
    kind = schema.get("type")
    if kind == "array":
        return [("text", "列表，每项为 "), *type_tokens(schema.get("items", {}))]
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return [("text", "对象：键 → "), *type_tokens(schema["additionalProperties"])]
    if kind == "string" and schema.get("format") in FORMATS:
        return [("text", FORMATS[schema["format"]])]
    if kind == "integer" and "minimum" in schema:
        upper = f"–{schema['maximum']}" if "maximum" in schema else " 起"
        return [("text", f"整数（{schema['minimum']}{upper}）")]
    if isinstance(kind, str):
        return [("text", TYPES.get(kind, kind))]
    return [("text", "任意 JSON 值")]


def choices(schema: dict[str, Any]) -> str:
    """The allowed values of an enum, '、'-joined ('' when free)."""
    return "、".join(str(v) for v in schema.get("enum", []))


def parameter_row(param: dict[str, Any]) -> dict[str, Any]:
    """One parameter of a route."""
    schema = param.get("schema", {})
    description = param.get("description", "")
    if any(str(v) not in description for v in schema.get("enum", [])):  # the values with their labels, else bare
        description = f"{description}（可选：{choices(schema)}）"
    return {
        "name": param["name"],
        "where": WHERE.get(param["in"], param["in"]),
        "required": "必填" if param.get("required") else "可选",
        "type": type_tokens(schema),
        "default": schema.get("default"),
        "description": description,
    }


def response_rows(responses: dict[str, Any]) -> list[dict[str, Any]]:
    """The answers of a route by status code."""
    rows = []
    for status, answer in responses.items():
        for media, content in answer.get("content", {}).items():
            rows.append(
                {
                    "status": status,
                    "description": answer["description"],
                    "media": media,
                    "type": type_tokens(content["schema"]),
                }
            )
    return rows


def schema_rows(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """One component schema: its fields, or its values when it is an enum."""
    required = set(schema.get("required", []))
    fields = [
        {
            "name": field,
            "type": type_tokens(prop),
            "required": "总有" if field in required else "可能没有",
            "description": prop.get("description", ""),
        }
        for field, prop in schema.get("properties", {}).items()
    ]
    return {"name": name, "description": schema.get("description", ""), "fields": fields, "enum": choices(schema)}


def page(document: dict[str, Any]) -> dict[str, Any]:
    """What the template shows: the title, the routes and the schemas."""
    routes = [
        {
            "method": method.upper(),
            "path": path,
            "anchor": operation["operationId"],
            "summary": operation["summary"],
            "description": operation["description"],
            "parameters": [parameter_row(p) for p in operation.get("parameters", [])],
            "responses": response_rows(operation["responses"]),
        }
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    schemas = [schema_rows(name, schema) for name, schema in sorted(document["components"]["schemas"].items())]
    return {"info": document["info"], "routes": routes, "schemas": schemas}
