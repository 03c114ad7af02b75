"""The NATS subject scheme.

Durable events: ``centralino.<tenant>.<domain>.<entity...>.<event>``, all captured by the
JetStream stream ``CENTRALINO_EVENTS`` so a consumer that was down catches up.
Examples::

    centralino.demo.config.extension.updated       ConfigChanged
    centralino.demo.registrar.location.registered  LocationEvent
    centralino.demo.call.answered                  CallEvent
    centralino.demo.media.session.inactive         MediaInactivity
    centralino._system.licensing.licence.expired   LicenceEvent (not tenant-scoped)

Ephemeral, not stored: ``sys.centralino.<kind>.<service>`` (heartbeats).
Tenant names are subject tokens, so they may not contain ``.``, ``*``, ``>`` or spaces;
config-api enforces a narrower slug syntax for them.
"""

from __future__ import annotations

import re

ROOT = "centralino"
SYSTEM_TENANT = "_system"
EVENTS_STREAM = "CENTRALINO_EVENTS"
EVENTS_SUBJECTS = [f"{ROOT}.>"]
HEARTBEAT_PREFIX = "sys.centralino.heartbeat"

_TOKEN = re.compile(r"^[A-Za-z0-9_\-]+$")


class SubjectError(ValueError):
    """A subject token is not a valid NATS token for our scheme."""


def _check(token: str) -> str:
    if not _TOKEN.match(token):
        raise SubjectError(f"invalid subject token {token!r}: use letters, digits, '-' or '_'")
    return token


def event_subject(tenant: str, domain: str, *parts: str) -> str:
    return ".".join([ROOT, _check(tenant), _check(domain), *(_check(p) for p in parts)])


def tenant_wildcard(tenant: str, domain: str) -> str:
    return f"{ROOT}.{_check(tenant)}.{_check(domain)}.>"


def any_tenant(domain: str, *parts: str) -> str:
    """Subscribe to ``domain`` events of every tenant, e.g. ``any_tenant("config")``."""
    tail = ".".join(_check(p) for p in parts) if parts else ">"
    return f"{ROOT}.*.{_check(domain)}.{tail}"


RINGING_PREFIX = f"sys.{ROOT}.router.ringing"
CALLS_PREFIX = f"sys.{ROOT}.router.calls"


def ringing_subject(tenant: str) -> str:
    """Where router replicas answer which calls ring on them (request/reply, not stored)."""
    return f"{RINGING_PREFIX}.{_check(tenant)}"


def calls_subject(tenant: str) -> str:
    """Where the router replica holding an answered call says so (request/reply)."""
    return f"{CALLS_PREFIX}.{_check(tenant)}"


def heartbeat_subject(service: str) -> str:
    return f"{HEARTBEAT_PREFIX}.{_check(service)}"


def tenant_of(subject: str) -> str:
    parts = subject.split(".")
    if len(parts) < 3 or parts[0] != ROOT:
        raise SubjectError(f"not a centralino event subject: {subject!r}")
    return parts[1]
