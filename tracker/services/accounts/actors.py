"""Who did something: a user, an import batch, a job or an operator at the command line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The actor of an event; ``name`` is kept as it was at the time."""

    id: str
    name: str
    source: str

    @classmethod
    def importer(cls, batch: str) -> Actor:
        """The actor for rows of one import batch."""
        return cls(id=f"import:{batch}", name=f"导入批次 {batch}", source="import")

    @classmethod
    def job(cls, name: str) -> Actor:
        """The actor for a scheduler job."""
        return cls(id=f"job:{name}", name=f"定时任务 {name}", source="job")

    @classmethod
    def cli(cls, name: str = "命令行操作员") -> Actor:
        """The actor for an operator's flask command."""
        return cls(id="cli", name=name, source="cli")
