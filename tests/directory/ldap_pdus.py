"""Client-side LDAP PDUs for the sans-IO tests, built with ldap3's own request builders."""

from __future__ import annotations

from typing import Any

from ldap3.operation.bind import bind_operation
from ldap3.operation.search import search_operation
from ldap3.protocol import rfc4511 as asn
from ldap3.protocol.rfc2696 import paged_search_control
from pyasn1.codec.ber import decoder, encoder

from centralino_directory.ldap.messages import pdu_length


def message(message_id: int, op_name: str, op: Any, controls: list[Any] | None = None) -> bytes:
    msg = asn.LDAPMessage()
    msg["messageID"] = asn.MessageID(message_id)
    protocol_op = asn.ProtocolOp()
    protocol_op[op_name] = op
    msg["protocolOp"] = protocol_op
    if controls:
        ctrls = asn.Controls()
        for i, control in enumerate(controls):
            if isinstance(control, tuple):
                oid, critical, value = control
                control = asn.Control()
                control["controlType"] = asn.LDAPOID(oid)
                control["criticality"] = critical
                if value is not None:
                    control["controlValue"] = value
            ctrls[i] = control
        msg["controls"] = ctrls
    return bytes(encoder.encode(msg))


def bind(message_id: int, name: str = "", password: str = "", version: int = 3) -> bytes:
    if name and password:
        op = bind_operation(version, "SIMPLE", name, password)
    else:
        # ldap3 refuses to build anonymous or unauthenticated simple binds itself.
        op = asn.BindRequest()
        op["version"] = asn.Version(version)
        op["name"] = name
        auth = asn.AuthenticationChoice()
        auth["simple"] = asn.Simple(password)
        op["authentication"] = auth
    return message(message_id, "bindRequest", op)


def search(
    message_id: int,
    base: str,
    search_filter: str = "(objectClass=*)",
    scope: int = 2,
    attributes: list[str] | None = None,
    size_limit: int = 0,
    time_limit: int = 0,
    types_only: bool = False,
    page: tuple[int, bytes] | None = None,
    critical: list[str] | None = None,
) -> bytes:
    op = search_operation(
        base,
        search_filter,
        scope,
        0,
        attributes if attributes is not None else [],
        size_limit,
        time_limit,
        types_only,
        True,
        True,
    )
    controls: list[Any] = []
    if page is not None:
        controls.append(paged_search_control(False, page[0], page[1]))
    for oid in critical or []:
        controls.append((oid, True, None))
    return message(message_id, "searchRequest", op, controls or None)


def unbind(message_id: int) -> bytes:
    return message(message_id, "unbindRequest", asn.UnbindRequest(""))


def split(data: bytes) -> list[Any]:
    """Decode every LDAPMessage in ``data``."""
    out = []
    while data:
        size = pdu_length(data, 1 << 30)
        assert size is not None and size <= len(data), "truncated response"
        msg, _ = decoder.decode(data[:size], asn1Spec=asn.LDAPMessage())
        out.append(msg)
        data = data[size:]
    return out


def op(msg: Any) -> tuple[str, Any]:
    return msg["protocolOp"].getName(), msg["protocolOp"].getComponent()


def entries(responses: list[Any]) -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, list[str]]] = {}
    for msg in responses:
        name, body = op(msg)
        if name == "searchResEntry":
            found[str(body["object"])] = {
                str(a["type"]): [bytes(v).decode() for v in a["vals"]] for a in body["attributes"]
            }
    return found


def result_code(responses: list[Any]) -> int:
    name, body = op(responses[-1])
    assert name.endswith(("Done", "Response", "Resp")), name
    return int(body["resultCode"])
