"""The direction of dependencies: the domain imports only the standard library, one door for state."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


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
    assigners = []
    for path in (ROOT / "tracker").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Attribute) and target.attr == "state":
                        assigners.append(path.relative_to(ROOT).as_posix())
    assert assigners == ["tracker/services/orders.py"]


def test_nothing_updates_or_deletes_events() -> None:
    for path in (ROOT / "tracker").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "update(OrderEvent" not in text and "delete(OrderEvent" not in text, path
