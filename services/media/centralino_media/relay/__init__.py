"""The sans-IO media core: sessions, bridges (relay/transcode/UDPTL) and their endpoints."""

from centralino_media.relay.bridge import Bridge, Datagram
from centralino_media.relay.counters import LegCounters
from centralino_media.relay.endpoint import Endpoint
from centralino_media.relay.remote import RemoteMedia
from centralino_media.relay.session import (
    LegPorts,
    LegSettings,
    LegStats,
    MediaSession,
    MediaWarning,
    SessionError,
)
from centralino_media.relay.transcoder import Transcoder

__all__ = [
    "Bridge",
    "Datagram",
    "Endpoint",
    "LegCounters",
    "LegPorts",
    "LegSettings",
    "LegStats",
    "MediaSession",
    "MediaWarning",
    "RemoteMedia",
    "SessionError",
    "Transcoder",
]
