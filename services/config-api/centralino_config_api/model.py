"""The attributes of extensions and SIP accounts, with their value sets and defaults.

Per-item attributes (``*_PROPS``) are set on each item only (TPL-06, TPL-09); shareable
attributes (``*_SETTINGS``) may come from a template and be overridden per item.
"""

from __future__ import annotations

from centralino_config_api.fields import (
    Field,
    FieldSet,
    boolean,
    choice,
    integer,
    ip_address,
    netmask,
    ordered_set,
    reference,
    references,
    text,
)
from centralino_config_api.overflow import action

NUMBER = r"[0-9]{1,15}"
PHONE = r"\+?[0-9]{3,20}"
EMAIL = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"
ALNUM = r"[A-Za-z0-9]+"
HOSTNAME = r"[A-Za-z0-9]([A-Za-z0-9\-.]{0,251}[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?"
PIN = r"[0-9]{4,12}"

AUDIO_CODECS = ("PCMA", "PCMU", "G722", "G726", "G729", "GSM", "OPUS")
AUDIO_ALIASES = {
    "G.711a": "PCMA",
    "G.711u": "PCMU",
    "G.722": "G722",
    "G.726": "G726",
    "G.729": "G729",
    "Opus": "OPUS",
    "alaw": "PCMA",
    "ulaw": "PCMU",
}
VIDEO_CODECS = ("H261", "H263", "H263P", "H264", "VP8")
VIDEO_ALIASES = {
    "H.261": "H261",
    "H.263": "H263",
    "H.263+": "H263P",
    "H263+": "H263P",
    "H.264": "H264",
}
TRANSPORTS = ("udp", "tcp", "tls", "ws", "wss")
DEFAULT_AUDIO = ("PCMA", "PCMU", "G722", "OPUS")

LDAP_MODES = ("disabled", "rule", "number", "rule_extension")
UNLOCK_MODES = ("open", "code", "password")
UNLOCK_POLICIES = ("per_call", "auto_relock", "until_relocked")
ORIGINS = ("internal", "external", "transfer")
CAUSES = ("no_answer", "busy", "unavailable")

EXTENSION_PROPS = FieldSet(
    [
        text(
            "number",
            None,
            "internal number of the extension",
            pattern=NUMBER,
            why="must be 1 to 15 digits",
            nullable=False,
            req="EXT-08",
            shareable=False,
        ),
        boolean("enabled", True, "extension enabled", req="EXT-07", shareable=False),
        text(
            "first_name",
            None,
            "first name (display name, phonebook)",
            max_length=64,
            req="EXT-09",
            shareable=False,
        ),
        text(
            "last_name",
            None,
            "last name (display name, phonebook)",
            max_length=64,
            req="EXT-09",
            shareable=False,
        ),
        text(
            "email",
            None,
            "e-mail address (phonebook)",
            pattern=EMAIL,
            why="must be an e-mail address like name@example.com",
            req="EXT-10",
            shareable=False,
        ),
        text(
            "mobile",
            None,
            "mobile number (phonebook, Fork2Mobile)",
            pattern=PHONE,
            why="must be a telephone number (digits, optional leading +)",
            req="EXT-11",
            shareable=False,
        ),
        text(
            "voicemail_email",
            None,
            "address receiving voicemail notifications",
            pattern=EMAIL,
            why="must be an e-mail address like name@example.com",
            req="VM-02",
            shareable=False,
        ),
    ]
)

_overflow = []
for _origin in ORIGINS:
    _overflow.append(
        integer(
            f"overflow.{_origin}.timeout",
            30,
            f"seconds before a {_origin} call counts as unanswered",
            minimum=1,
            maximum=600,
            req="OVF-03",
        )
    )
    for _cause in CAUSES:
        _overflow.append(action(f"overflow.{_origin}.{_cause}", f"{_origin} call, {_cause}"))

