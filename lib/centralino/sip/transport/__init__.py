"""SIP transports: sans-IO stream framing and thin asyncio adapters (RFC 3261 §18, RFC 7118).

Use :class:`TransportManager` to listen on UDP, TCP, TLS, WS and WSS, receive every
message with the :class:`Flow` it came on, and send back over that flow or to an address.
"""

from centralino.sip.transport.flow import (
    Address,
    Flow,
    FlowClosedError,
    NoListenerError,
    NoRouteError,
    OversizeDatagramError,
    TransportError,
    TransportKind,
)
from centralino.sip.transport.framing import (
    DEFAULT_MAX_MESSAGE_SIZE,
    PONG,
    FramingError,
    KeepAlivePing,
    MessageTooLargeError,
    MissingContentLengthError,
    StreamFramer,
    StreamMessage,
)
from centralino.sip.transport.manager import (
    DEFAULT_IDLE_TIMEOUT,
    FlowClosedHandler,
    Listener,
    MessageHandler,
    TransportManager,
)
from centralino.sip.transport.tls import client_context, self_signed_server_context, server_context

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "PONG",
    "Address",
    "Flow",
    "FlowClosedError",
    "FlowClosedHandler",
    "FramingError",
    "KeepAlivePing",
    "Listener",
    "MessageHandler",
    "MessageTooLargeError",
    "MissingContentLengthError",
    "NoListenerError",
    "NoRouteError",
    "OversizeDatagramError",
    "StreamFramer",
    "StreamMessage",
    "TransportError",
    "TransportKind",
    "TransportManager",
    "client_context",
    "self_signed_server_context",
    "server_context",
]
