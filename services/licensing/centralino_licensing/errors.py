"""Why the licensing service refuses something, typed by who can fix it.

Each error carries a stable ``reason`` code (sent to clients in the ``centralino-reason``
trailing metadata and REST bodies) and the gRPC status it maps to; the message says exactly
what was wrong so an administrator can act on it.
"""

from __future__ import annotations

import grpc


class LicensingError(Exception):
    """Base of every refusal a client can cause; never raised for our own bugs."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class LicenceKeyError(LicensingError):
    """The key is not a licence we can activate (format, signature, serial, dates, product)."""


class DuplicateLicence(LicensingError):
    """The licence (same id, same or older issue) is already active."""

    grpc_code = grpc.StatusCode.ALREADY_EXISTS

    def __init__(self, message: str) -> None:
        super().__init__("duplicate", message)


class NotFound(LicensingError):
    grpc_code = grpc.StatusCode.NOT_FOUND


class FailedPrecondition(LicensingError):
    """The request is well-formed but the current state does not allow it."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class Exhausted(LicensingError):
    """No channel left: the pool is empty or every licence seat is assigned."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class LicenceServerError(LicensingError):
    """The licence server is down, too slow, or answered something we cannot use."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
