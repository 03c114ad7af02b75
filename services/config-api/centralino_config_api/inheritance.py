"""Template inheritance (TPL-01..05): effective value = override, else template, else default.

Items store only the attributes they override; templates store only the attributes they
set. Nothing is copied at assignment time, so a template edit reaches every item that does
not override the attribute, an override survives template edits, and removing the override
("reset") makes the item inherit again. See docs/adr/0003.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from centralino_config_api.errors import FieldProblem, ValidationFailed
from centralino_config_api.fields import FieldSet, JsonValue, _copy, nest


class Source(StrEnum):
    DEFAULT = "default"
    TEMPLATE = "template"
    OVERRIDE = "override"


@dataclass(frozen=True, slots=True)
class Effective:
    values: dict[str, JsonValue]
    sources: dict[str, Source]

    def nested(self) -> dict[str, Any]:
        return nest(self.values)


def merge(
    fields: FieldSet, template: Mapping[str, JsonValue] | None, overrides: Mapping[str, JsonValue]
) -> Effective:
    """Hot path (every read): values from ``overrides`` and ``template`` are used as they
    are, so callers must treat the result as read-only; shared defaults are copied."""
    values: dict[str, JsonValue] = {}
    sources: dict[str, Source] = {}
    template = template or {}
    for path, default in fields.shareable_defaults:
        if path in overrides:
            values[path], sources[path] = overrides[path], Source.OVERRIDE
        elif path in template:
            values[path], sources[path] = template[path], Source.TEMPLATE
        else:
            values[path] = _copy(default) if isinstance(default, list | dict) else default
            sources[path] = Source.DEFAULT
    return Effective(values, sources)


def apply_changes(
    fields: FieldSet,
    current: Mapping[str, JsonValue],
    settings: JsonValue,
    reset: JsonValue,
) -> dict[str, JsonValue]:
    """New overrides from a request: ``settings`` sets overrides, ``reset`` drops them."""
    out = dict(current)
    out.update(fields.flatten(settings if settings is not None else {}, "settings"))
    for path in parse_reset(fields, reset):
        out.pop(path, None)
    return out


def parse_reset(fields: FieldSet, reset: JsonValue) -> list[str]:
    if reset is None:
        return []
    if not isinstance(reset, list):
        raise ValidationFailed("invalid reset", [FieldProblem("reset", "must be a list of paths")])
    problems = []
    paths: list[str] = []
    for i, item in enumerate(reset):
        if not isinstance(item, str):
            problems.append(FieldProblem(f"reset[{i}]", "must be an attribute path"))
            continue
        matched = _expand(fields, item)
        if not matched:
            problems.append(FieldProblem(f"reset[{i}]", f"{item!r} is not a shareable attribute"))
        paths.extend(matched)
    if problems:
        raise ValidationFailed("invalid reset", problems)
    return paths


def _expand(fields: FieldSet, path: str) -> list[str]:
    """``overflow.external`` resets every attribute under it; ``*`` resets everything."""
    if path == "*":
        return [f.path for f in fields.shareable]
    return [f.path for f in fields.shareable if f.path == path or f.path.startswith(path + ".")]
