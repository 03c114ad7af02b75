"""SIPp scenarios for the router's features: service codes, transfers, and a provider on
a trunk. Built from the fragments below, on top of ``sipp.py``'s."""

from __future__ import annotations

from html import escape

from .sipp import (
    _CALLER_INVITE,
    _IN_DIALOG,
    _PREAMBLE,
    SDP,
    _identity,
    _recv_checked,
    _response,
    caller_answered,
    caller_refused,
)

#: the provider's challenge; SIPp's verifyauth checks the answer against it
CHALLENGE = 'Digest realm="provider.test", nonce="n[pid][clock_tick]", algorithm=MD5, qop="auth"'

#: a provider's caller: no edge headers, an outside number in From
PROVIDER_CALLER = ("+390255501", "provider.test", "Subject: incoming call")


#: a device's ACK to its 2xx, noting the dialog's two ends for requests it sends later
_ACK_NOTING_DIALOG = """  <recv request="ACK">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="me"/>
    </action>
  </recv>
"""

#: the caller's 200, noting the router's end of the dialog
_OK_NOTING_PEER = """  <recv response="200" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="peer"/>
    </action>
  </recv>
"""

#: a device answers ringing, with an offer
_RING_AND_ANSWER = _response(180, "Ringing") + _response(200, "OK", sdp=True)

#: joined by third-party call control: no offer in, our offer in the 200, answer in the ACK
_JOINED_WITH_DELAYED_OFFER = (
    _recv_checked('request="INVITE"', "Content-Length: *0", "empty", "msg")
    + "{ringing}"
    + _response(200, "OK", sdp=True)
    + _recv_checked('request="ACK"', "m=audio [1-9]", "answer")
)

#: the end of a transfer for the transferor: accepted, told it worked, hung up
_TRANSFER_REPORTED = (
    '  <recv response="202"/>\n'
    + _recv_checked('request="NOTIFY"', "SIP/2.0 200", "frag")
    + _response(200, "OK")
    + '  <recv request="BYE"/>\n'
    + _response(200, "OK")
)

#: the BYE that ends a call
_BYE_ANSWERED = '  <recv request="BYE"/>\n' + _response(200, "OK")


def _request(method: str, cseq: int, from_: str, extra: str = "") -> str:
    """An in-dialog request; ``from_`` is our end, the peer's was noted as ``peer``."""
    return f"""  <send retrans="500"><![CDATA[
      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      [routes]
      From: {from_}
      To: [$peer]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Max-Forwards: 70
{extra}      Content-Length: 0

  ]]></send>
"""


def _scenario(name: str, *parts: str) -> str:
    return _PREAMBLE + f'<scenario name="{name}">\n' + "".join(parts) + "</scenario>\n"


def _caller_answered_part(account: str, tenant: str, dialled: str) -> tuple[str, dict[str, str]]:
    fmt = {"account": account, "tenant": tenant, "dialled": dialled}
    invite = _CALLER_INVITE.format(**fmt, identity=_identity(account, tenant, "internal"), sdp=SDP)
    ack = _IN_DIALOG.format(**fmt, retrans="", method="ACK", cseq=1)
    return invite + _OK_NOTING_PEER + ack, fmt


def _caller_tag(fmt: dict[str, str]) -> str:
    return "<sip:{account}@{tenant}>;tag=[pid]SIPpTag00[call_number]".format(**fmt)


def caller_service(account: str, tenant: str, dialled: str, declined: bool = True) -> str:
    """Dial a service code: expect 200 (``declined``: every stream refused, as for lock and
    unlock, LOCK-03; else a real answer, as for pickup), ACK, then wait for the BYE."""
    fmt = {"account": account, "tenant": tenant, "dialled": dialled}
    ok = (
        _recv_checked('response="200" rrs="true"', "m=audio 0 ", "declined")
        if declined
        else '  <recv response="200" rrs="true"/>\n'
    )
    return _scenario(
        "caller dials a service code",
        _CALLER_INVITE.format(**fmt, identity=_identity(account, tenant, "internal"), sdp=SDP),
        ok,
        _IN_DIALOG.format(**fmt, retrans="", method="ACK", cseq=1),
        _BYE_ANSWERED,
    )


