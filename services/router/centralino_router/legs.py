"""The two sides of a B2BUA call: the caller's dialog (we are its UAS) and each forked
branch towards a device (we are its UAC), RFC 3261 §12-§15.

Dialog state (route sets, remote targets, CSeq) is the SIP core's; a leg adds what a
B2BUA needs around it: the responses to the caller, the CANCEL and ACK of a branch, and
the caller's 2xx repeated until its ACK. The call (``call.py``) decides what to send.
"""

from __future__ import annotations

from collections.abc import Callable

from centralino.sip import Dialog as CoreDialog
from centralino.sip import SipError, build_authorization
from centralino.sip.transport import Address
from centralino_router.sipmsg import (
    SipMessage,
    SipParseError,
    new_tag,
    response_to,
)
from centralino_router.wire import ClientTransaction, Inbound, ResponseHandler, Retransmit, Wire

SDP = "application/sdp"


def _body_headers(body: bytes, content_type: str = SDP) -> list[tuple[str, str]]:
    return [("Content-Type", content_type)] if body else []


class Dialog:
    """One of our dialogs: the SIP core's dialog state (RFC 3261 §12: route set, remote
    target and its refreshes, CSeq) plus where its requests go."""

    def __init__(self, core: CoreDialog) -> None:
        self.core = core

    @classmethod
    def uac(cls, invite: SipMessage, response: SipMessage) -> Dialog:
        """The dialog a device's 2xx creates (§12.1.2)."""
        try:
            core = CoreDialog.from_uac_response(invite.as_request(), response.as_response())
        except SipError as exc:
            raise SipParseError(str(exc), exc.status_hint) from None
        return cls(core)

    @classmethod
    def uas(cls, invite: SipMessage, local_tag: str) -> Dialog:
        """The dialog we form answering the caller's INVITE (§12.1.1)."""
        try:
            core = CoreDialog.from_uas_request(invite.as_request(), local_tag, confirmed=False)
        except SipError as exc:
            raise SipParseError(str(exc), exc.status_hint) from None
        return cls(core)

    def request(
        self,
        method: str,
        body: bytes = b"",
        extra: list[tuple[str, str]] | None = None,
        cseq: int | None = None,
        content_type: str = SDP,
    ) -> SipMessage:
        """A request in this dialog, without Via (the wire adds it)."""
        core = self.core.create_request(
            method, body=body, content_type=content_type if body else None, cseq=cseq
        )
        message = SipMessage.from_core(core)
        message.headers.extend(extra or [])
        return message

    def received(self, request: SipMessage) -> None:
        """The peer's in-dialog request: CSeq order and target refresh (§12.2.2)."""
        try:
            self.core.receive_request(request.as_request())
        except SipError as exc:
            raise SipParseError(str(exc), exc.status_hint) from None

    @property
    def next_hop(self) -> Address:
        """The first route (the SIP edge record-routes), else the remote target."""
        uri = self.core.route_set[0].uri if self.core.route_set else self.core.remote_target
        return uri.host.strip("[]"), uri.port or uri.default_port


class CallerLeg:
    """The caller's side: we answer its INVITE and later send it requests in the dialog."""

    def __init__(self, wire: Wire, invite: SipMessage, inbound: Inbound) -> None:
        self.wire = wire
        self.invite = invite
        self.inbound = inbound
        self.local_tag = new_tag()
        self.final: int = 0
        self._retransmit: Retransmit | None = None
        self.dialog = Dialog.uas(invite, self.local_tag)

    def respond(
        self,
        status: int,
        reason: str,
        body: bytes = b"",
        extra: list[tuple[str, str]] | None = None,
        on_no_ack: Callable[[], None] | None = None,
    ) -> None:
        if self.final:
            return
        headers = list(extra or [])
        if status > 100:
            headers.append(("Contact", self.wire.contact))
        headers.extend(_body_headers(body))
        resp = response_to(
            self.invite,
            status,
            reason,
            to_tag=self.local_tag if status > 100 else None,
            extra=headers,
            body=body,
        )
        self.wire.reply(resp, self.inbound)
        if status >= 200:
            self.final = status
        if 200 <= status < 300:
            # RFC 3261 §13.3.1.4: the UAS core repeats its 2xx until the ACK (the server
            # transaction repeats a non-2xx itself)
            self._retransmit = Retransmit(
                self.wire.loop, lambda: self.wire.reply(resp, self.inbound), on_no_ack
            )

    def acked(self) -> None:
        if self._retransmit is not None:
            self._retransmit.stop()
            self._retransmit = None

    def answer(self, request: SipMessage, inbound: Inbound, status: int, reason: str) -> None:
        """Answer a BYE or CANCEL from the caller."""
        self.wire.reply(response_to(request, status, reason), inbound)

    def close(self) -> None:
        self.acked()


