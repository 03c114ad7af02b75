"""Typed views of the media attributes a PBX acts on.

``a=rtpmap`` / ``a=fmtp`` (RFC 4566 §6), ``a=rtcp`` (RFC 3605), ``a=rtcp-mux`` (RFC 5761),
``a=ptime``, ``a=crypto`` (RFC 4568 SDES) and ``a=rtcp-fb`` (RFC 4585).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from centralino.sdp.errors import SdpParseError
from centralino.sdp.model import Attribute, MediaDescription


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<pt> <encoding>/<clock>[/<channels>]``."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None

    def attribute(self) -> Attribute:
        channels = f"/{self.channels}" if self.channels is not None else ""
        return Attribute(
            "rtpmap", f"{self.payload_type} {self.encoding}/{self.clock_rate}{channels}"
        )

    @classmethod
    def parse(cls, value: str) -> RtpMap:
        pt_text, _, rest = value.partition(" ")
        parts = rest.strip().split("/")
        if not pt_text.isdigit() or len(parts) not in (2, 3) or not parts[1].isdigit():
            raise SdpParseError(f"bad a=rtpmap:{value!r}")
        if len(parts) == 3 and not parts[2].isdigit():
            raise SdpParseError(f"bad channel count in a=rtpmap:{value!r}")
        pt = int(pt_text)
        if pt > 127:
            raise SdpParseError(f"payload type {pt} out of range in a=rtpmap")
        return cls(pt, parts[0], int(parts[1]), int(parts[2]) if len(parts) == 3 else None)


def rtpmaps(media: MediaDescription) -> dict[int, RtpMap]:
    """All ``a=rtpmap`` of a media section, by payload type."""
    out: dict[int, RtpMap] = {}
    for value in media.attribute_values("rtpmap"):
        m = RtpMap.parse(value)
        out[m.payload_type] = m
    return out


def fmtps(media: MediaDescription) -> dict[str, str]:
    """``a=fmtp:<format> <parameters>`` by format (a payload type, or ``t38`` params)."""
    out: dict[str, str] = {}
    for value in media.attribute_values("fmtp"):
        fmt, _, params = value.partition(" ")
        out[fmt] = params.strip()
    return out


def ptime(media: MediaDescription) -> int | None:
    """``a=ptime`` in milliseconds; fractional values (``20.0``) are rounded."""
    value = media.attribute("ptime")
    if value is None or value.value is None:
        return None
    try:
        result = round(float(value.value))
    except ValueError:
        raise SdpParseError(f"bad a=ptime:{value.value!r}") from None
    if not 1 <= result <= 1000:
        raise SdpParseError(f"a=ptime:{value.value} out of range")
    return result


@dataclass(frozen=True, slots=True)
class RtcpAddress:
    """RFC 3605 ``a=rtcp:<port> [IN IP4 <address>]``."""

    port: int
    address: str | None = None

    @classmethod
    def parse(cls, value: str) -> RtcpAddress:
        parts = value.split()
        if not parts or not parts[0].isdigit() or int(parts[0]) > 65535:
            raise SdpParseError(f"bad a=rtcp:{value!r}")
        if len(parts) == 4:
            return cls(int(parts[0]), parts[3])
        if len(parts) != 1:
            raise SdpParseError(f"bad a=rtcp:{value!r}")
        return cls(int(parts[0]))


def rtcp_address(media: MediaDescription) -> RtcpAddress | None:
    a = media.attribute("rtcp")
    return RtcpAddress.parse(a.value) if a is not None and a.value is not None else None


def telephone_event_types(media: MediaDescription) -> dict[int, int]:
    """RFC 4733 ``telephone-event`` payload types mapped to their clock rate."""
    return {
        pt: m.clock_rate
        for pt, m in rtpmaps(media).items()
        if m.encoding.lower() == "telephone-event"
    }


# --- RFC 4568 SDES -------------------------------------------------------------------------

#: suite -> (master key bytes, master salt bytes); RFC 4568 §6.2 and RFC 3711.
CRYPTO_SUITES: dict[str, tuple[int, int]] = {
    "AES_CM_128_HMAC_SHA1_80": (16, 14),
    "AES_CM_128_HMAC_SHA1_32": (16, 14),
}

_CRYPTO_RE = re.compile(r"^(\d{1,9})\s+([A-Za-z0-9_]+)\s+(\S+)(?:\s+(.*))?$")
_INLINE_RE = re.compile(r"^inline:([A-Za-z0-9+/=]+)(?:\|([^|]+))?(?:\|(\d+):(\d+))?$")


@dataclass(frozen=True, slots=True)
class CryptoAttribute:
    """``a=crypto:<tag> <suite> inline:<key||salt>[|lifetime][|MKI:len] [session params]``.

    Only one key parameter is kept (phones send one). The key material is left out of
    ``repr`` so a logged attribute never leaks it (ACC-17).
    """

    tag: int
    suite: str
    key_salt: bytes = field(repr=False)
    lifetime: str | None = None
    mki: tuple[int, int] | None = None
    session_params: tuple[str, ...] = ()

    def attribute(self) -> Attribute:
        key = "inline:" + base64.b64encode(self.key_salt).decode("ascii")
        if self.lifetime is not None:
            key += f"|{self.lifetime}"
        if self.mki is not None:
            key += f"|{self.mki[0]}:{self.mki[1]}"
        params = "".join(f" {p}" for p in self.session_params)
        return Attribute("crypto", f"{self.tag} {self.suite} {key}{params}")

    @property
    def supported(self) -> bool:
        return self.suite in CRYPTO_SUITES and not self.session_params and self.mki is None

    @classmethod
    def parse(cls, value: str) -> CryptoAttribute:
        m = _CRYPTO_RE.match(value.strip())
        if not m:
            raise SdpParseError("bad a=crypto attribute")  # no value: it may hold a key
        tag, suite, key_params, session = m.groups()
        # RFC 4568 §9.2: several ';'-separated key params may follow; we use the first.
        inline = _INLINE_RE.match(key_params.split(";", 1)[0])
        if not inline:
            raise SdpParseError(f"a=crypto tag {tag}: unsupported key method")
        try:
            key_salt = base64.b64decode(inline.group(1), validate=True)
        except (binascii.Error, ValueError):
            raise SdpParseError(f"a=crypto tag {tag}: key is not base64") from None
        sizes = CRYPTO_SUITES.get(suite)
        if sizes is not None and len(key_salt) != sum(sizes):
            raise SdpParseError(
                f"a=crypto tag {tag}: {suite} needs {sum(sizes)} key+salt bytes, "
                f"got {len(key_salt)}"
            )
        mki = (int(inline.group(3)), int(inline.group(4))) if inline.group(3) else None
        return cls(
            tag=int(tag),
            suite=suite,
            key_salt=key_salt,
            lifetime=inline.group(2),
            mki=mki,
            session_params=tuple(session.split()) if session else (),
        )

    @classmethod
    def generate(
        cls, tag: int, suite: str, random_bytes: Callable[[int], bytes] = os.urandom
    ) -> CryptoAttribute:
        sizes = CRYPTO_SUITES.get(suite)
        if sizes is None:
            raise ValueError(f"unsupported SRTP suite {suite!r}")
        return cls(tag=tag, suite=suite, key_salt=random_bytes(sum(sizes)))


def crypto_attributes(media: MediaDescription) -> list[CryptoAttribute]:
    return [CryptoAttribute.parse(v) for v in media.attribute_values("crypto")]
