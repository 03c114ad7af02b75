"""Overflow actions (OVF-02): one typed target per origin and failure cause.

An action is ``{"type": ..., "target": ...}``. The type says what kind of thing handles the
call and whether a target is needed; adding a new destination kind (a queue service that
arrives later, say) is one row in :data:`ACTION_TYPES`, not a schema change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from centralino_config_api.fields import Field, FieldInvalid, JsonValue


@dataclass(frozen=True, slots=True)
class ActionType:
    name: str
    #: "none": no target; "required": must name one; "optional": defaults to the extension itself
    target: str
    #: what a target must look like (``None``: an opaque id of the target entity)
    pattern: str | None
    why: str
    doc: str


_ID = r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}"
ACTION_TYPES: dict[str, ActionType] = {
    a.name: a
    for a in (
        ActionType("hangup", "none", None, "", "hang up the call"),
        ActionType(
            "custom_selection", "required", _ID, "must be a selection id", "custom selection"
        ),
        ActionType("ask_selection", "none", None, "", "ask the caller for a selection"),
        ActionType(
            "external_number",
            "required",
            r"\+?[0-9]{2,20}",
            "must be a telephone number (digits, optional leading +)",
            "forward to an external number",
        ),
        ActionType(
            "extension",
            "required",
            r"[0-9]{1,15}",
            "must be an extension number",
            "forward to an extension",
        ),
        ActionType("group", "required", _ID, "must be a group id", "ring group"),
        ActionType("queue", "required", _ID, "must be a queue id", "call queue"),
        ActionType("time_control", "required", _ID, "must be a time control id", "time control"),
        ActionType("ivr", "required", _ID, "must be an IVR id", "IVR menu"),
        ActionType(
            "voicemail",
            "optional",
            r"[0-9]{1,15}",
            "must be the extension number owning the box",
            "voicemail box (own box when no target)",
        ),
        ActionType("conference", "required", _ID, "must be a conference room id", "MeetMe room"),
    )
}

HANGUP: dict[str, Any] = {"type": "hangup", "target": None}


def check_action(v: JsonValue) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise FieldInvalid('must be an object like {"type": "hangup"}')
    unknown = set(v) - {"type", "target"}
    if unknown:
        raise FieldInvalid("unknown keys: " + ", ".join(sorted(map(str, unknown))))
    kind = ACTION_TYPES.get(v.get("type"))  # type: ignore[arg-type]
    if kind is None:
        raise FieldInvalid("type must be one of " + ", ".join(ACTION_TYPES))
    target = v.get("target")
    if target in ("", None):
        if kind.target == "required":
            raise FieldInvalid(f"a {kind.name} action needs a target")
        return {"type": kind.name, "target": None}
    if kind.target == "none":
        raise FieldInvalid(f"a {kind.name} action takes no target")
    if not isinstance(target, str) or (kind.pattern and not re.fullmatch(kind.pattern, target)):
        raise FieldInvalid(f"target {kind.why}")
    return {"type": kind.name, "target": target}


ACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": list(ACTION_TYPES)},
        "target": {"type": ["string", "null"], "maxLength": 64},
    },
    "required": ["type"],
    "additionalProperties": False,
}


def action(path: str, doc: str, req: str = "OVF-02") -> Field:
    return Field(path, check_action, dict(HANGUP), ACTION_SCHEMA, doc, req)