EXTENSION_SETTINGS = FieldSet(
    [
        boolean("voicemail.enabled", False, "create a voicemail box", req="VM-01"),
        boolean("voicemail.active", True, "voicemail box enabled", req="VM-06"),
        boolean("voicemail.notify_email", False, "e-mail on each new message", req="VM-03"),
        boolean("voicemail.attach", False, "attach the recording to the e-mail", req="VM-04"),
        boolean(
            "voicemail.delete_after_email", False, "delete the recording once e-mailed", req="VM-05"
        ),
        boolean("phonebook.show_in_local", True, "list in the local phonebook", req="PB-01"),
        choice("phonebook.ldap_mode", LDAP_MODES, "rule", "LDAP publication mode", req="PB-03"),
        text(
            "phonebook.ldap_custom_number",
            None,
            "number published in LDAP (mode 'number')",
            pattern=PHONE,
            why="must be a telephone number",
            req="PB-06",
        ),
        text(
            "phonebook.ldap_custom_extension",
            None,
            "extension the LDAP rule is applied to (mode 'rule_extension')",
            pattern=NUMBER,
            why="must be an extension number",
            req="PB-07",
        ),
        text("phonebook.organisation", None, "organisation (LDAP o)", max_length=64, req="PB-09"),
        text("phonebook.department", None, "department (LDAP ou)", max_length=64, req="PB-10"),
        reference(
            "cos.standard_class", "routing_class", "routing class while unlocked", req="COS-01"
        ),
        reference(
            "cos.restricted_class", "routing_class", "routing class while locked", req="COS-02"
        ),
        integer(
            "limits.call_limit",
            0,
            "concurrent calls over all accounts, 0 = no limit",
            minimum=0,
            maximum=1000,
            req="LIM-01",
        ),
        integer(
            "limits.busy_level",
            0,
            "calls at which the extension is busy, 0 = no limit",
            minimum=0,
            maximum=1000,
            req="LIM-03",
        ),
        choice(
            "lock.unlock_mode", UNLOCK_MODES, "open", "electronic lock unlock mode", req="LOCK-01"
        ),
        choice("lock.policy", UNLOCK_POLICIES, "per_call", "unlock policy", req="LOCK-05"),
        integer(
            "lock.duration",
            None,
            "seconds before relocking (policy 'auto_relock')",
            minimum=1,
            maximum=86400,
            nullable=True,
            req="LOCK-08",
        ),
        references(
            "pickup.member_of", "pickup_group", "pickup groups this extension is in", req="PICK-01"
        ),
        references(
            "pickup.authorised", "pickup_group", "groups this extension may pick up", req="PICK-02"
        ),
        *_overflow,
    ]
)

ACCOUNT_PROPS = FieldSet(
    [
        text(
            "username",
            None,
            "SIP username",
            pattern=ALNUM,
            why="must be alphanumeric",
            max_length=64,
            nullable=False,
            req="ACC-08",
            shareable=False,
        ),
        boolean("enabled", True, "account enabled", req="ACC-06", shareable=False),
        text(
            "extension",
            None,
            "number of the extension the account belongs to",
            pattern=NUMBER,
            why="must be an extension number",
            nullable=False,
            req="ACC-04",
            shareable=False,
        ),
    ]
)

SIP_PASSWORD = text(
    "password",
    None,
    "SIP secret",
    pattern=ALNUM,
    why="must be alphanumeric",
    min_length=8,
    max_length=64,
    nullable=False,
    req="ACC-08",
    shareable=False,
)
SERVICE_PIN = text(
    "service_pin",
    None,
    "services PIN",
    pattern=PIN,
    why="must be 4 to 12 digits",
    req="EXT-12",
    shareable=False,
)

ACCOUNT_SETTINGS = FieldSet(
    [
        boolean("push_enabled", False, "KCTI mobile app push notifications", req="ACC-07"),
        boolean(
            "registration_check", False, "INVITE only from the registered address", req="ACC-10"
        ),
        ip_address("acl.address", "allowed source address (null = any)", req="ACC-11"),
        netmask("acl.netmask", "allowed subnet mask", req="ACC-11"),
        boolean(
            "nat", False, "reply to the source address, ignore SIP/SDP addresses", req="ACC-12"
        ),
        boolean("direct_media", False, "media flows directly between endpoints", req="ACC-14"),
        boolean("srtp", False, "SRTP supported", req="ACC-16"),
        text(
            "outbound_proxy.address",
            None,
            "outbound proxy host",
            pattern=HOSTNAME,
            why="must be a hostname or IP address",
            max_length=253,
            req="ACC-18",
        ),
        integer(
            "outbound_proxy.port",
            None,
            "outbound proxy port",
            minimum=1,
            maximum=65535,
            nullable=True,
            req="ACC-18",
        ),
        choice(
            "outbound_proxy.protocol", TRANSPORTS, "udp", "outbound proxy transport", req="ACC-18"
        ),
        ordered_set(
            "transports",
            TRANSPORTS,
            TRANSPORTS,
            "transports the account may use",
            min_items=1,
            req="ACC-20",
        ),
        ordered_set(
            "audio_codecs",
            AUDIO_CODECS,
            DEFAULT_AUDIO,
            "audio codecs, in order",
            min_items=1,
            req="ACC-22",
            aliases=AUDIO_ALIASES,
        ),
        ordered_set(
            "video_codecs",
            VIDEO_CODECS,
            (),
            "video codecs, in order",
            req="ACC-23",
            aliases=VIDEO_ALIASES,
        ),
    ]
)

