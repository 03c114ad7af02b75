"""Dialogs (RFC 3261 §12): creation, route sets, CSeq and in-dialog requests.

A UAC dialog comes from a 1xx with a To tag (early) or a 2xx (confirmed) to its INVITE;
its route set is the response's Record-Route reversed and its remote target the
response's Contact. A UAS dialog comes from the INVITE itself: Record-Route in order,
remote target from the request's Contact. An early dialog is recomputed by the 2xx that
confirms it (§13.2.2.4); after that only target refresh requests and their 2xx change the
remote target, and nothing changes the route set.

One INVITE may fork into several early dialogs, one per remote tag: ``DialogSet`` keeps
them and tells the UAC which one each response belongs to.

In-dialog requests (§12.2.1.1) use loose routing when the first route has ``lr``: the
Request-URI is the remote target and the route set goes into Route. With a strict
router first, that router's URI becomes the Request-URI and the remote target the last
Route entry.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field

from centralino.sip.address import Address
from centralino.sip.errors import LocalProtocolError, SipParseError
from centralino.sip.ids import RandomBytes, generate_branch
from centralino.sip.message import Request, Response
from centralino.sip.uri import SipUri
from centralino.sip.via import Via

__all__ = ["Dialog", "DialogId", "DialogSet", "DialogState"]

# Requests that refresh the remote target (RFC 3261 §12.2, RFC 3311, RFC 6665).
_TARGET_REFRESH = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})


class DialogState(enum.Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class DialogId:
    call_id: str
    local_tag: str
    remote_tag: str


@dataclass(slots=True, eq=False)
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: Address
    remote_uri: Address
    remote_target: SipUri
    route_set: list[Address] = field(default_factory=list)
    local_seq: int | None = None
    remote_seq: int | None = None
    secure: bool = False
    state: DialogState = DialogState.EARLY

    @property
    def id(self) -> DialogId:
        return DialogId(self.call_id, self.local_tag, self.remote_tag)

    # -- creation ----------------------------------------------------------------------

    @classmethod
    def from_uac_response(cls, request: Request, response: Response) -> Dialog:
        """The dialog a 1xx (with To tag) or 2xx creates for our ``request`` (§12.1.2)."""
        remote_tag = response.to.tag
        if remote_tag is None or not 101 <= response.status < 300:
            raise LocalProtocolError("only a 101-299 with a To tag creates a dialog")
        local_tag = request.from_.tag
        if local_tag is None:
            raise LocalProtocolError("our request has no From tag")
        dialog = cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_uri=request.from_.copy(),
            remote_uri=response.to.copy(),
            remote_target=_contact_uri(response, request.uri),
            route_set=list(reversed(response.record_routes)),
            local_seq=request.cseq.seq,
            secure=request.uri.scheme == "sips",
        )
        if response.status >= 200:
            dialog.state = DialogState.CONFIRMED
        return dialog

    @classmethod
    def from_uas_request(cls, request: Request, local_tag: str, *, confirmed: bool) -> Dialog:
        """The dialog we create answering ``request`` with a To tag of ``local_tag`` (§12.1.1).

        The caller adds ``local_tag`` to the To of its 1xx/2xx (``make_response``).
        """
        remote_tag = request.from_.tag
        if remote_tag is None:
            raise SipParseError("From tag missing in a dialog-creating request")
        local_uri = request.to.copy()
        local_uri.tag = local_tag
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_uri=local_uri,
            remote_uri=request.from_.copy(),
            remote_target=_contact_uri(request, None),
            route_set=list(request.record_routes),
            remote_seq=request.cseq.seq,
            secure=request.uri.scheme == "sips",
            state=DialogState.CONFIRMED if confirmed else DialogState.EARLY,
        )

    # -- updates -----------------------------------------------------------------------

    def update_from_response(self, request: Request, response: Response) -> None:
        """Apply a response to a request we sent in this dialog (or its INVITE)."""
        if response.status >= 300:
            if self.state is DialogState.EARLY and request.method == "INVITE":
                self.state = DialogState.TERMINATED
            elif response.status in (408, 481):
                # §12.2.1.2: the peer lost the dialog or never answers in it.
                self.state = DialogState.TERMINATED
            return
        if response.status < 200 and self.state is not DialogState.EARLY:
            return
        if self.state is DialogState.EARLY:
            # The response that confirms an early dialog recomputes it (§13.2.2.4).
            self.route_set = list(reversed(response.record_routes))
            if response.status >= 200:
                self.state = DialogState.CONFIRMED
        if request.method in _TARGET_REFRESH and response.contacts:
            self.remote_target = response.contacts[0].uri.copy()

    def receive_request(self, request: Request) -> None:
        """Check and apply an in-dialog request from the peer (§12.2.2).

        Raises ``SipParseError`` with status 500 for an out-of-order CSeq.
        """
        seq = request.cseq.seq
        if request.method not in ("ACK", "CANCEL"):
            if self.remote_seq is not None and seq <= self.remote_seq:
                raise SipParseError("CSeq lower than the dialog's", status_hint=500)
            self.remote_seq = seq
        if request.method in _TARGET_REFRESH and request.contacts:
            self.remote_target = request.contacts[0].uri.copy()
        if request.method == "BYE":
            self.state = DialogState.TERMINATED

    # -- building requests -------------------------------------------------------------

    def create_request(
        self,
        method: str,
        *,
        via: Via | None = None,
        contact: Address | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        max_forwards: int = 70,
        cseq: int | None = None,
        random_bytes: RandomBytes = secrets.token_bytes,
    ) -> Request:
        """An in-dialog request (§12.2.1.1). Its CSeq is the next local one.

        ``via`` (without branch, one is generated) becomes the top Via; ACK and CANCEL
        pass ``cseq`` explicitly (the INVITE's number) and do not advance the count.
        """
        if self.state is DialogState.TERMINATED and method != "ACK":
            raise LocalProtocolError(f"cannot send {method} in a terminated dialog")
        if cseq is None:
            cseq = (self.local_seq or 0) + 1
            self.local_seq = cseq
        request_uri, routes = self._request_target()
        request = Request(method, request_uri)
        headers = request.headers
        if via is not None:
            via = via.copy()
            if via.branch is None:
                via.params["branch"] = generate_branch(random_bytes)
            headers.add("Via", str(via))
        headers.add("Max-Forwards", str(max_forwards))
        for route in routes:
            headers.add("Route", str(route))
        headers.add("From", str(self.local_uri))
        headers.add("To", str(self.remote_uri))
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{cseq} {method}")
        if contact is not None:
            headers.add("Contact", str(contact))
        if content_type is not None:
            headers.add("Content-Type", content_type)
        request.body = body
        return request

    def create_ack(
        self,
        invite_cseq: int,
        *,
        via: Via | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        random_bytes: RandomBytes = secrets.token_bytes,
    ) -> Request:
        """The ACK for a 2xx to our INVITE (§13.2.2.4): same CSeq number, new branch."""
        return self.create_request(
            "ACK",
            via=via,
            body=body,
            content_type=content_type,
            cseq=invite_cseq,
            random_bytes=random_bytes,
        )

    def _request_target(self) -> tuple[SipUri, list[Address]]:
        if not self.route_set or self.route_set[0].uri.lr:
            return self.remote_target.copy(), [r.copy() for r in self.route_set]
        # Strict routing (§12.2.1.1): the first route becomes the Request-URI without
        # the parameters a Request-URI may not carry, and the target goes last.
        first = self.route_set[0].uri.copy()
        first.params.pop("method", None)
        first.headers.clear()
        routes = [r.copy() for r in self.route_set[1:]]
        routes.append(Address(self.remote_target.copy()))
        return first, routes


def _contact_uri(message: Request | Response, fallback: SipUri | None) -> SipUri:
    contacts = message.contacts
    if contacts:
        return contacts[0].uri.copy()
    if fallback is None:
        raise SipParseError("Contact missing in a dialog-creating request")
    return fallback.copy()


class DialogSet:
    """The dialogs one INVITE of ours creates: several early ones when it forks."""

    def __init__(self, invite: Request) -> None:
        self.invite = invite
        self.dialogs: dict[str, Dialog] = {}

    def receive_response(self, response: Response) -> Dialog | None:
        """Create or update the dialog this response belongs to (keyed by To tag).

        A 300-699 ends every early dialog of the set. Returns the dialog concerned, or
        ``None`` for responses that belong to none (100 Trying, tagless 1xx, finals).
        """
        if response.status >= 300:
            for dialog in self.dialogs.values():
                if dialog.state is DialogState.EARLY:
                    dialog.state = DialogState.TERMINATED
            return None
        tag = response.to.tag
        if tag is None or response.status == 100:
            return None
        existing = self.dialogs.get(tag)
        if existing is None:
            created = Dialog.from_uac_response(self.invite, response)
            self.dialogs[tag] = created
            return created
        existing.update_from_response(self.invite, response)
        return existing

    @property
    def confirmed(self) -> list[Dialog]:
        return [d for d in self.dialogs.values() if d.state is DialogState.CONFIRMED]
