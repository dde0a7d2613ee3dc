"""Whether the client on the other end of an API connection has gone away."""

import select
import socket


def peer_gone(s: socket.socket, half_close_counts: bool = True) -> bool:
    """Whether the client closed its end (or, unless told otherwise, only its sending
    half). poll() reads nothing, so it works through TLS as on plain sockets. A client
    sending no stdin half-closes at once (the docker CLI does), so waiting for a
    container to start must not count that; a TCP client's full close looks like a
    half close until something is written."""
    hup = select.POLLHUP | select.POLLERR | select.POLLNVAL
    watch = hup | (select.POLLRDHUP if half_close_counts else 0)
    p = select.poll()
    p.register(s.fileno(), watch)
    return any(ev & watch for _, ev in p.poll(0))
