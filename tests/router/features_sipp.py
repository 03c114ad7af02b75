"""SIPp scenarios for the router's features: service codes, and a provider on a trunk."""

from __future__ import annotations

from html import escape

from .sipp import _CALLER_INVITE, _IN_DIALOG, _PREAMBLE, SDP, _identity, _response

#: the provider's challenge; SIPp's verifyauth checks the answer against it
CHALLENGE = 'Digest realm="provider.test", nonce="n[pid][clock_tick]", algorithm=MD5, qop="auth"'


def caller_service(account: str, tenant: str, dialled: str, declined: bool = True) -> str:
    """Dial a service code: expect 200 (``declined``: every stream refused, as for lock and
    unlock, LOCK-03; else a real answer, as for pickup), ACK, then wait for the BYE."""
    fmt = {"account": account, "tenant": tenant, "dialled": dialled}
    check = """  <recv response="200" rrs="true">
    <action>
      <ereg regexp="m=audio 0 " search_in="body" check_it="true" assign_to="declined"/>
    </action>
  </recv>
  <Reference variables="declined"/>
"""
    return (
        _PREAMBLE
        + '<scenario name="caller dials a service code">\n'
        + _CALLER_INVITE.format(**fmt, identity=_identity(account, tenant, "internal"), sdp=SDP)
        + (check if declined else '  <recv response="200" rrs="true"/>\n')
        + _IN_DIALOG.format(**fmt, retrans="", method="ACK", cseq=1)
        + '  <recv request="BYE"/>\n'
        + _response(200, "OK")
        + "</scenario>\n"
    )


def provider_answers(
    expect_uri: str, username: str = "", password: str = "", hold_for_bye: bool = True
) -> str:
    """A provider's SIP server: with credentials it first challenges the INVITE (401: SIPp's
    verifyauth reads only Authorization) and
    checks the digest answer; then it rings, answers and waits for the BYE. ``expect_uri``
    is a regex the Request-URI must match."""
    check = f"""    <action>
      <ereg regexp="{escape(expect_uri, quote=True)}" search_in="msg" check_it="true"
            assign_to="ruri"/>
    </action>
  </recv>
  <Reference variables="ruri"/>
"""
    parts = [_PREAMBLE, '<scenario name="provider answers">\n']
    if username:
        parts += [
            '  <recv request="INVITE"/>\n',
            f"""  <send><![CDATA[
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
""",
            f"""  <recv request="INVITE">
    <action>
      <verifyauth assign_to="authok" username="{username}" password="{password}"/>
      <ereg regexp="{escape(expect_uri, quote=True)}" search_in="msg" check_it="true"
            assign_to="ruri"/>
    </action>
  </recv>
  <Reference variables="ruri"/>
  <nop hide="true" test="authok" next="good"/>
""",
            _response(403, "Forbidden"),
            '  <recv request="ACK" next="end"/>\n',
            '  <label id="good"/>\n',
        ]
    else:
        parts += ['  <recv request="INVITE">\n', check]
    parts += [
        _response(180, "Ringing"),
        _response(200, "OK", sdp=True),
        '  <recv request="ACK"/>\n',
    ]
    if hold_for_bye:
        parts += ['  <recv request="BYE"/>\n', _response(200, "OK")]
    parts += ['  <label id="end"/>\n', "</scenario>\n"]
    return "".join(parts)


def provider_calls(did: str, final: int = 200, hold_ms: int = 300) -> str:
    """A provider's INVITE to ``did``: no edge headers, a caller number in From. Expect
    ``final``; a 200 is ACKed, held and hung up."""
    fmt = {"account": "+390255501", "tenant": "provider.test", "dialled": did}
    invite = _CALLER_INVITE.format(**fmt, identity="Subject: incoming call", sdp=SDP)
    if final != 200:
        return (
            _PREAMBLE
            + '<scenario name="provider calls, refused">\n'
            + invite
            + f'  <recv response="{final}"/>\n'
            + """  <send><![CDATA[
      ACK sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch-5]
      From: <sip:{account}@{tenant}>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
</scenario>
""".format(**fmt)
        )
    return (
        _PREAMBLE
        + '<scenario name="provider calls">\n'
        + invite
        + '  <recv response="200" rrs="true"/>\n'
        + _IN_DIALOG.format(**fmt, retrans="", method="ACK", cseq=1)
        + f'  <pause milliseconds="{hold_ms}"/>\n'
        + _IN_DIALOG.format(**fmt, retrans=' retrans="500"', method="BYE", cseq=2)
        + '  <recv response="200" crlf="true"/>\n</scenario>\n'
    )


def caller_transferred(account: str, tenant: str, dialled: str, hold_ms: int = 600) -> str:
    """Call, get answered, then accept the router's re-INVITE carrying the transfer
    target's offer (RFC 3725), hold, and hang up."""
    fmt = {"account": account, "tenant": tenant, "dialled": dialled}
    return (
        _PREAMBLE
        + '<scenario name="caller is transferred">\n'
        + _CALLER_INVITE.format(**fmt, identity=_identity(account, tenant, "internal"), sdp=SDP)
        + """  <recv response="200" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="peer"/>
    </action>
  </recv>
"""
        + _IN_DIALOG.format(**fmt, retrans="", method="ACK", cseq=1)
        + """  <recv request="INVITE">
    <action>
      <ereg regexp="m=audio [1-9]" search_in="body" check_it="true" assign_to="offer"/>
    </action>
  </recv>
  <Reference variables="offer"/>
"""
        + _response(200, "OK", sdp=True)
        + '  <recv request="ACK"/>\n'
        + f'  <pause milliseconds="{hold_ms}"/>\n'
        + """  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      [routes]
      From: <sip:{account}@{tenant}>;tag=[pid]SIPpTag00[call_number]
      To: [$peer]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200" crlf="true"/>
</scenario>
""".format(**fmt)
    )


