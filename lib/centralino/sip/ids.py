"""Identifiers a UA or proxy mints: branches (§8.1.1.7), tags (§19.3), Call-IDs (§8.1.1.4).

Randomness is injected (``random_bytes``) so tests can be deterministic; the default is
``secrets.token_bytes``. Tags and branches need to be unguessable only enough to be
globally unique: 64 bits for tags, 96 for branches.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from centralino.sip.via import BRANCH_MAGIC_COOKIE

__all__ = ["RandomBytes", "generate_branch", "generate_call_id", "generate_tag"]

RandomBytes = Callable[[int], bytes]


def generate_branch(random_bytes: RandomBytes = secrets.token_bytes) -> str:
    """A new RFC 3261 branch: the ``z9hG4bK`` magic cookie plus 96 random bits."""
    return BRANCH_MAGIC_COOKIE + random_bytes(12).hex()


def generate_tag(random_bytes: RandomBytes = secrets.token_bytes) -> str:
    return random_bytes(8).hex()


def generate_call_id(
    host: str | None = None, random_bytes: RandomBytes = secrets.token_bytes
) -> str:
    local = random_bytes(16).hex()
    return f"{local}@{host}" if host else local
