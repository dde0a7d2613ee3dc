"""HTTP: after the handshake, one GET; any status line is ok (`status` narrows it).

The request names the probe in a header, so `via` also recognises it by its bytes."""

import re
import secrets
from contextlib import ExitStack

from fabric.probe import packets
from fabric.probe.attempt import Attempt
from fabric.probe.model import Outcome, Probe
from fabric.probe.stream import Matcher, connect

STATUS_LINE = re.compile(rb"^HTTP/\d(?:\.\d)? (\d{3})(?: ([^\r\n]*))?\r?$")


def probe(src_netns: str | None, p: Probe, stack: ExitStack) -> tuple[Outcome, Matcher]:
    at, sock, outcome, flow_match = connect(src_netns, p, stack)
    token = secrets.token_hex(8).encode()

    def mine(pkt: packets.IPv4) -> bool:
        return flow_match(pkt) or (pkt.proto == packets.TCP and token in pkt.payload)

    if outcome.result != "ok":
        return outcome, mine
    request = (f"GET {p.path} HTTP/1.0\r\nHost: {p.dst}:{p.port}\r\n"
               f"User-Agent: fabric-probe\r\nX-Fabric-Probe: ").encode() + token + \
        b"\r\nConnection: close\r\n\r\n"
    try:
        sock.send(request)     # far below any socket buffer: one call sends it whole
    except OSError as e:
        return at.refused(f"connected, then {e.strerror or e}"), mine
    return _status(at, sock, p), mine


def _status(at: Attempt, sock, p: Probe) -> Outcome:
    head = b""
    while b"\n" not in head and len(head) < 4096:
        if at.wait([sock]) is None:
            return at.silence("no HTTP answer")
        try:
            data = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError as e:
            return at.refused(f"connected, then {e.strerror or e}")
        if not data:
            break
        head += data
    line = head.split(b"\n", 1)[0]
    m = STATUS_LINE.match(line)
    if m is None:
        return at.refused("connected, but no HTTP status line came back")
    text = line.rstrip(b"\r").decode("latin-1")
    if p.status is not None and int(m.group(1)) != p.status:
        return at.refused(f"{text} (wanted {p.status})")
    return at.ok(text)