def device_transfers(refer_to: str) -> str:
    """Answer, then REFER the caller to ``refer_to`` (blind transfer, RFC 3515): expect
    202, the NOTIFY with the outcome, and the router's BYE."""
    return (
        _PREAMBLE
        + '<scenario name="device transfers">\n'
        + '  <recv request="INVITE" rrs="true"/>\n'
        + _response(180, "Ringing")
        + _response(200, "OK", sdp=True)
        + """  <recv request="ACK">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="me"/>
    </action>
  </recv>
  <pause milliseconds="200"/>
"""
        + f"""  <send retrans="500"><![CDATA[
      REFER [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      [routes]
      From: [$me]
      To: [$peer]
      Call-ID: [call_id]
      CSeq: 2 REFER
      Contact: <sip:device@[local_ip]:[local_port]>
      Refer-To: <{refer_to}>
      Referred-By: [$me]
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="202"/>
  <recv request="NOTIFY">
    <action>
      <ereg regexp="SIP/2.0 200" search_in="body" check_it="true" assign_to="frag"/>
    </action>
  </recv>
  <Reference variables="frag"/>
"""
        + _response(200, "OK")
        + '  <recv request="BYE"/>\n'
        + _response(200, "OK")
        + "</scenario>\n"
    )


def target_answers_delayed_offer() -> str:
    """A transfer target: the INVITE has no SDP, so the 200 offers and the ACK answers."""
    return (
        _PREAMBLE
        + '<scenario name="transfer target">\n'
        + """  <recv request="INVITE">
    <action>
      <ereg regexp="Content-Length: *0" search_in="msg" check_it="true" assign_to="empty"/>
    </action>
  </recv>
  <Reference variables="empty"/>
"""
        + _response(180, "Ringing")
        + _response(200, "OK", sdp=True)
        + """  <recv request="ACK">
    <action>
      <ereg regexp="m=audio [1-9]" search_in="body" check_it="true" assign_to="answer"/>
    </action>
  </recv>
  <Reference variables="answer"/>
"""
        + '  <recv request="BYE"/>\n'
        + _response(200, "OK")
        + "</scenario>\n"
    )


def consulted_party() -> str:
    """Answer a consultation call, then the router's offerless re-INVITE once an attended
    transfer joins this party to the caller: 200 offers, the ACK must answer."""
    return (
        _PREAMBLE
        + '<scenario name="consulted party">\n'
        + '  <recv request="INVITE"/>\n'
        + _response(180, "Ringing")
        + _response(200, "OK", sdp=True)
        + '  <recv request="ACK"/>\n'
        + """  <recv request="INVITE">
    <action>
      <ereg regexp="Content-Length: *0" search_in="msg" check_it="true" assign_to="empty"/>
    </action>
  </recv>
  <Reference variables="empty"/>
"""
        + _response(200, "OK", sdp=True)
        + """  <recv request="ACK">
    <action>
      <ereg regexp="m=audio [1-9]" search_in="body" check_it="true" assign_to="answer"/>
    </action>
  </recv>
  <Reference variables="answer"/>
"""
        + '  <recv request="BYE"/>\n'
        + _response(200, "OK")
        + "</scenario>\n"
    )


def caller_refers(account: str, tenant: str, dialled: str, refer_to: str) -> str:
    """Call, get answered, then transfer the answered party to ``refer_to`` (REFER from the
    caller's side): expect 202, the NOTIFY with the outcome and the router's BYE."""
    fmt = {"account": account, "tenant": tenant, "dialled": dialled}
    return (
        _PREAMBLE
        + '<scenario name="caller transfers">\n'
        + _CALLER_INVITE.format(**fmt, identity=_identity(account, tenant, "internal"), sdp=SDP)
        + """  <recv response="200" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="peer"/>
    </action>
  </recv>
"""
        + _IN_DIALOG.format(**fmt, retrans="", method="ACK", cseq=1)
        + """  <pause milliseconds="200"/>
  <send retrans="500"><![CDATA[
      REFER [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      [routes]
      From: <sip:{account}@{tenant}>;tag=[pid]SIPpTag00[call_number]
      To: [$peer]
      Call-ID: [call_id]
      CSeq: 2 REFER
      Contact: <sip:{account}@[local_ip]:[local_port]>
      Refer-To: <{refer_to}>
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="202"/>
  <recv request="NOTIFY">
    <action>
      <ereg regexp="SIP/2.0 200" search_in="body" check_it="true" assign_to="frag"/>
    </action>
  </recv>
  <Reference variables="frag"/>
""".format(**fmt, refer_to=refer_to)
        + _response(200, "OK")
        + '  <recv request="BYE"/>\n'
        + _response(200, "OK")
        + "</scenario>\n"
    )


def device_reinvited_then_hangs_up(hold_ms: int = 500) -> str:
    """Answer; when the router re-INVITEs with the transfer target's offer, answer it,
    hold and hang up."""
    return (
        _PREAMBLE
        + '<scenario name="device re-invited">\n'
        + '  <recv request="INVITE" rrs="true"/>\n'
        + _response(180, "Ringing")
        + _response(200, "OK", sdp=True)
        + """  <recv request="ACK">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="me"/>
    </action>
  </recv>
  <recv request="INVITE">
    <action>
      <ereg regexp="m=audio [1-9]" search_in="body" check_it="true" assign_to="offer"/>
    </action>
  </recv>
  <Reference variables="offer"/>
"""
        + _response(200, "OK", sdp=True)
        + '  <recv request="ACK"/>\n'
        + f'  <pause milliseconds="{hold_ms}"/>\n'
        + """  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      [routes]
      From: [$me]
      To: [$peer]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"""
    )
