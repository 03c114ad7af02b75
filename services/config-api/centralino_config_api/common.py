"""Small helpers shared by the stores: request bodies, ids, revisions."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Any

from centralino_config_api.errors import (
    FieldProblem,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)

KIND_LABEL = {
    "extension": "extension",
    "account": "SIP account",
    "extension_template": "extension template",
    "account_template": "account template",
    "pickup_group": "pickup group",
    "routing_class": "outbound routing class",
    "trunk": "SIP trunk",
    "tenant": "tenant",
    "user": "user",
}


def storable(text: str) -> bool:
    """PostgreSQL text holds neither NUL nor lone surrogates."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed("invalid body", [FieldProblem("$", "must be a JSON object")])
    return body


def check_keys(
    body: Mapping[str, Any], allowed: Collection[str], read_only: Collection[str] = ()
) -> None:
    problems = []
    for key in body:
        if key in read_only:
            problems.append(FieldProblem(key, "is read-only"))
        elif key not in allowed:
            problems.append(FieldProblem(key, "unknown field"))
    if problems:
        raise ValidationFailed("invalid body", problems)


def check_revision(kind: str, current: int, expected: int | None) -> None:
    """``expected`` is the revision from If-Match (None when the caller opted out)."""
    if expected is not None and expected != current:
        raise PreconditionFailed(
            f"the {KIND_LABEL.get(kind, kind)} changed since you read it (now revision "
            f"{current}); reload and retry",
            current_etag=etag(current),
        )


def etag(revision: int) -> str:
    return f'"{revision}"'


def not_found(kind: str, key: str) -> NotFound:
    return NotFound(f"no {KIND_LABEL.get(kind, kind)} {key!r}")


def iso(ts: Any) -> str | None:
    return None if ts is None else ts.isoformat()
