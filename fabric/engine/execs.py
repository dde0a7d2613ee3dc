"""`exec`: extra processes in a running container, run by `runc exec` from the daemon.

The process inherits the container's own spec (environment, capabilities, user) with
the exec's overrides. runc logs to a file of its own so that its failure to start a
command is told apart from the command's own stderr.
"""

import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from fabric.engine.attach import STDERR, STDOUT, frame
from fabric.engine.process import resolve_user
from fabric.errors import CannotInvoke, FabricError, InvalidArgument, NotFound, NotRunning
from fabric.runtime import conmon


class Exec:
    def __init__(self, eid: str, cid: str, body: dict):
        self.id, self.cid, self.body = eid, cid, body
        self.running = False
        self.exit_code: int | None = None
        self.pid = 0
        self.done = threading.Event()
        self.created = time.time()
        self.pty: int | None = None   # a tty exec's terminal, while it runs (for resize)
        self.relay: int | None = None  # the runc relaying it


class Execs:
    def __init__(self, engine):
        self.engine = engine
        self._execs: dict[str, Exec] = {}

    def create(self, ref: str, body: dict) -> dict:
        c = self.engine.containers
        cid = c.id_of(ref)
        doc = c.get(cid)
        if doc["State"]["Status"] != "running":
            raise NotRunning(f"Container {cid} is not running" if doc["State"]["Status"] != "paused"
                             else f"Container {cid} is paused, unpause the container before exec")
        if not body.get("Cmd"):
            raise InvalidArgument("No exec command specified")
        wd = body.get("WorkingDir") or ""
        if wd and not wd.startswith("/"):
            raise InvalidArgument(f"the working directory {wd!r} is invalid: it needs to be an "
                                  "absolute path")
        self._prune()
        e = Exec(secrets.token_hex(32), cid, body)
        self._execs[e.id] = e
        return {"Id": e.id}

    def get(self, eid: str) -> Exec:
        e = self._execs.get(eid)
        if not e:
            raise NotFound(f"No such exec instance: {eid}")
        return e

    def inspect(self, eid: str) -> dict:
        e = self.get(eid)
        b = e.body
        return {"ID": e.id, "Running": e.running, "ExitCode": e.exit_code,
                "ProcessConfig": {"tty": bool(b.get("Tty")), "entrypoint": b["Cmd"][0],
                                  "arguments": b["Cmd"][1:],
                                  "privileged": bool(b.get("Privileged")),
                                  "user": b.get("User", "")},
                "OpenStdin": bool(b.get("AttachStdin")), "OpenStderr": bool(b.get("AttachStderr")),
                "OpenStdout": bool(b.get("AttachStdout")), "CanRemove": False,
                "ContainerID": e.cid, "DetachKeys": "", "Pid": e.pid}

    def _prune(self) -> None:
        old = time.time() - 3600
        for k, e in list(self._execs.items()):
            if e.done.is_set() and e.created < old:
                del self._execs[k]

    def _process(self, e: Exec) -> dict:
        cdir = self.engine.containers.cdir(e.cid)
        with open(os.path.join(cdir, "config.json")) as f:
            spec = json.load(f)
        proc = dict(spec["process"])
        b = e.body
        proc["args"] = list(b["Cmd"])
        proc["terminal"] = bool(b.get("Tty"))
        env = [x for x in proc.get("env", [])]
        keys = {x.split("=", 1)[0]: i for i, x in enumerate(env)}
        for x in b.get("Env") or []:
            k = x.split("=", 1)[0]
            if k in keys:
                env[keys[k]] = x
            else:
                env.append(x)
        if b.get("Tty") and "TERM" not in keys:
            env.append("TERM=xterm")
        proc["env"] = env
        if b.get("WorkingDir"):
            proc["cwd"] = b["WorkingDir"]
        if b.get("User"):
            uid, gid, extra, _home = resolve_user(os.path.join(cdir, "rootfs"), b["User"])
            proc["user"] = {"uid": uid, "gid": gid, **({"additionalGids": extra} if extra else {})}
        if b.get("Privileged"):
            from fabric.runtime.spec import available_caps
            proc["capabilities"] = {k: available_caps() for k in
                                    ("bounding", "effective", "permitted", "ambient")}
        return proc

    def start(self, eid: str, client: socket.socket | None, detach: bool) -> None:
        e = self.get(eid)
        if e.running or e.done.is_set():
            raise FabricError(f"exec {eid[:12]} has already run")
        doc = self.engine.containers.get(e.cid)
        if doc["State"]["Status"] != "running":
            raise NotRunning(f"Container {e.cid} is not running")
        tmp = tempfile.mkdtemp(prefix="exec-", dir=self.engine.root.tmp)
        base, log = self.runc_exec(e, tmp)
        e.running = True
        try:
            if detach:
                # No pipes: the detached process would hold them, and reading them to
                # their end would wait for it to exit. runc's own failure is in its log.
                p = subprocess.run(base + ["--detach", e.cid], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                e.exit_code = p.returncode
                self._check_started(e, log, p.returncode)
                return
            if e.body.get("Tty"):
                code = self._run_tty(e, base, tmp, client)
            else:
                code = self._run_pipes(e, base, client)
            e.exit_code = code
            self._check_started(e, log, code, client)
        finally:
            e.running = False
            e.done.set()
            shutil.rmtree(tmp, ignore_errors=True)

    def runc_exec(self, e: Exec, tmp: str) -> tuple[list[str], str]:
        """Write the exec's process spec into `tmp`; runc's exec argv (the container's
        id still to add, with its options) and the log runc writes its own errors to.
        The process's pid lands in `tmp`/pid."""
        pfile = os.path.join(tmp, "process.json")
        with open(pfile, "w") as f:
            json.dump(self._process(e), f)
        log = os.path.join(tmp, "runc.log")
        return ["runc", "--root", self.engine.root.runc_root, "--log", log, "--log-format",
                "json", "exec", "--process", pfile, "--pid-file",
                os.path.join(tmp, "pid")], log

    @staticmethod
    def start_error(log: str, code: int) -> str:
        """runc's reason when it could not start the command at all, else ''."""
        if code == 0:
            return ""
        try:
            with open(log) as f:
                msgs = [json.loads(ln).get("msg", "") for ln in f if ln.strip()]
        except (OSError, ValueError):
            msgs = []
        return next((m for m in reversed(msgs) if "exec failed" in m or "unable to start" in m),
                    "")

    def _check_started(self, e: Exec, log: str, code: int, client=None) -> None:
        err = self.start_error(log, code)
        if not err:
            return
        mapped = conmon.start_error(err)
        e.exit_code = 127 if mapped.exit_code == 127 else 126
        msg = f"OCI runtime exec failed: {err}\n".encode()
        if client is not None:
            try:
                client.sendall(msg if e.body.get("Tty") else frame(STDERR, msg))
            except OSError:
                pass
        else:
            raise CannotInvoke(msg.decode().strip())

    def _run_pipes(self, e: Exec, base: list[str], client: socket.socket | None) -> int:
        b = e.body
        p = subprocess.Popen(base + [e.cid], stdin=subprocess.PIPE if b.get("AttachStdin")
                             else subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        # Both pipes were asked for, so Popen made them.
        assert p.stdout is not None and p.stderr is not None
        outs = {p.stdout.fileno(): STDOUT, p.stderr.fileno(): STDERR}
        stdin = p.stdin   # a pipe when the exec attaches stdin
        peer = client if stdin is not None else None   # the client, while it sends stdin
        while outs:
            rl: list[int | socket.socket] = [*outs, *([peer] if peer is not None else [])]
            r, _, _ = select.select(rl, [], [])
            for fd in list(outs):
                if fd in r:
                    data = os.read(fd, 65536)
                    if not data:
                        del outs[fd]
                    elif client is not None:
                        want = b.get("AttachStdout", True) if outs.get(fd) == STDOUT else \
                            b.get("AttachStderr", True)
                        if want:
                            try:
                                client.sendall(frame(outs[fd], data))
                            except OSError:
                                pass
            if peer is not None and stdin is not None and peer in r:
                data = peer.recv(65536)
                if not data:
                    peer = None
                    stdin.close()
                else:
                    try:
                        stdin.write(data)
                        stdin.flush()
                    except BrokenPipeError:
                        peer = None
        return p.wait()

    def _run_tty(self, e: Exec, base: list[str], tmp: str, client: socket.socket | None) -> int:
        # runc refuses --console-socket unless it detaches, and a detached exec's exit
        # code is lost: runc runs in the foreground instead, on a terminal of ours,
        # relaying between it and the container's terminal (it sets ours raw, and on
        # SIGWINCH copies our size to the container's).
        master, slave = os.openpty()
        try:
            p = subprocess.Popen(base + ["--tty", e.cid], stdin=slave, stdout=slave,
                                 stderr=slave, start_new_session=True)
        finally:
            os.close(slave)
        e.pty, e.relay = master, p.pid  # for resize
        peer = client if e.body.get("AttachStdin") else None   # while it sends stdin
        try:
            while True:
                rl: list[int | socket.socket] = [master, *([peer] if peer is not None else [])]
                r, _, _ = select.select(rl, [], [], 0.2)
                if master in r:
                    try:
                        data = os.read(master, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        break
                    if client is not None:
                        try:
                            client.sendall(data)
                        except OSError:
                            pass
                if peer is not None and peer in r:
                    data = peer.recv(65536)
                    if not data:
                        peer = None
                    else:
                        os.write(master, data)
                if not r and p.poll() is not None:
                    break
        finally:
            os.close(master)
            e.pty = e.relay = None
        return p.wait()

    def resize(self, eid: str, h: int, w: int) -> None:
        import fcntl
        import struct
        import termios
        e = self.get(eid)
        fd, relay = e.pty, e.relay
        if fd is None or relay is None:
            return
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))
        try:
            os.kill(relay, signal.SIGWINCH)
        except ProcessLookupError:
            pass