SIP_SETTINGS = FieldSet(
    [
        *(
            f
            for name, port in (
                ("udp", 5060),
                ("tcp", 5060),
                ("tls", 5061),
                ("ws", 8088),
                ("wss", 8089),
            )
            for f in (
                boolean(
                    f"transports.{name}.enabled", True, f"{name.upper()} enabled", req="ACC-21"
                ),
                integer(
                    f"transports.{name}.port",
                    port,
                    f"{name.upper()} port",
                    minimum=1,
                    maximum=65535,
                ),
            )
        ),
        text(
            "realm",
            "centralino",
            "SIP digest realm (changing it invalidates every HA1)",
            pattern=r"[A-Za-z0-9][A-Za-z0-9.\-]{0,62}",
            why="must be a hostname-like token",
            nullable=False,
        ),
        text("tls.certificate", None, "PEM certificate chain for SIP over TLS", max_length=65536),
        integer(
            "registration.min_expires",
            60,
            "shortest registration granted",
            minimum=1,
            maximum=86400,
        ),
        integer(
            "registration.max_expires",
            3600,
            "longest registration granted",
            minimum=1,
            maximum=86400,
        ),
        integer(
            "registration.default_expires",
            3600,
            "registration granted when none asked",
            minimum=1,
            maximum=86400,
        ),
    ]
)

SERVICE_CODES = FieldSet(
    [
        text(
            f"{name}",
            code,
            doc,
            pattern=r"[*#][0-9*#]{1,8}",
            why="must start with * or # followed by 1 to 8 of 0-9 * #",
            nullable=False,
            req=req,
        )
        for name, code, doc, req in (
            ("lock", "*70", "lock the electronic lock", "LOCK-03"),
            ("unlock", "*71", "unlock the electronic lock", "LOCK-03"),
            ("pickup", "*8", "group call pickup", "PICK-02"),
            ("voicemail", "*98", "voicemail access", "VM-07"),
        )
    ]
)


#: a DNS domain name (labels of letters, digits and inner hyphens), optionally rooted
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
DOMAIN = rf"(?:{_LABEL}\.)*{_LABEL}\.?"


def _plan_text(path: str, default: str, doc: str, pattern: str, why: str, req: str) -> Field:
    """A numbering-plan string where "unset" is spelled "" (the router reads empty strings),
    so null is accepted and stored as ""."""
    base = text(path, None, doc, pattern=pattern, why=why, max_length=253, req=req)

    def check(v: object) -> str:
        return base.check(v) or ""

    schema = {
        "type": ["string", "null"],
        "maxLength": 253,
        "pattern": f"^(?:{pattern})?$",
    }
    return Field(path, check, default, schema, doc, req, False)


NUMBERING_PLAN = FieldSet(
    [
        _plan_text(
            "country_code",
            "",
            "country calling code, e.g. 39 (empty: national numbers have no E.164 form)",
            r"[1-9][0-9]{0,2}",
            "must be 1 to 3 digits not starting with 0, or empty",
            "FEAT-07",
        ),
        _plan_text(
            "international_prefix",
            "00",
            "prefix dialled before a country code, e.g. 00",
            r"[0-9]{1,4}",
            "must be up to 4 digits",
            "COS-01",
        ),
        _plan_text(
            "national_prefix",
            "0",
            "trunk prefix of national numbers, e.g. 0 (empty: none)",
            r"[0-9]{1,2}",
            "must be up to 2 digits",
            "COS-01",
        ),
        _plan_text(
            "enum_suffix",
            "",
            "ENUM domain, e.g. e164.arpa (empty: no ENUM look-up)",
            DOMAIN,
            "must be a DNS domain name such as e164.arpa, or empty",
            "FEAT-07",
        ),
    ]
)
