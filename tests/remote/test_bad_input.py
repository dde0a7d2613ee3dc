"""Bad requests on the API socket get a clear answer, and the daemon keeps serving the
others with nothing left behind: unknown API versions, truncated, oversized, chunked
and malformed bodies, idle clients, and clients that go away in the middle of a stream."""

import json
import os
import socket
import time

from polling import wait_for


def raw(host, request: bytes, half_close: bool = True, timeout: float = 10) -> tuple[int, str]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(host.host.socket)
    s.sendall(request)
    if half_close:
        s.shutdown(socket.SHUT_WR)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def message(body: str) -> str:
    return json.loads(body)["message"]


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def sockets(pid: int) -> int:
    """The daemon's sockets: its listener, its netlink handles, and one per client (its
    other descriptors include a pool of store connections that grows with demand)."""
    d = f"/proc/{pid}/fd"
    return sum(os.readlink(f"{d}/{x}").startswith("socket:") for x in os.listdir(d))


def test_versions_and_bodies(host):
    host.fab("ps")
    status, body = raw(host, b"GET /v9.99/containers/json HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (status, message(body)) == (400, "client version 9.99 is too new. Maximum "
                                            "supported API version is 1.41")
    status, body = raw(host, b"GET /v1.12/containers/json HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 400 and message(body).startswith("client version 1.12 is too old")
    assert raw(host, b"GET /v1.24/_ping HTTP/1.1\r\nHost: x\r\n\r\n") == (200, "OK")
    status, body = raw(host, b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                             b'{"Image": "busy')
    assert (status, message(body)) == (400, "request body truncated: 15 of 100 bytes arrived")
    status, body = raw(host, b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Type: application/json\r\nContent-Length: 999999999"
                             b"\r\n\r\n" + b"x" * 4096)
    assert status == 413 and "over the limit of 8 MiB" in message(body)
    status, body = raw(host, b"POST /v1.41/volumes/create HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: 9\r\n\r\n{not json")
    assert status == 400 and message(body).startswith("the request body is not valid JSON")
    # Go's client sends bodies of unknown length chunked
    chunked = b'{"Name": "chunky"}'
    status, body = raw(host, b"POST /v1.41/volumes/create HTTP/1.1\r\nHost: x\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n" +
                       b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunked), chunked))
    assert status == 201 and json.loads(body)["Name"] == "chunky"
    assert host.fab("volume", "ls", "-q").out == "chunky\n"   # nothing else was made


def test_clients_that_stall_or_leave_mid_stream_cost_nothing(host):
    host.fab("run", "-d", "--name", "quiet", "busybox", "sleep", "300")
    pid = host.daemon_pid()
    assert pid
    host.fab("ps")
    base_threads, base_sockets = threads(pid), sockets(pid)
    idle = socket.socket(socket.AF_UNIX)
    idle.connect(host.host.socket)
    idle.sendall(b"GET /v1.41/containers/json HTTP/1.1\r\n")   # and nothing more
    streams = []
    for target in (b"/v1.41/events", b"/v1.41/containers/quiet/logs?follow=1&stdout=1",
                   b"/v1.41/containers/quiet/wait", b"/v1.41/containers/quiet/stats"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(host.host.socket)
        method = b"POST" if target.endswith(b"/wait") else b"GET"
        s.sendall(method + b" " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(12) == b"HTTP/1.1 200"
        streams.append(s)
    # the others are served meanwhile
    t = time.monotonic()
    assert host.fab("ps", "--format", "{{.Names}}").out == "quiet\n"
    assert time.monotonic() - t < 5
    for s in streams + [idle]:
        s.close()
    # every connection's thread ends and its socket closes, within a few seconds
    wait_for(lambda: threads(pid) <= base_threads and sockets(pid) <= base_sockets,
             timeout=15)
    assert host.fab("exec", "quiet", "echo", "still serving").out == "still serving\n"
