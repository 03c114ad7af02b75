"""Building and parsing LDAP PDUs with ldap3's RFC 4511 ASN.1 definitions (pyasn1).

Only the outer framing (how long is the next PDU?) is computed by hand: a TCP stream
delivers partial and concatenated PDUs, and pyasn1 cannot say "need more data".
"""

from __future__ import annotations

from typing import Any

from ldap3.protocol import rfc4511 as asn
from ldap3.protocol.rfc2696 import RealSearchControlValue
from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error

from centralino_directory.ldap import filter_spec
from centralino_directory.ldap.errors import LdapProtocolError, ResultCode
from centralino_directory.ldap.schema import LdapEntry

filter_spec.repair()

NOTICE_OF_DISCONNECTION_OID = "1.3.6.1.4.1.1466.20036"
# Besides PyAsn1Error, pyasn1 reports some malformed encodings as TypeError, OverflowError
# or IndexError (absurd inner lengths) and RecursionError (structures nested without end):
# all found by fuzzing, all mean the peer sent garbage.
_GARBAGE = (PyAsn1Error, RecursionError, TypeError, OverflowError, IndexError)
_SEQUENCE_TAG = 0x30


def pdu_length(buffer: bytes | bytearray, max_size: int) -> int | None:
    """Size of the LDAPMessage at the start of ``buffer``; None until its header is in.

    LDAP forbids the indefinite length form (RFC 4511 §5.1), so the header alone tells.
    """
    if len(buffer) < 2:
        return None
    if buffer[0] != _SEQUENCE_TAG:
        raise LdapProtocolError(f"expected an LDAPMessage SEQUENCE, got tag 0x{buffer[0]:02x}")
    first = buffer[1]
    if first < 0x80:
        total = 2 + first
    else:
        n = first & 0x7F
        if n == 0:
            raise LdapProtocolError("indefinite length encoding is not allowed in LDAP")
        if n > 4:
            raise LdapProtocolError(f"length of {n} octets is too large")
        if len(buffer) < 2 + n:
            return None
        total = 2 + n + int.from_bytes(buffer[2 : 2 + n], "big")
    if total > max_size:
        raise LdapProtocolError(f"PDU of {total} bytes exceeds the {max_size}-byte limit")
    return total


def decode_message(pdu: bytes) -> Any:
    try:
        message, rest = decoder.decode(pdu, asn1Spec=asn.LDAPMessage())
    except _GARBAGE as exc:
        raise LdapProtocolError(f"undecodable LDAPMessage: {exc}") from None
    if rest:
        raise LdapProtocolError(f"{len(rest)} trailing bytes after LDAPMessage")
    return message


def text(value: Any, what: str) -> str:
    """A decoded OCTET STRING as UTF-8 text (RFC 4511 §4.1.2 LDAPString)."""
    try:
        return bytes(value.asOctets()).decode("utf-8")
    except UnicodeDecodeError:
        raise LdapProtocolError(f"{what} is not valid UTF-8") from None
    except PyAsn1Error:
        raise LdapProtocolError(f"{what} is missing") from None


def _encode(message_id: int, op_name: str, op: Any, controls: Any = None) -> bytes:
    message = asn.LDAPMessage()
    message["messageID"] = asn.MessageID(message_id)
    protocol_op = asn.ProtocolOp()
    protocol_op[op_name] = op
    message["protocolOp"] = protocol_op
    if controls is not None:
        message["controls"] = controls
    return bytes(encoder.encode(message))


def _fill_result(op: Any, code: ResultCode, diagnostic: str, matched_dn: str) -> None:
    op["resultCode"] = asn.ResultCode(int(code))
    op["matchedDN"] = asn.LDAPDN(matched_dn)
    op["diagnosticMessage"] = asn.LDAPString(diagnostic)


#: protocolOp choice name → response class, for the operations answered with a result only
RESULT_RESPONSES: dict[str, tuple[str, type[Any]]] = {
    "bindRequest": ("bindResponse", asn.BindResponse),
    "modifyRequest": ("modifyResponse", asn.ModifyResponse),
    "addRequest": ("addResponse", asn.AddResponse),
    "delRequest": ("delResponse", asn.DelResponse),
    "modDNRequest": ("modDNResponse", asn.ModifyDNResponse),
    "compareRequest": ("compareResponse", asn.CompareResponse),
}


def result_response(
    request_op: str, message_id: int, code: ResultCode, diagnostic: str = "", matched_dn: str = ""
) -> bytes:
    op_name, cls = RESULT_RESPONSES[request_op]
    op = cls()
    _fill_result(op, code, diagnostic, matched_dn)
    return _encode(message_id, op_name, op)


def search_entry(
    message_id: int, entry: LdapEntry, attributes: list[str], types_only: bool
) -> bytes:
    op = asn.SearchResultEntry()
    op["object"] = asn.LDAPDN(entry.dn)
    attrs = asn.PartialAttributeList()
    for i, name in enumerate(attributes):
        attr = asn.PartialAttribute()
        attr["type"] = asn.AttributeDescription(name)
        vals = asn.Vals()
        if not types_only:
            for j, value in enumerate(entry.attributes[name]):
                vals[j] = asn.AttributeValue(value.encode("utf-8"))
        attr["vals"] = vals
        attrs[i] = attr
    op["attributes"] = attrs
    return _encode(message_id, "searchResEntry", op)


def paged_control(size: int, cookie: bytes) -> Any:
    value = RealSearchControlValue()
    value["size"] = size
    value["cookie"] = cookie
    control = asn.Control()
    control["controlType"] = asn.LDAPOID("1.2.840.113556.1.4.319")
    control["criticality"] = False
    control["controlValue"] = encoder.encode(value)
    controls = asn.Controls()
    controls[0] = control
    return controls


def decode_paged_value(raw: bytes) -> tuple[int, bytes]:
    try:
        value, rest = decoder.decode(raw, asn1Spec=RealSearchControlValue())
        if rest:
            raise LdapProtocolError("trailing bytes in paged results control")
        return int(value["size"]), bytes(value["cookie"].asOctets())
    except _GARBAGE as exc:
        raise LdapProtocolError(f"malformed paged results control: {exc}") from None


def search_done(
    message_id: int,
    code: ResultCode,
    diagnostic: str = "",
    matched_dn: str = "",
    controls: Any = None,
) -> bytes:
    op = asn.SearchResultDone()
    _fill_result(op, code, diagnostic, matched_dn)
    return _encode(message_id, "searchResDone", op, controls)


def extended_response(
    message_id: int,
    code: ResultCode,
    diagnostic: str = "",
    name: str | None = None,
    value: bytes | None = None,
) -> bytes:
    op = asn.ExtendedResponse()
    _fill_result(op, code, diagnostic, "")
    if name is not None:
        op["responseName"] = asn.ResponseName(name)
    if value is not None:
        op["responseValue"] = asn.ResponseValue(value)
    return _encode(message_id, "extendedResp", op)


def notice_of_disconnection(diagnostic: str) -> bytes:
    """The unsolicited notification sent before closing on a protocol error (§4.4.1)."""
    return extended_response(
        0, ResultCode.PROTOCOL_ERROR, diagnostic, name=NOTICE_OF_DISCONNECTION_OID
    )
