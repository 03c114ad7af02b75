"""Errors the config-api raises, each carrying the HTTP status and gRPC code it maps to.

Domain code raises these; the REST middleware and the gRPC servicer turn them into a JSON
body or a status without knowing which rule failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One wrong field of a request: where it is and why it is wrong."""

    field: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


@dataclass(eq=False)
class ConfigError(Exception):
    """Base of every error a client can cause; never raised for our own bugs."""

    message: str
    status = 400
    code = "bad_request"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


@dataclass(eq=False)
class BadRequest(ConfigError):
    """The request is not even well-formed (bad JSON, wrong content type, bad query)."""


@dataclass(eq=False)
class ValidationFailed(ConfigError):
    """One or more fields are wrong; every problem is listed, not only the first."""

    problems: list[FieldProblem] = field(default_factory=list)
    status = 422
    code = "validation_failed"

    def body(self) -> dict[str, Any]:
        return {**super().body(), "fields": [p.as_json() for p in self.problems]}


@dataclass(eq=False)
class NotFound(ConfigError):
    status = 404
    code = "not_found"
    grpc_code = grpc.StatusCode.NOT_FOUND


@dataclass(eq=False)
class Conflict(ConfigError):
    """A duplicate, or a delete of something still referenced (``referenced_by`` lists who)."""

    referenced_by: list[dict[str, str]] = field(default_factory=list)
    status = 409
    code = "conflict"
    grpc_code = grpc.StatusCode.ALREADY_EXISTS

    def body(self) -> dict[str, Any]:
        out = super().body()
        if self.referenced_by:
            out["referenced_by"] = self.referenced_by
        return out


@dataclass(eq=False)
class PreconditionFailed(ConfigError):
    """If-Match names a revision that is no longer current: someone else changed it."""

    current_etag: str = ""
    status = 412
    code = "precondition_failed"
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


@dataclass(eq=False)
class PreconditionRequired(ConfigError):
    status = 428
    code = "precondition_required"
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


@dataclass(eq=False)
class Unauthorized(ConfigError):
    status = 401
    code = "unauthorized"
    grpc_code = grpc.StatusCode.UNAUTHENTICATED


@dataclass(eq=False)
class Forbidden(ConfigError):
    status = 403
    code = "forbidden"
    grpc_code = grpc.StatusCode.PERMISSION_DENIED


@dataclass(eq=False)
class TooManyAttempts(ConfigError):
    retry_after: int = 1
    status = 429
    code = "too_many_attempts"
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


@dataclass(eq=False)
class LicenceRequired(ConfigError):
    """The change needs a product licence this PBX does not hold (LIC-04)."""

    product: str = ""
    status = 402
    code = "licence_required"
    grpc_code = grpc.StatusCode.PERMISSION_DENIED

    def body(self) -> dict[str, Any]:
        return {**super().body(), "field": "licence", "product": self.product}


@dataclass(eq=False)
class LicensingUnavailable(ConfigError):
    """The licensing service could not be asked, so a licensed change cannot be allowed."""

    status = 503
    code = "licensing_unavailable"
    grpc_code = grpc.StatusCode.UNAVAILABLE
