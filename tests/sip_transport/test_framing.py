"""Stream framing (RFC 3261 §18.3, RFC 5626 §3.5.1) without sockets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centralino.sip.transport.framing import (
    FramingError,
    KeepAlivePing,
    MessageTooLargeError,
    MissingContentLengthError,
    StreamFramer,
    StreamMessage,
)

OPTIONS = (
    b"OPTIONS sip:pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
    b"Call-ID: a@b\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)
INVITE = (
    b"INVITE sip:bob@pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK2\r\n"
    b"Content-Type: application/sdp\r\n"
    b"l: 13\r\n"
    b"\r\n"
    b"v=0\r\ns=-\r\nt=0"
)


def feed(framer: StreamFramer, data: bytes) -> list[StreamMessage | KeepAlivePing]:
    """Every event ``data`` completes, in order."""
    framer.receive_data(data)
    return list(iter(framer.next_event, None))


def messages(events: list[StreamMessage | KeepAlivePing]) -> list[bytes]:
    return [e.data for e in events if isinstance(e, StreamMessage)]


def test_feat01_one_message_in_one_read() -> None:
    assert feed(StreamFramer(), OPTIONS) == [StreamMessage(OPTIONS)]


def test_feat01_several_messages_in_one_read_keep_their_order() -> None:
    assert messages(feed(StreamFramer(), OPTIONS + INVITE + OPTIONS)) == [OPTIONS, INVITE, OPTIONS]


def test_feat01_compact_content_length_frames_the_body() -> None:
    framer = StreamFramer()
    assert feed(framer, INVITE + b"extra") == [StreamMessage(INVITE)]
    assert framer.buffered == len(b"extra")


def test_feat01_message_across_reads_waits_for_the_whole_body() -> None:
    framer = StreamFramer()
    assert feed(framer, INVITE[:-5]) == []
    assert feed(framer, INVITE[-5:]) == [StreamMessage(INVITE)]
    assert framer.buffered == 0


@pytest.mark.parametrize(
    "header",
    [b"content-length:0", b"CONTENT-LENGTH  :   0", b"L:0", b"Content-Length:\t0 "],
)
def test_feat01_content_length_name_case_and_spacing(header: bytes) -> None:
    msg = b"OPTIONS sip:a SIP/2.0\r\n" + header + b"\r\n\r\n"
    assert feed(StreamFramer(), msg) == [StreamMessage(msg)]


def test_feat01_double_crlf_is_a_keepalive_ping() -> None:
    assert feed(StreamFramer(), b"\r\n\r\n") == [KeepAlivePing()]


def test_feat01_ping_split_across_reads_is_still_one_ping() -> None:
    framer = StreamFramer()
    assert feed(framer, b"\r\n") == []
    assert feed(framer, b"\r") == []
    assert feed(framer, b"\n") == [KeepAlivePing()]


def test_feat01_pings_between_messages() -> None:
    events = feed(StreamFramer(), OPTIONS + b"\r\n\r\n" + INVITE + b"\r\n\r\n\r\n\r\n")
    assert events == [
        StreamMessage(OPTIONS),
        KeepAlivePing(),
        StreamMessage(INVITE),
        KeepAlivePing(),
        KeepAlivePing(),
    ]


def test_feat01_stray_crlf_before_a_start_line_is_ignored() -> None:
    assert feed(StreamFramer(), b"\r\n" + OPTIONS) == [StreamMessage(OPTIONS)]


def test_feat01_missing_content_length_on_a_stream_is_an_error() -> None:
    framer = StreamFramer()
    with pytest.raises(MissingContentLengthError, match="Content-Length header is mandatory"):
        feed(framer, b"OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n")


def test_feat01_messages_before_a_framing_error_are_still_delivered() -> None:
    framer = StreamFramer()
    framer.receive_data(OPTIONS + b"\r\n\r\n" + b"OPTIONS sip:a SIP/2.0\r\n\r\n" + OPTIONS)
    assert framer.next_event() == StreamMessage(OPTIONS)
    assert framer.next_event() == KeepAlivePing()
    with pytest.raises(MissingContentLengthError):
        framer.next_event()
    assert framer.buffered == 0


def test_feat01_a_broken_stream_stays_broken() -> None:
    framer = StreamFramer()
    with pytest.raises(MissingContentLengthError):
        feed(framer, b"OPTIONS sip:a SIP/2.0\r\n\r\n")
    with pytest.raises(MissingContentLengthError):
        feed(framer, OPTIONS)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"Content-Length: ten", "invalid Content-Length value 'ten'"),
        (b"Content-Length: -1", "invalid Content-Length value '-1'"),
        (b"Content-Length: 1\r\nl: 2", "conflicting Content-Length values: '1', '2'"),
        (b"Content-Length: 99999999999", "invalid Content-Length value"),
    ],
)
def test_feat01_bad_content_length_names_the_problem(header: bytes, reason: str) -> None:
    with pytest.raises(FramingError, match=reason) as info:
        feed(StreamFramer(), b"OPTIONS sip:a SIP/2.0\r\n" + header + b"\r\n\r\n")
    assert info.value.status_hint == 400


def test_feat01_repeated_equal_content_length_is_accepted() -> None:
    msg = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 0\r\nl: 0\r\n\r\n"
    assert feed(StreamFramer(), msg) == [StreamMessage(msg)]


def test_feat01_oversize_announced_body_is_refused_before_it_arrives() -> None:
    framer = StreamFramer(max_message_size=200)
    with pytest.raises(MessageTooLargeError) as info:
        feed(framer, b"INVITE sip:a SIP/2.0\r\nContent-Length: 500\r\n\r\n")
    assert info.value.status_hint == 513
    assert info.value.limit == 200


def test_feat01_endless_header_block_is_refused_at_the_limit() -> None:
    framer = StreamFramer(max_message_size=1000)
    feed(framer, b"OPTIONS sip:a SIP/2.0\r\n")
    with pytest.raises(MessageTooLargeError, match="1000-byte limit"):
        for _ in range(100):
            feed(framer, b"X-Junk: " + b"a" * 50 + b"\r\n")


def test_feat01_message_exactly_at_the_limit_is_accepted() -> None:
    assert feed(StreamFramer(max_message_size=len(INVITE)), INVITE) == [StreamMessage(INVITE)]
    with pytest.raises(MessageTooLargeError):
        feed(StreamFramer(max_message_size=len(INVITE) - 1), INVITE)


def test_feat01_binary_garbage_never_hangs_and_ends_in_an_error() -> None:
    framer = StreamFramer(max_message_size=4096)
    with pytest.raises(FramingError):
        for i in range(100):
            feed(framer, bytes((i * 7 + j) % 256 for j in range(997)))


STREAM_PIECES = st.lists(st.sampled_from([OPTIONS, INVITE, b"\r\n\r\n"]), min_size=1, max_size=12)


@given(pieces=STREAM_PIECES, cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_feat01_any_split_of_a_stream_yields_the_same_events(
    pieces: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(pieces)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    framer = StreamFramer()
    events: list[StreamMessage | KeepAlivePing] = []
    start = 0
    for point in [*points, len(stream)]:
        events += feed(framer, stream[start:point])
        start = point
    expected = [KeepAlivePing() if p == b"\r\n\r\n" else StreamMessage(p) for p in pieces]
    assert events == expected
    assert framer.buffered == 0


@given(chunks=st.lists(st.binary(max_size=300), max_size=20))
def test_feat01_arbitrary_bytes_only_ever_raise_framing_errors(chunks: list[bytes]) -> None:
    framer = StreamFramer(max_message_size=1024)
    try:
        for chunk in chunks:
            for event in feed(framer, chunk):
                assert isinstance(event, KeepAlivePing) or len(event.data) <= 1024
    except FramingError:
        pass
    assert framer.buffered <= 1024 + 3
