"""SIP parse + serialise throughput on one core (target: 50,000 REGISTER/s).

Run: ``uv run --frozen python bench/sip_parse.py [seconds-per-case]``

Each iteration parses the bytes, reads what a registrar or router reads first (top Via
branch, Call-ID, CSeq), and serialises the message again. Figures are per core: the
benchmark is single-threaded and counts CPU time.
"""

from __future__ import annotations

import sys
import time

from centralino.sip import parse_message

REGISTER = (
    b"REGISTER sip:pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5062;rport;branch=z9hG4bK1f2e3d4c5b6a\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Alice" <sip:201@pbx.example.com>;tag=9fxced76sl\r\n'
    b'To: "Alice" <sip:201@pbx.example.com>\r\n'
    b"Call-ID: 3848276298220188511@192.0.2.10\r\n"
    b"CSeq: 2 REGISTER\r\n"
    b"Contact: <sip:201@192.0.2.10:5062;transport=udp>"
    b';+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"\r\n'
    b'Authorization: Digest username="201", realm="pbx.example.com", '
    b'nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", uri="sip:pbx.example.com", '
    b'response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", '
    b"qop=auth, nc=00000001\r\n"
    b"Expires: 3600\r\n"
    b"User-Agent: baresip v3.10.1 (x86_64/linux)\r\n"
    b"Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,UPDATE,REFER\r\n"
    b"Content-Length: 0\r\n\r\n"
)

SDP = (
    b"v=0\r\no=- 1577836800 1577836800 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\nm=audio 40000 RTP/AVP 8 0 9 101\r\na=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\na=sendrecv\r\n"
)

INVITE = (
    b"INVITE sip:202@pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5062;rport;branch=z9hG4bK74bf9a2c\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:201@pbx.example.com>;tag=9fxced76sl\r\n"
    b"To: <sip:202@pbx.example.com>\r\n"
    b"Call-ID: 1b8e4c2a-8d7f-4e2c-9c1e-5f2a3b4c5d6e\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:201@192.0.2.10:5062;transport=udp>\r\n"
    b"Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,UPDATE,REFER\r\n"
    b"Supported: replaces,norefersub,100rel\r\n"
    b"User-Agent: baresip v3.10.1 (x86_64/linux)\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)


def rate(data: bytes, seconds: float) -> float:
    """Messages per CPU-second, best of three runs.

    CPU time rather than wall time, so that other processes sharing the machine do not
    count against the parser; the best run is the least disturbed one.
    """
    assert parse_message(data).serialize() == data
    best = 0.0
    batch = 1000
    for _ in range(3):
        count = 0
        start = time.process_time()
        while (elapsed := time.process_time() - start) < seconds / 3:
            for _ in range(batch):
                msg = parse_message(data)
                _ = (msg.top_via.branch, msg.call_id, msg.cseq)
                msg.serialize()
            count += batch
        best = max(best, count / elapsed)
    return best


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    for name, data in (("REGISTER with Authorization", REGISTER), ("INVITE with SDP", INVITE)):
        print(f"{name:28s} {len(data):5d} B  {rate(data, seconds):10,.0f} msg/s (parse+serialise)")


if __name__ == "__main__":
    main()
