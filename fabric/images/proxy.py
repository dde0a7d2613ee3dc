"""Blobs fetched through `skopeo experimental-image-proxy`.

The proxy is skopeo serving containers/image over a socketpair: one JSON request per
SOCK_SEQPACKET packet, one reply each, and the data of a blob in a pipe whose read end
comes with the reply (SCM_RIGHTS). skopeo does the registry's protocol (auth, TLS,
retries) and checks each blob against its digest; fabric reads the bytes as they
arrive, so it can show each layer's progress and fetch only the layers it lacks.

Two rules of the protocol shape the code: replies come in request order on one socket
(so a lock spans each request and its reply), and a pipe's write end is closed only by
`FinishPipe`, which blocks skopeo's request loop until that blob is fully written. So
the caller reads each pipe in a thread of its own and calls `finish()` from another:
`FinishPipe` then returns once the reader drained the blob, with skopeo's verdict on it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading

from fabric.images import skopeo
from fabric.images.reference import Reference

MAX_REPLY = 1 << 16
PROTOCOL = "0.2."


class Proxy:
    def __init__(self, flags: list[str], workdir: str, ref: Reference):
        self.ref = ref
        self._lock = threading.Lock()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                skopeo.base_cmd(workdir) + ["experimental-image-proxy", *flags,
                                            "--sockfd", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=workdir)
        finally:
            theirs.close()
        self.sock = ours
        version, _ = self._call("Initialize")
        if not str(version).startswith(PROTOCOL):
            self.close()
            raise skopeo.RegistryError(f"skopeo's image proxy speaks protocol {version}; "
                                       f"fabric needs {PROTOCOL}x")

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()      # skopeo ends when its socket does
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        finally:
            if self.proc.stderr:
                self.proc.stderr.close()

    def _call(self, method: str, *args) -> tuple[object, tuple[int, int] | None]:
        """(value, (read fd, pipe id) or None); a failed call raises Docker's line."""
        with self._lock:
            try:
                self.sock.send(json.dumps({"method": method, "args": list(args)}).encode())
                msg, fds, _, _ = socket.recv_fds(self.sock, MAX_REPLY, 1)
            except OSError as e:
                raise skopeo.RegistryError(f"skopeo's image proxy went away: {e}") from None
        if not msg:
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise skopeo.translate(err or "skopeo's image proxy exited", self.ref)
        reply = json.loads(msg)
        if not reply.get("success"):
            for fd in fds:
                os.close(fd)
            raise skopeo.translate(reply.get("error") or f"{method} failed", self.ref)
        pipe = (fds[0], int(reply.get("pipeid") or 0)) if fds else None
        return reply.get("value"), pipe

    def open_image(self, url: str) -> int:
        value, _ = self._call("OpenImage", url)
        return int(value)  # type: ignore[call-overload]

    def get_blob(self, image: int, digest: str, size: int) -> tuple[int, int]:
        """(read fd, pipe id) of a blob's bytes; call finish(pipe id) while reading."""
        _, pipe = self._call("GetBlob", image, digest, size)
        if pipe is None:
            raise skopeo.RegistryError(f"skopeo sent no data for blob {digest}")
        return pipe

    def finish(self, pipe_id: int) -> None:
        """Wait until skopeo wrote the whole blob; raises if it failed its digest."""
        self._call("FinishPipe", pipe_id)
