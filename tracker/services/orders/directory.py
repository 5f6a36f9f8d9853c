"""Streets with their squads, and complaint categories: the district's own lists (data, not code)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from tracker.domain.errors import TrackerError
from tracker.models import Category, Order, Street


class DirectoryError(TrackerError):
    """A street or category could not be added or changed."""


def squad_name_for(street: str) -> str:
    """The usual name of a street's squad, e.g. 静安寺街道综合行政执法队."""
    return f"{street}综合行政执法队"


def add_street(session: Session, *, name: str, squad_name: str = "") -> Street:
    """A new street (or town) with its squad."""
    name = name.strip()
    if not name or len(name) > 64:
        raise DirectoryError(f"街镇名称“{name}”无效：不能为空，最多 64 个字符")
    if session.exec(select(Street).where(Street.name == name)).first() is not None:
        raise DirectoryError(f"街镇“{name}”已存在")
    street = Street(name=name, squad_name=squad_name.strip() or squad_name_for(name))
    session.add(street)
    session.flush()
    return street


def add_category(session: Session, *, name: str) -> Category:
    """A new complaint category."""
    name = name.strip()
    if not name or len(name) > 128:
        raise DirectoryError(f"问题分类“{name}”无效：不能为空，最多 128 个字符")
    if session.exec(select(Category).where(Category.name == name)).first() is not None:
        raise DirectoryError(f"问题分类“{name}”已存在")
    category = Category(name=name)
    session.add(category)
    session.flush()
    return category


def adopt_from_orders(session: Session) -> tuple[int, int]:
    """Add the streets and categories that imported orders carry but the lists lack; returns (streets, categories)."""
    streets = set(session.exec(select(Street.name)).all())
    categories = set(session.exec(select(Category.name)).all())
    new_streets = [s for s in session.exec(select(Order.street).distinct()).all() if s and s not in streets]
    new_categories = [c for c in session.exec(select(Order.category).distinct()).all() if c and c not in categories]
    for name in sorted(new_streets):
        session.add(Street(name=name[:64], squad_name=squad_name_for(name)))
    for name in sorted(new_categories):
        session.add(Category(name=name[:128]))
    session.flush()
    return len(new_streets), len(new_categories)


def street_names(session: Session, *, active_only: bool = True) -> list[str]:
    """Street names in list order."""
    query = select(Street.name).order_by(col(Street.id))
    if active_only:
        query = query.where(col(Street.active).is_(True))
    return list(session.exec(query).all())


def street_choices_all(session: Session) -> list[str]:
    """Street names for filters and forms: the street list, else the streets that orders carry."""
    names = street_names(session)
    return names or [s for s in session.exec(select(Order.street).distinct().order_by(col(Order.street))).all() if s]


def category_names(session: Session) -> list[str]:
    """Active category names, alphabetically."""
    query = select(Category.name).where(col(Category.active).is_(True)).order_by(col(Category.name))
    return list(session.exec(query).all())


def all_streets(session: Session) -> list[Street]:
    """Every street, active or not, in list order."""
    return list(session.exec(select(Street).order_by(col(Street.id))).all())


def all_categories(session: Session) -> list[Category]:
    """Every category, active or not, alphabetically."""
    return list(session.exec(select(Category).order_by(col(Category.name))).all())


def _street(session: Session, street_id: int) -> Street:
    street = session.get(Street, street_id)
    if street is None:
        raise DirectoryError(f"街镇编号 {street_id} 不存在")
    return street


def rename_squad(session: Session, *, street_id: int, squad_name: str) -> Street:
    """Give a street's squad a new name."""
    street = _street(session, street_id)
    squad_name = squad_name.strip()
    if not squad_name or len(squad_name) > 128:
        raise DirectoryError(f"{street.name}的执法队名称“{squad_name}”无效：不能为空，最多 128 个字符")
    street.squad_name = squad_name
    session.add(street)
    session.flush()
    return street


def set_street_active(session: Session, *, street_id: int, active: bool) -> Street:
    """Offer a street in forms and filters again, or stop offering it (orders and users keep it)."""
    street = _street(session, street_id)
    street.active = active
    session.add(street)
    session.flush()
    return street


def set_category_active(session: Session, *, category_id: int, active: bool) -> Category:
    """Offer a category in filters and forms again, or stop offering it (orders keep it)."""
    category = session.get(Category, category_id)
    if category is None:
        raise DirectoryError(f"问题分类编号 {category_id} 不存在")
    category.active = active
    session.add(category)
    session.flush()
    return category
