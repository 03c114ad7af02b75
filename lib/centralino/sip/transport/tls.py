"""TLS contexts for SIP over TLS and WSS, and a self-signed certificate for first start."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

from centralino.runner.tls import ensure_self_signed, self_signed

__all__ = ["client_context", "self_signed_server_context", "server_context"]


def server_context(cert_file: Path | str, key_file: Path | str) -> ssl.SSLContext:
    """A server context for a certificate chain and key in PEM files."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # RFC 3261 §26.3.1 asks for TLS; anything older than 1.2 is broken today.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


def client_context(cafile: Path | str | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """A client context trusting ``cafile`` (else the system store).

    ``verify=False`` accepts any certificate: for peers known by address only, such as a
    phone's self-signed certificate, where the SIP layer authenticates instead.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def self_signed_server_context(
    hostnames: list[str], directory: Path | None = None
) -> tuple[ssl.SSLContext, Path]:
    """A server context with a self-signed certificate for ``hostnames``.

    The PEM files go to ``directory`` (kept and reused on the next start) or, without
    one, to a fresh temporary directory. Returns the context and the certificate path,
    which clients can use as their CA file.
    """
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="sip-tls-"))
        cert, key = self_signed(hostnames)
        (directory / "key.pem").write_bytes(key)
        (directory / "key.pem").chmod(0o600)
        (directory / "cert.pem").write_bytes(cert)
    else:
        ensure_self_signed(directory / "cert.pem", directory / "key.pem", hostnames)
    return server_context(directory / "cert.pem", directory / "key.pem"), directory / "cert.pem"