class BranchLeg:
    """One forked INVITE towards one account's device, through the SIP edge."""

    def __init__(
        self,
        wire: Wire,
        name: str,
        call_id: str,
        uri: str,
        next_hop: Address,
        from_header: str,
        to_header: str,
        extra: list[tuple[str, str]],
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.wire = wire
        self.name = name
        #: (username, password) answering a provider's challenge (trunk legs only)
        self.credentials = credentials
        self.cseq = 1
        self._authenticated = False
        self._handler: ResponseHandler | None = None
        self.call_id = call_id
        self.uri = uri
        self.next_hop = next_hop
        self.local_tag = new_tag()
        self.from_header = f"{from_header};tag={self.local_tag}"
        self.to_header = to_header
        self.extra = extra
        self.invite: SipMessage | None = None
        self.tx: ClientTransaction | None = None
        self.provisional = False
        self.dialog: Dialog | None = None
        self.answer: SipMessage | None = None
        self.cancelled = False
        self.bye_sent = False
        self.last_provisional: SipMessage | None = None
        self._ack: SipMessage | None = None

    def send_invite(
        self,
        body: bytes,
        handler: ResponseHandler,
        authorization: tuple[str, str] | None = None,
    ) -> None:
        req = SipMessage(method="INVITE", uri=self.uri)
        req.headers = [
            ("Max-Forwards", "70"),
            ("From", self.from_header),
            ("To", self.to_header),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} INVITE"),
            ("Contact", self.wire.contact),
            *self.extra,
            *([authorization] if authorization else []),
            *_body_headers(body),
        ]
        req.body = body
        self.invite = req
        self._handler = handler
        self.tx = self.wire.send_request(req, self.next_hop, handler)

    def retry_with_credentials(self, challenge: SipMessage) -> bool:
        """Answer a provider's 401/407 once (RFC 3261 §22.2); False when there is nothing
        to answer with, or the answer was already refused."""
        if self.credentials is None or self._authenticated or self.cancelled:
            return False
        if self.invite is None or self._handler is None:
            return False
        header, answer = (
            ("WWW-Authenticate", "Authorization")
            if challenge.status == 401
            else ("Proxy-Authenticate", "Proxy-Authorization")
        )
        value = challenge.get(header)
        if value is None:
            return False
        username, password = self.credentials
        try:
            authorization = build_authorization(
                value,
                method="INVITE",
                uri=self.uri,
                username=username,
                password=password,
                cnonce=new_tag(),
            )
        except SipError:
            return False
        self._authenticated = True
        self.cseq += 1
        self.send_invite(self.invite.body, self._handler, (answer, authorization))
        return True

    def cancel(self, reason: str) -> None:
        """CANCEL the INVITE (RFC 3261 §9.1) with ``reason`` (RFC 3326)."""
        if self.tx is None or self.cancelled:
            return
        self.cancelled = True
        self.wire.cancel(self.tx, reason, self.next_hop)

    def established(self, response: SipMessage, *, ack: bool = True) -> None:
        """A 2xx: the dialog exists (RFC 3261 §12.1.2); ACK it end to end. ``ack`` False:
        the 2xx carried an offer (we sent none) and the answer goes in :meth:`ack_with`."""
        if self.dialog is None and self.invite is not None:
            self.dialog = Dialog.uac(self.invite, response)
            self.answer = response
            if ack:
                self._ack = self.dialog.request(
                    "ACK", cseq=self.cseq, extra=self.extra_for_in_dialog()
                )
        self.resend_ack()

    def ack_with(self, body: bytes) -> None:
        """ACK the 2xx with the SDP answer to its offer (RFC 3264 delayed offer)."""
        if self.dialog is None or self._ack is not None:
            return
        self._ack = self.dialog.request(
            "ACK", body, cseq=self.cseq, extra=self.extra_for_in_dialog()
        )
        self.resend_ack()

    def resend_ack(self) -> None:
        if self._ack is None or self.dialog is None:
            return
        ack = SipMessage(
            method="ACK", uri=self._ack.uri, headers=list(self._ack.headers), body=self._ack.body
        )
        self.wire.send_stateless(ack, self.dialog.next_hop)

    def extra_for_in_dialog(self) -> list[tuple[str, str]]:
        # the SIP edge delivers in-dialog requests by the account header too
        return [(k, v) for k, v in self.extra if k.startswith("X-Centralino-")]


class PickupLeg(BranchLeg):
    """The dialog of a phone that picked up a ringing call (PICK-01..03): the picker called
    us, so we are its UAS, yet for the picked-up call it takes the place of the device
    that would have answered. Requests to it go in the picker's own dialog."""

    def __init__(self, wire: Wire, name: str, caller: CallerLeg) -> None:
        invite = caller.invite
        super().__init__(
            wire,
            name=name,
            call_id=invite.call_id,
            uri=invite.uri,
            next_hop=caller.dialog.next_hop,
            from_header=invite.require("To"),
            to_header=invite.require("From"),
            extra=[(k, v) for k, v in invite.headers if k.startswith("X-Centralino-")],
        )
        self.caller = caller
        self.dialog = caller.dialog


class AdoptedCaller(CallerLeg):
    """A device that takes the caller's place when the caller transfers it away: its
    dialog is one we formed as UAC, and it is answered already. Nothing is constructed
    from an INVITE here, which is why the parent's constructor is not run."""

    def __init__(self, branch: BranchLeg) -> None:
        assert branch.invite is not None and branch.dialog is not None
        self.wire = branch.wire
        self.invite = branch.invite
        self.inbound = Inbound("", None)
        self.local_tag = branch.local_tag
        self.final = 200
        self._retransmit = None
        self.dialog = branch.dialog
        #: requests to the device still need the edge's routing headers
        self.branch = branch
