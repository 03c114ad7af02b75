"""Rules between attributes, checked on the effective (template-merged) document.

Each rule returns problems (the write is refused, 422) or warnings (advice from the manual's
"should" sentences, returned with the saved item). Reference existence needs the database
and lives in the store; everything here is pure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from centralino_config_api.errors import FieldProblem


@dataclass
class Verdict:
    problems: list[FieldProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def fail(self, path: str, reason: str) -> None:
        self.problems.append(FieldProblem(path, reason))


def _s(path: str) -> str:
    return f"settings.{path}"


def check_extension(
    props: Mapping[str, Any] | None, eff: Mapping[str, Any], *, has_pin: bool, number: str
) -> Verdict:
    """``props`` is None when checking a template on its own: rules that need the item's
    own fields (PIN, e-mail, number) are then checked on each extension using it."""
    v = Verdict()
    # VM-05 leaves open what "delete after e-mail" means without an e-mail carrying the
    # recording; we refuse it, so a message can never be deleted unheard.
    if eff["voicemail.delete_after_email"] and not (
        eff["voicemail.notify_email"] and eff["voicemail.attach"]
    ):
        v.fail(
            _s("voicemail.delete_after_email"),
            "needs voicemail.notify_email and voicemail.attach, or messages would be lost",
        )
    if (
        props is not None
        and eff["voicemail.notify_email"]
        and not (props.get("voicemail_email") or props.get("email"))
    ):
        v.fail(
            _s("voicemail.notify_email"),
            "needs voicemail_email (or the extension's email) to send notifications to",
        )
    mode = eff["phonebook.ldap_mode"]
    if mode == "number" and not eff["phonebook.ldap_custom_number"]:
        v.fail(_s("phonebook.ldap_custom_number"), "is required when ldap_mode is 'number'")
    if mode == "rule_extension" and not eff["phonebook.ldap_custom_extension"]:
        v.fail(
            _s("phonebook.ldap_custom_extension"), "is required when ldap_mode is 'rule_extension'"
        )
    limit, busy = eff["limits.call_limit"], eff["limits.busy_level"]
    if limit and busy and busy > limit:
        v.fail(
            _s("limits.busy_level"),
            f"is {busy}, above the concurrent call limit {limit}: it could never be reached",
        )
    if limit == 1:
        v.warnings.append("limits.call_limit = 1 prevents attended transfer (LIM-02)")
    if eff["lock.policy"] == "auto_relock" and not eff["lock.duration"]:
        v.fail(_s("lock.duration"), "is required when lock.policy is 'auto_relock'")
    if props is not None and eff["lock.unlock_mode"] == "password" and not has_pin:
        v.fail(_s("lock.unlock_mode"), "'password' needs the extension's service_pin (LOCK-04)")
    if eff["lock.unlock_mode"] != "open" and not eff["cos.restricted_class"]:
        v.fail(
            _s("cos.restricted_class"),
            "is required when the electronic lock can be locked (unlock_mode not 'open')",
        )
    for origin in ("internal", "external", "transfer"):
        for cause in ("no_answer", "busy", "unavailable"):
            path = f"overflow.{origin}.{cause}"
            act = eff[path]
            if act["type"] == "extension" and act["target"] == number:
                v.fail(_s(path), "would forward the extension to itself")
            own_box = act["type"] == "voicemail" and act["target"] in (None, number)
            if props is not None and own_box and not eff["voicemail.enabled"]:
                v.fail(
                    _s(path),
                    "sends calls to this extension's voicemail, which has no box "
                    "(set voicemail.enabled)",
                )
    return v


def visible(eff: Mapping[str, Any]) -> dict[str, Any]:
    """The effective values as services should read them: fields the manual hides in the
    current mode (PB-08, LOCK-08) are null rather than stale."""
    out = dict(eff)
    if out["phonebook.ldap_mode"] != "number":
        out["phonebook.ldap_custom_number"] = None
    if out["phonebook.ldap_mode"] != "rule_extension":
        out["phonebook.ldap_custom_extension"] = None
    if out["lock.policy"] != "auto_relock":
        out["lock.duration"] = None
    return out


def check_account(eff: Mapping[str, Any], enabled_transports: Collection[str]) -> Verdict:
    v = Verdict()
    address, mask = eff["acl.address"], eff["acl.netmask"]
    if (address is None) != (mask is None):
        v.fail(
            _s("acl.netmask" if mask is None else "acl.address"),
            "acl.address and acl.netmask must be set together (ACC-11)",
        )
    elif address is not None:
        try:
            ipaddress.ip_network(f"{address}/{mask}", strict=True)
        except ValueError as exc:
            v.fail(_s("acl.netmask"), f"does not fit acl.address: {exc}")
    proxy = eff["outbound_proxy.address"]
    if proxy is None and eff["outbound_proxy.port"] is not None:
        v.fail(_s("outbound_proxy.port"), "needs outbound_proxy.address")
    if proxy is not None and eff["outbound_proxy.protocol"] not in enabled_transports:
        v.fail(
            _s("outbound_proxy.protocol"),
            f"{eff['outbound_proxy.protocol']} is disabled in the SIP settings (ACC-19)",
        )
    disabled = [t for t in eff["transports"] if t not in enabled_transports]
    if disabled:
        v.fail(_s("transports"), f"{', '.join(disabled)} disabled in the SIP settings (ACC-21)")
    if eff["srtp"] and not {"tls", "wss"} & set(eff["transports"]):
        v.warnings.append("SRTP keys travel in SDP: enable TLS or WSS signalling too (ACC-17)")
    if eff["direct_media"]:
        v.warnings.append(
            "direct media disables recording and service-code transfer and park (ACC-15)"
        )
    return v


def check_sip_settings(eff: Mapping[str, Any]) -> Verdict:
    v = Verdict()
    enabled = [t for t in ("udp", "tcp", "tls", "ws", "wss") if eff[f"transports.{t}.enabled"]]
    if not enabled:
        v.fail("transports", "at least one transport must stay enabled")
    ports: dict[tuple[str, int], str] = {}
    for t in enabled:
        # UDP and TCP may share a port number; stream transports may not share with each other
        layer = "udp" if t == "udp" else "stream"
        key = (layer, eff[f"transports.{t}.port"])
        if key in ports:
            v.fail(f"transports.{t}.port", f"already used by {ports[key]}")
        ports[key] = t
    lo, hi = eff["registration.min_expires"], eff["registration.max_expires"]
    if lo > hi:
        v.fail("registration.min_expires", "must not exceed registration.max_expires")
    if not lo <= eff["registration.default_expires"] <= hi:
        v.fail("registration.default_expires", "must lie between min_expires and max_expires")
    return v


def check_service_codes(codes: Mapping[str, str]) -> Verdict:
    """Codes must differ and none may be a prefix of another: the dial plan would not know
    when a code is complete."""
    v = Verdict()
    items = sorted(codes.items())
    for name, code in items:
        for other, other_code in items:
            if name != other and other_code.startswith(code):
                v.fail(other, f"{other_code} starts with the {name} code {code}")
    return v


def check_numbering_plan(plan: Mapping[str, str]) -> Verdict:
    """The router tells international from national numbers by their prefix: the two
    prefixes must differ, and ENUM needs a country code to turn national numbers into E.164."""
    v = Verdict()
    intl, national = plan["international_prefix"], plan["national_prefix"]
    if intl and intl == national:
        v.fail("national_prefix", f"must differ from the international prefix {intl}")
    if plan["enum_suffix"] and not plan["country_code"]:
        v.fail("country_code", "is required for ENUM look-ups (enum_suffix is set)")
    return v
