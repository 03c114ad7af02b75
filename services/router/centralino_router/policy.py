"""The slice of an extension's effective settings that call control needs.

config-api owns the data model; the router receives an extension's effective
(template-merged) settings and reads them through these types, so a malformed document
fails here with the field named instead of deep inside call handling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Origin(StrEnum):
    """Where a call came from (OVF-01)."""

    INTERNAL = "internal"
    EXTERNAL = "external"
    TRANSFER = "transfer"


class Cause(StrEnum):
    """Why a call to an extension failed (OVF-02..05)."""

    NO_ANSWER = "no_answer"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"


class TargetKind(StrEnum):
    """Every overflow target of OVF-02; later subsystems slot in as new handlers."""

    HANGUP = "hangup"
    CUSTOM_SELECTION = "custom_selection"
    ASK_SELECTION = "ask_selection"
    EXTERNAL_NUMBER = "external_number"
    EXTENSION = "extension"
    GROUP = "group"
    QUEUE = "queue"
    TIME_CONTROL = "time_control"
    IVR = "ivr"
    VOICEMAIL = "voicemail"
    CONFERENCE = "conference"


class PolicyError(ValueError):
    """An extension's settings document does not have the shape call control needs."""

    def __init__(self, field_path: str, problem: str) -> None:
        super().__init__(f"{field_path}: {problem}")
        self.field_path = field_path


@dataclass(frozen=True, slots=True)
class OverflowAction:
    kind: TargetKind = TargetKind.HANGUP
    target: str = ""  # extension number, external number or selection, by kind


@dataclass(frozen=True, slots=True)
class OriginOverflow:
    timeout_seconds: int = 0  # 0: ring until the caller gives up
    no_answer: OverflowAction = field(default_factory=OverflowAction)
    busy: OverflowAction = field(default_factory=OverflowAction)
    unavailable: OverflowAction = field(default_factory=OverflowAction)

    def action(self, cause: Cause) -> OverflowAction:
        return {
            Cause.NO_ANSWER: self.no_answer,
            Cause.BUSY: self.busy,
            Cause.UNAVAILABLE: self.unavailable,
        }[cause]


@dataclass(frozen=True, slots=True)
class ExtensionPolicy:
    tenant: str
    number: str
    enabled: bool = True
    display_name: str = ""
    call_limit: int = 0  # LIM-01, 0 = no limit
    busy_level: int = 0  # LIM-03, 0 = no limit
    overflow: Mapping[Origin, OriginOverflow] = field(default_factory=dict)

    def overflow_for(self, origin: Origin) -> OriginOverflow:
        return self.overflow.get(origin, OriginOverflow())


def _action(doc: Any, path: str) -> OverflowAction:
    if doc is None:
        return OverflowAction()
    if not isinstance(doc, Mapping):
        raise PolicyError(path, "expected an object with 'type' and optional 'target'")
    try:
        kind = TargetKind(doc.get("type", "hangup"))
    except ValueError:
        raise PolicyError(f"{path}.type", f"unknown overflow target {doc.get('type')!r}") from None
    target = doc.get("target") or ""
    if not isinstance(target, str):
        raise PolicyError(f"{path}.target", "expected a string")
    needs_target = {TargetKind.EXTENSION, TargetKind.EXTERNAL_NUMBER, TargetKind.CUSTOM_SELECTION}
    if kind in needs_target and not target:
        raise PolicyError(f"{path}.target", f"required for {kind.value}")
    return OverflowAction(kind, target)


def _non_negative(doc: Mapping[str, Any], key: str, path: str) -> int:
    value = doc.get(key, 0) or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PolicyError(f"{path}{key}", "expected a non-negative integer")
    return value


def parse_overflow(doc: Any, path: str = "overflow") -> dict[Origin, OriginOverflow]:
    """Read config-api's ``overflow`` document: per origin a ``timeout`` and, per cause, an
    action ``{"type": ..., "target": ... | null}``."""
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise PolicyError(path, "expected an object keyed by origin")
    result: dict[Origin, OriginOverflow] = {}
    for key, value in doc.items():
        try:
            origin = Origin(key)
        except ValueError:
            raise PolicyError(f"{path}.{key}", "unknown call origin") from None
        if not isinstance(value, Mapping):
            raise PolicyError(f"{path}.{key}", "expected an object")
        p = f"{path}.{key}."
        result[origin] = OriginOverflow(
            timeout_seconds=_non_negative(value, "timeout", p),
            no_answer=_action(value.get("no_answer"), p + "no_answer"),
            busy=_action(value.get("busy"), p + "busy"),
            unavailable=_action(value.get("unavailable"), p + "unavailable"),
        )
    return result
