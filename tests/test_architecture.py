"""The direction of dependencies: the domain imports only the standard library, one door for state."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def resolve_imports(source: str, package: str) -> set[str]:
    """Absolute names of every module ``source`` imports, relative imports resolved against ``package``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                names.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.add(node.module)
    return names


def imports_of(path: Path) -> set[str]:
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    return resolve_imports(path.read_text(encoding="utf-8"), package)


def test_relative_imports_are_resolved() -> None:
    source = "from ..models import Order\nfrom . import labels\nimport json\n"
    assert resolve_imports(source, "tracker.domain") == {"tracker.models", "tracker.domain", "json"}


def test_domain_imports_only_the_standard_library_and_itself() -> None:
    offenders = {}
    for path in (ROOT / "tracker" / "domain").glob("*.py"):
        bad = {
            name
            for name in imports_of(path)
            if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("tracker.domain")
        }
        if bad:
            offenders[path.name] = bad
    assert offenders == {}


def test_web_has_no_queries_and_no_pandas() -> None:
    for path in (ROOT / "tracker" / "web").glob("*.py"):
        top = {name.split(".")[0] for name in imports_of(path)}
        assert not top & {"sqlmodel", "sqlalchemy", "pandas"}, path.name


def test_only_the_orders_service_assigns_an_order_state() -> None:
    """``x.state = …``, ``setattr(x, "state", …)`` and ``state=…`` keywords (Order(...), .values(...))."""
    assigners = set()
    for path in (ROOT / "tracker").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            found = False
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found = any(isinstance(t, ast.Attribute) and t.attr == "state" for t in targets)
            elif isinstance(node, ast.Call):
                builds_row = (isinstance(node.func, ast.Name) and node.func.id == "Order") or (
                    isinstance(node.func, ast.Attribute) and node.func.attr in ("values", "model_validate")
                )
                found = (builds_row and any(k.arg == "state" for k in node.keywords)) or (
                    isinstance(node.func, ast.Name)
                    and node.func.id == "setattr"
                    and len(node.args) > 1
                    and isinstance(node.args[1], ast.Constant)
                    and node.args[1].value == "state"
                )
            if found:
                assigners.add(path.relative_to(ROOT).as_posix())
    assert assigners == {"tracker/services/orders.py"}


def test_nothing_updates_or_deletes_events() -> None:
    for path in (ROOT / "tracker").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "update(OrderEvent" not in text and "delete(OrderEvent" not in text, path