def provider_answers(expect_uri: str, username: str = "", password: str = "") -> str:
    """A provider's SIP server: with credentials it first challenges the INVITE (401: SIPp's
    verifyauth reads only Authorization) and checks the digest answer; then it rings,
    answers and waits for the BYE. ``expect_uri`` is a regex the request must match."""
    if not username:
        invite = _recv_checked('request="INVITE"', expect_uri, "ruri", "msg")
        return _scenario(
            "provider answers", invite, _RING_AND_ANSWER, '  <recv request="ACK"/>\n', _BYE_ANSWERED
        )
    challenge = f"""  <send><![CDATA[
      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: {CHALLENGE}
      Content-Length: 0

  ]]></send>
  <recv request="ACK"/>
"""
    answered = f"""  <recv request="INVITE">
    <action>
      <verifyauth assign_to="authok" username="{username}" password="{password}"/>
      <ereg regexp="{escape(expect_uri, quote=True)}" search_in="msg" check_it="true"
            assign_to="ruri"/>
    </action>
  </recv>
  <Reference variables="ruri"/>
  <nop hide="true" test="authok" next="good"/>
"""
    refused = _response(403, "Forbidden") + '  <recv request="ACK" next="end"/>\n'
    return _scenario(
        "provider challenges, then answers",
        '  <recv request="INVITE"/>\n',
        challenge,
        answered,
        refused,
        '  <label id="good"/>\n',
        _RING_AND_ANSWER,
        '  <recv request="ACK"/>\n',
        _BYE_ANSWERED,
        '  <label id="end"/>\n',
    )


def provider_calls(did: str, final: int = 200, hold_ms: int = 300) -> str:
    """A provider's INVITE to ``did``. Expect ``final``; a 200 is ACKed, held, hung up."""
    number, domain, identity = PROVIDER_CALLER
    if final != 200:
        return caller_refused(number, domain, did, final, identity=identity)
    return caller_answered(number, domain, did, hold_ms, identity=identity)


def caller_transferred(account: str, tenant: str, dialled: str, hold_ms: int = 600) -> str:
    """Call, get answered, then accept the router's re-INVITE carrying the transfer
    target's offer (RFC 3725), hold, and hang up."""
    answered, fmt = _caller_answered_part(account, tenant, dialled)
    return _scenario(
        "caller is transferred",
        answered,
        _recv_checked('request="INVITE"', "m=audio [1-9]", "offer"),
        _response(200, "OK", sdp=True),
        '  <recv request="ACK"/>\n',
        f'  <pause milliseconds="{hold_ms}"/>\n',
        _request("BYE", 2, _caller_tag(fmt)),
        '  <recv response="200" crlf="true"/>\n',
    )


def caller_refers(account: str, tenant: str, dialled: str, refer_to: str) -> str:
    """Call, get answered, then transfer the answered party to ``refer_to`` (REFER from the
    caller's side): expect 202, the NOTIFY with the outcome and the router's BYE."""
    answered, fmt = _caller_answered_part(account, tenant, dialled)
    extra = (
        f"      Contact: <sip:{account}@[local_ip]:[local_port]>\n      Refer-To: <{refer_to}>\n"
    )
    return _scenario(
        "caller transfers",
        answered,
        '  <pause milliseconds="200"/>\n',
        _request("REFER", 2, _caller_tag(fmt), extra),
        _TRANSFER_REPORTED,
    )


def device_transfers(refer_to: str) -> str:
    """Answer, then REFER the caller to ``refer_to`` (blind transfer, RFC 3515): expect
    202, the NOTIFY with the outcome, and the router's BYE."""
    extra = (
        "      Contact: <sip:device@[local_ip]:[local_port]>\n"
        f"      Refer-To: <{refer_to}>\n      Referred-By: [$me]\n"
    )
    return _scenario(
        "device transfers",
        '  <recv request="INVITE" rrs="true"/>\n',
        _RING_AND_ANSWER,
        _ACK_NOTING_DIALOG,
        '  <pause milliseconds="200"/>\n',
        _request("REFER", 2, "[$me]", extra),
        _TRANSFER_REPORTED,
    )


def device_reinvited_then_hangs_up(hold_ms: int = 500) -> str:
    """Answer; when the router re-INVITEs with the transfer target's offer, answer it,
    hold and hang up."""
    return _scenario(
        "device re-invited",
        '  <recv request="INVITE" rrs="true"/>\n',
        _RING_AND_ANSWER,
        _ACK_NOTING_DIALOG,
        _recv_checked('request="INVITE"', "m=audio [1-9]", "offer"),
        _response(200, "OK", sdp=True),
        '  <recv request="ACK"/>\n',
        f'  <pause milliseconds="{hold_ms}"/>\n',
        _request("BYE", 2, "[$me]"),
        '  <recv response="200"/>\n',
    )


def target_answers_delayed_offer() -> str:
    """A transfer target: the INVITE has no SDP, so the 200 offers and the ACK answers."""
    joined = _JOINED_WITH_DELAYED_OFFER.replace("{ringing}", _response(180, "Ringing"))
    return _scenario("transfer target", joined, _BYE_ANSWERED)


def consulted_party() -> str:
    """Answer a consultation call, then the router's offerless re-INVITE once an attended
    transfer joins this party to the caller: 200 offers, the ACK must answer."""
    joined = _JOINED_WITH_DELAYED_OFFER.replace("{ringing}", "")
    return _scenario(
        "consulted party",
        '  <recv request="INVITE"/>\n',
        _RING_AND_ANSWER,
        '  <recv request="ACK"/>\n',
        joined,
        _BYE_ANSWERED,
    )
