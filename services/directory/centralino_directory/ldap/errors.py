"""LDAP errors, typed by who is to blame.

:class:`LdapProtocolError` is the client's fault at the PDU level: the connection cannot
continue (RFC 4511 §4.1.1: a PDU we cannot parse ends the session with a Notice of
Disconnection). :class:`LdapOperationError` fails one operation with a result code and
keeps the connection.
"""

from __future__ import annotations

from enum import IntEnum


class ResultCode(IntEnum):
    """The RFC 4511 §4.1.9 result codes this server sends."""

    SUCCESS = 0
    OPERATIONS_ERROR = 1
    PROTOCOL_ERROR = 2
    TIME_LIMIT_EXCEEDED = 3
    SIZE_LIMIT_EXCEEDED = 4
    AUTH_METHOD_NOT_SUPPORTED = 7
    UNAVAILABLE_CRITICAL_EXTENSION = 12
    NO_SUCH_OBJECT = 32
    INVALID_DN_SYNTAX = 34
    INAPPROPRIATE_AUTHENTICATION = 48
    INVALID_CREDENTIALS = 49
    INSUFFICIENT_ACCESS_RIGHTS = 50
    UNWILLING_TO_PERFORM = 53


class LdapProtocolError(Exception):
    """The peer sent something that is not a well-formed LDAPv3 PDU."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class LdapOperationError(Exception):
    """One operation fails with ``code``; ``matched_dn`` as RFC 4511 §4.1.9 defines it."""

    def __init__(self, code: ResultCode, message: str, matched_dn: str = "") -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.matched_dn = matched_dn
