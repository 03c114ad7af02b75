"""Declarative attributes: one table drives validation, defaults, templates and OpenAPI.

Every configurable attribute of an extension or SIP account is a :class:`Field` with a dotted
path (``voicemail.enabled``), a default, whether a template may supply it, and a checker
that returns the normalised value or raises :class:`FieldInvalid` with the reason. Keeping
them as data means the REST schema, the template merge and the validation can never
disagree about what an attribute is.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from centralino_config_api.errors import FieldProblem, ValidationFailed

JsonValue = Any
Checker = Callable[[JsonValue], JsonValue]


class FieldInvalid(ValueError):
    """A single value is wrong; the message is the reason shown to the client."""


@dataclass(frozen=True, slots=True)
class Field:
    path: str
    check: Checker
    default: JsonValue
    schema: Mapping[str, Any]
    doc: str
    #: requirement IDs this attribute implements
    req: str = ""
    #: a template may supply it (TPL-06/TPL-09 list the ones that may not)
    shareable: bool = True


def _nullable(schema: Mapping[str, Any], nullable: bool) -> dict[str, Any]:
    out = dict(schema)
    if nullable:
        t = out.get("type")
        if t is not None:
            out["type"] = [t, "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def boolean(path: str, default: bool, doc: str, req: str = "", shareable: bool = True) -> Field:
    def check(v: JsonValue) -> bool:
        if not isinstance(v, bool):
            raise FieldInvalid("must be true or false")
        return v

    return Field(path, check, default, {"type": "boolean"}, doc, req, shareable)


def integer(
    path: str,
    default: int | None,
    doc: str,
    *,
    minimum: int,
    maximum: int,
    req: str = "",
    nullable: bool = False,
    shareable: bool = True,
) -> Field:
    def check(v: JsonValue) -> int | None:
        if v is None and nullable:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise FieldInvalid("must be an integer")
        if not minimum <= v <= maximum:
            raise FieldInvalid(f"must be between {minimum} and {maximum}")
        return v

    schema = _nullable({"type": "integer", "minimum": minimum, "maximum": maximum}, nullable)
    return Field(path, check, default, schema, doc, req, shareable)


def text(
    path: str,
    default: str | None,
    doc: str,
    *,
    pattern: str | None = None,
    why: str = "",
    max_length: int = 128,
    min_length: int = 0,
    nullable: bool = True,
    req: str = "",
    shareable: bool = True,
) -> Field:
    """A string; ``""`` is stored as null when nullable, so "unset" has one spelling."""
    compiled = re.compile(pattern) if pattern else None

    def check(v: JsonValue) -> str | None:
        if v is None or v == "":
            if nullable:
                return None
            raise FieldInvalid("is required")
        if not isinstance(v, str):
            raise FieldInvalid("must be a string")
        if len(v) > max_length:
            raise FieldInvalid(f"must be at most {max_length} characters")
        if len(v) < min_length:
            raise FieldInvalid(f"must be at least {min_length} characters")
        if "\x00" in v:
            raise FieldInvalid("must not contain NUL characters")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise FieldInvalid("must be valid Unicode text (no lone surrogates)") from None
        if compiled and not compiled.fullmatch(v):
            raise FieldInvalid(why or f"must match {pattern}")
        return v

    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    if pattern:
        schema["pattern"] = f"^(?:{pattern})$"
    return Field(path, check, default, _nullable(schema, nullable), doc, req, shareable)


def choice(
    path: str, values: Sequence[str], default: str, doc: str, req: str = "", shareable: bool = True
) -> Field:
    allowed = tuple(values)

    def check(v: JsonValue) -> str:
        if v not in allowed:
            raise FieldInvalid("must be one of " + ", ".join(allowed))
        return str(v)

    return Field(
        path, check, default, {"type": "string", "enum": list(allowed)}, doc, req, shareable
    )


def ordered_set(
    path: str,
    values: Sequence[str],
    default: Sequence[str],
    doc: str,
    *,
    min_items: int = 0,
    req: str = "",
    aliases: Mapping[str, str] | None = None,
) -> Field:
    """An ordered selection from ``values`` without repeats (codec lists, transports)."""
    allowed = tuple(values)
    folded = {v.lower(): v for v in allowed} | {k.lower(): v for k, v in (aliases or {}).items()}

    def check(v: JsonValue) -> list[str]:
        if not isinstance(v, list):
            raise FieldInvalid("must be a list")
        out: list[str] = []
        for item in v:
            name = folded.get(item.lower()) if isinstance(item, str) else None
            if name is None:
                raise FieldInvalid(f"{item!r} is not one of " + ", ".join(allowed))
            if name in out:
                raise FieldInvalid(f"{name} is listed twice")
            out.append(name)
        if len(out) < min_items:
            raise FieldInvalid(f"must list at least {min_items}")
        return out

    schema = {
        "type": "array",
        "items": {"type": "string", "enum": list(allowed)},
        "uniqueItems": True,
        "minItems": min_items,
    }
    return Field(path, check, list(default), schema, doc, req)


def _uuid(v: JsonValue) -> str:
    if not isinstance(v, str):
        raise FieldInvalid("must be an id (UUID string)")
    try:
        return str(uuid.UUID(v))
    except ValueError:
        raise FieldInvalid("must be an id (UUID string)") from None


def reference(path: str, target: str, doc: str, req: str = "") -> Field:
    """The id of another tenant entity of kind ``target``, or null; existence is checked
    by the store, which can see the database."""

    def check(v: JsonValue) -> str | None:
        return None if v is None else _uuid(v)

    schema = {"type": ["string", "null"], "format": "uuid", "x-references": target}
    return Field(path, check, None, schema, doc, req)


def references(path: str, target: str, doc: str, req: str = "") -> Field:
    def check(v: JsonValue) -> list[str]:
        if not isinstance(v, list):
            raise FieldInvalid("must be a list of ids")
        out = [_uuid(x) for x in v]
        if len(set(out)) != len(out):
            raise FieldInvalid("lists an id twice")
        return out

    schema = {
        "type": "array",
        "items": {"type": "string", "format": "uuid"},
        "uniqueItems": True,
        "x-references": target,
    }
    return Field(path, check, [], schema, doc, req)


def ip_address(path: str, doc: str, req: str = "") -> Field:
    def check(v: JsonValue) -> str | None:
        if v is None or v == "":
            return None
        if not isinstance(v, str):
            raise FieldInvalid("must be an IPv4 or IPv6 address")
        try:
            return str(ipaddress.ip_address(v))
        except ValueError:
            raise FieldInvalid("must be an IPv4 or IPv6 address") from None

    schema = {"type": ["string", "null"], "maxLength": 45}
    return Field(path, check, None, schema, doc, req)


def netmask(path: str, doc: str, req: str = "") -> Field:
    """A dotted IPv4 mask (``255.255.255.0``) or a prefix length (``24``, ``/64``)."""

    def check(v: JsonValue) -> str | None:
        if v is None or v == "":
            return None
        if not isinstance(v, str):
            raise FieldInvalid("must be a netmask such as 255.255.255.0 or a prefix length")
        raw = v.removeprefix("/")
        if raw.isdigit():
            if not 0 <= int(raw) <= 128:
                raise FieldInvalid("prefix length must be between 0 and 128")
            return raw
        try:
            net = ipaddress.IPv4Network(f"0.0.0.0/{raw}")
        except ValueError:
            raise FieldInvalid("must be a contiguous netmask such as 255.255.255.0") from None
        return str(net.netmask)

    schema = {"type": ["string", "null"], "maxLength": 45}
    return Field(path, check, None, schema, doc, req)


# -- documents -------------------------------------------------------------------------


class FieldSet:
    """An ordered registry of fields addressed by dotted path."""

    def __init__(self, fields: Iterable[Field]) -> None:
        self.fields: dict[str, Field] = {}
        for f in fields:
            if f.path in self.fields:
                raise ValueError(f"duplicate field {f.path}")
            self.fields[f.path] = f

        #: (path, default) of the shareable fields, precomputed for the merge on every read
        self.shareable_defaults: tuple[tuple[str, JsonValue], ...] = tuple(
            (f.path, f.default) for f in self.fields.values() if f.shareable
        )

    def __getitem__(self, path: str) -> Field:
        return self.fields[path]

    def __contains__(self, path: object) -> bool:
        return path in self.fields

    @property
    def shareable(self) -> list[Field]:
        return [f for f in self.fields.values() if f.shareable]

    def defaults(self) -> dict[str, JsonValue]:
        return {p: _copy(f.default) for p, f in self.fields.items()}

    def flatten(self, doc: JsonValue, where: str, *, only_shareable: bool = True) -> dict[str, Any]:
        """Turn a nested document into ``{path: value}``, validating each leaf and
        rejecting unknown keys; all problems are collected into one error."""
        problems: list[FieldProblem] = []
        out: dict[str, Any] = {}

        def at(path: str) -> str:
            return f"{where}.{path}" if where else path

        def walk(node: JsonValue, prefix: str) -> None:
            if not isinstance(node, dict):
                problems.append(
                    FieldProblem(at(prefix) if prefix else where or "$", "must be an object")
                )
                return
            for key, value in node.items():
                path = f"{prefix}.{key}" if prefix else str(key)
                spec = self.fields.get(path)
                if spec is not None:
                    if only_shareable and not spec.shareable:
                        problems.append(FieldProblem(at(path), "is not shareable"))
                        continue
                    try:
                        out[path] = spec.check(value)
                    except FieldInvalid as exc:
                        problems.append(FieldProblem(at(path), str(exc)))
                elif any(p.startswith(path + ".") for p in self.fields):
                    walk(value, path)
                else:
                    problems.append(FieldProblem(at(path), "unknown attribute"))

        walk(doc, "")
        if problems:
            raise ValidationFailed("invalid attributes", problems)
        return out

    def json_schema(self, *, only_shareable: bool, partial: bool) -> dict[str, Any]:
        """The nested JSON Schema of a settings document."""
        root: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
        for f in self.fields.values():
            if only_shareable and not f.shareable:
                continue
            node = root
            *parents, leaf = f.path.split(".")
            for part in parents:
                node = node["properties"].setdefault(
                    part, {"type": "object", "properties": {}, "additionalProperties": False}
                )
            leaf_schema = dict(f.schema)
            leaf_schema["description"] = f.doc + (f" ({f.req})" if f.req else "")
            node["properties"][leaf] = leaf_schema
            if not partial:
                node.setdefault("required", []).append(leaf)
        return root


@functools.lru_cache(maxsize=4096)
def _split(path: str) -> tuple[tuple[str, ...], str]:
    *parents, leaf = path.split(".")
    return tuple(parents), leaf


def nest(flat: Mapping[str, JsonValue]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in flat.items():
        split = _split(path)
        node = out
        for part in split[0]:
            node = node.setdefault(part, {})
        node[split[1]] = value
    return out


def _copy(v: JsonValue) -> JsonValue:
    if isinstance(v, list):
        return [_copy(x) for x in v]
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    return v
