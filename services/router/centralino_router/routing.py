"""Config-api's view of classes, the lock and the numbering plan, as the features' types.

config-api validates what it stores; these adapters only reshape it, and name the field
when a document still does not fit (an older row, a hand edit), so the call fails with
a clear 500 instead of deep inside a decision.
"""

from __future__ import annotations

import json
from typing import Any

from centralino.v1 import config_pb2
from centralino_router.features.classes import PatternError, RoutingClass, Rule, Verdict
from centralino_router.features.dialplan import NumberingPlan, ServiceCodes
from centralino_router.features.lock import LockError, LockSettings, UnlockMode, UnlockPolicy
from centralino_router.policy import PolicyError


def _settings(ext: config_pb2.Extension) -> dict[str, Any]:
    try:
        doc = json.loads(ext.settings_json or b"{}")
    except ValueError as exc:
        raise PolicyError("settings_json", f"not JSON: {exc}") from None
    settings = doc.get("settings") if isinstance(doc, dict) else None
    return settings if isinstance(settings, dict) else {}


def lock_settings(ext: config_pb2.Extension) -> LockSettings:
    """LOCK-01, LOCK-05, LOCK-08 from the extension's effective settings."""
    lock = _settings(ext).get("lock") or {}
    try:
        return LockSettings(
            mode=UnlockMode(lock.get("unlock_mode") or "open"),
            policy=UnlockPolicy(lock.get("policy") or "per_call"),
            duration_seconds=float(lock.get("duration") or 0),
        )
    except (ValueError, LockError) as exc:
        raise PolicyError("settings.lock", str(exc)) from None


def routing_class(pb: config_pb2.RoutingClass) -> RoutingClass:
    """COS-01/02: the class's rules in order; an allow rule names its trunk by id."""
    try:
        rules = tuple(
            Rule(r.pattern, Verdict.ALLOW if r.allow else Verdict.DENY, r.trunk_id)
            for r in pb.rules
        )
    except PatternError as exc:
        raise PolicyError(f"routing class {pb.name}", str(exc)) from None
    return RoutingClass(pb.name, rules)


def numbering_plan(
    codes: config_pb2.ServiceCodes, plan: config_pb2.NumberingPlan | None
) -> NumberingPlan:
    """The tenant's service codes and E.164 rules (``plan`` None: no E.164 conversion).
    Directed pickup shares the pickup code: the code alone picks up in the group, the
    code and an extension picks up there."""
    if plan is None:
        plan = config_pb2.NumberingPlan(international_prefix="00", national_prefix="0")
    return NumberingPlan(
        codes=ServiceCodes(
            lock=codes.lock, unlock=codes.unlock, pickup=codes.pickup, directed_pickup=codes.pickup
        ),
        country_code=plan.country_code,
        international_prefix=plan.international_prefix,
        national_prefix=plan.national_prefix,
    )
