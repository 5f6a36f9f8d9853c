"""The direction of dependencies: the domain imports only the standard library, service packages import each other
one way and only through their ``__init__``, nothing in ``tracker`` imports ``jobs``, one door for state."""

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
    for path in (ROOT / "tracker" / "web").rglob("*.py"):  # the api/ and admin/ packages too
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
    assert assigners == {"tracker/services/orders/actions.py"}


def test_nothing_updates_or_deletes_events() -> None:
    for path in (ROOT / "tracker").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "update(OrderEvent" not in text and "delete(OrderEvent" not in text, path


SERVICES = ROOT / "tracker" / "services"
# What each service package may import from the others (the direction its docstring states).
ALLOWED = {
    "accounts": set(),
    "orders": {"accounts"},
    "imports": {"orders", "accounts"},
    "spot_checks": {"orders", "accounts"},
    "stats": {"orders", "accounts"},
    "operations": {"imports", "orders", "accounts"},
    "notify": {"orders", "accounts"},
    "verifications": {"imports", "orders", "accounts"},
    "open311": set(),
}


def python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts]


def package_of(module: str) -> str | None:
    """``tracker.services.orders.alerts`` → ``orders``; None outside the service packages."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["tracker", "services"] else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_service_module_is_in_a_package_that_says_what_it_owns() -> None:
    loose = sorted(p.name for p in SERVICES.glob("*.py") if p.name != "__init__.py")
    assert loose == []
    packages = sorted(p.name for p in SERVICES.iterdir() if (p / "__init__.py").exists())
    assert packages == sorted(ALLOWED)
    for name in packages:
        doc = ast.get_docstring(ast.parse((SERVICES / name / "__init__.py").read_text(encoding="utf-8"))) or ""
        assert "May import:" in doc, name
        stated = {other for other in ALLOWED if f"``{other}``" in doc.split("May import:")[1]}
        assert stated == ALLOWED[name], (name, stated)


def test_service_packages_import_each_other_one_way() -> None:
    offenders = set()
    for path in SERVICES.rglob("*.py"):
        mine = package_of(module_name(path))
        if mine is None:
            continue
        for name in imports_of(path):
            theirs = package_of(name)
            if theirs and theirs != mine and theirs not in ALLOWED[mine]:
                offenders.add((mine, theirs, path.name))
    assert offenders == set()


def test_allowed_imports_have_no_cycle() -> None:
    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in ALLOWED[start])

    assert [name for name in ALLOWED if reaches(name, name)] == []


def test_packages_are_used_from_outside_only_through_their_init() -> None:
    """``from tracker.services.orders import X`` from outside ``orders``, never ``tracker.services.orders.alerts``."""
    offenders = set()
    for path in [*python_files("tracker", "jobs"), ROOT / "wsgi.py"]:
        me = module_name(path)
        for name in imports_of(path):
            theirs = package_of(name)
            if theirs and package_of(me) != theirs and name.count(".") > 2:
                offenders.add((me, name))
    assert offenders == set()


def test_init_exposes_only_what_its_package_defines() -> None:
    """Every name a package's ``__init__`` lists in ``__all__`` exists there (a stale export fails here)."""
    import importlib

    for name in ALLOWED:
        package = importlib.import_module(f"tracker.services.{name}")
        missing = [n for n in package.__all__ if not hasattr(package, n)]
        assert missing == [], name


def test_nothing_in_the_tracker_imports_the_scheduler() -> None:
    offenders = {
        path.relative_to(ROOT).as_posix()
        for path in python_files("tracker")
        if any(name == "jobs" or name.startswith("jobs.") for name in imports_of(path))
    }
    assert offenders == set()


def test_a_long_module_says_why_it_is_one_piece() -> None:
    long = {}
    for path in python_files("tracker", "jobs"):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > 500:
            long[path.relative_to(ROOT).as_posix()] = "One piece:" in (ast.get_docstring(ast.parse(text)) or "")
    assert all(long.values()), long
