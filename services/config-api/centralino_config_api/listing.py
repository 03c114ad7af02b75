"""Pagination, filtering and sorting of collection requests, turned into safe SQL.

Each collection declares which filters and sort keys it offers and the SQL expression
behind each; only those names are accepted, so query parameters never reach SQL as text.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from centralino_config_api.common import storable
from centralino_config_api.errors import FieldProblem, ValidationFailed

MAX_LIMIT = 500
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Filter:
    sql: str  # uses {p} for the parameter placeholder
    kind: str = "text"  # text | bool | uuid | search
    doc: str = ""


@dataclass(frozen=True)
class Collection:
    filters: Mapping[str, Filter]
    sorts: Mapping[str, str]
    default_sort: str


@dataclass
class Page:
    where: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)
    order: str = ""
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    async def fetch(self, conn: Any, base: str) -> list[Any]:
        sql = self.sql(base)
        return await conn.fetch(sql, *self.args)  # type: ignore[no-any-return]

    def sql(self, base: str) -> str:
        where = (" AND " + " AND ".join(self.where)) if self.where else ""
        return (
            f"{base}{where} ORDER BY {self.order} "
            f"LIMIT {self.arg(self.limit)} OFFSET {self.arg(self.offset)}"
        )


def _int(
    params: Mapping[str, str],
    name: str,
    default: int,
    lo: int,
    hi: int,
    problems: list[FieldProblem],
) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        problems.append(FieldProblem(name, f"must be an integer from {lo} to {hi}"))
        return default
    return int(raw)


_RESERVED = {"limit", "offset", "sort"}


def parse(params: Mapping[str, str], coll: Collection, first_args: list[Any]) -> Page:
    """``first_args`` are the base query's own parameters (the tenant, usually)."""
    problems: list[FieldProblem] = []
    page = Page(args=list(first_args))
    page.limit = _int(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, problems)
    page.offset = _int(params, "offset", 0, 0, 10_000_000, problems)
    orders = []
    for key in (params.get("sort") or coll.default_sort).split(","):
        desc = key.startswith("-")
        expr = coll.sorts.get(key.lstrip("-"))
        if expr is None:
            problems.append(FieldProblem("sort", f"{key!r} is not one of " + ", ".join(coll.sorts)))
            continue
        orders.append(", ".join(f"{e} {'DESC' if desc else 'ASC'}" for e in expr.split(",")))
    page.order = ", ".join([*orders, "id ASC"])
    for name, raw in params.items():
        if name in _RESERVED:
            continue
        spec = coll.filters.get(name)
        if not storable(raw):
            problems.append(FieldProblem(name, "must not contain NUL or invalid characters"))
            continue
        if spec is None:
            problems.append(FieldProblem(name, "unknown query parameter"))
            continue
        value: Any = raw
        if spec.kind == "bool":
            if raw not in ("true", "false"):
                problems.append(FieldProblem(name, "must be true or false"))
                continue
            value = raw == "true"
        elif spec.kind == "search":
            value = "%" + raw.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        elif spec.kind == "uuid":
            try:
                value = uuid.UUID(raw)
            except ValueError:
                problems.append(FieldProblem(name, "must be an id (UUID)"))
                continue
        page.where.append(spec.sql.format(p=page.arg(value)))
    if problems:
        raise ValidationFailed("invalid query", problems)
    return page
