"""Containers run under conmon, which drives `runc create`, holds the container's stdio
(a pty with -t), writes k8s-file logs and the exit code, and runs an exit command, so a
container outlives the daemon that started it."""

import json
import os
import select
import shutil
import subprocess

from fabric.errors import CannotInvoke, CommandNotFound, FabricError

CONMON = "conmon"


def attach_socket(cdir: str) -> str:
    return os.path.join(cdir, "attach")


def ctl_fifo(cdir: str) -> str:
    return os.path.join(cdir, "ctl")


def exit_file(exits_dir: str, cid: str) -> str:
    return os.path.join(exits_dir, cid)


def create(*, cid: str, name: str, cdir: str, runc_root: str, exits_dir: str, log_path: str,
           tty: bool, stdin: bool, stdin_once: bool, exit_command: list[str],
           log_size_max: int = 0, timeout: float = 30) -> int:
    """Run conmon; it daemonizes, runs `runc create`, and reports the container's pid
    through the sync pipe. Return that pid."""
    runc = shutil.which("runc") or "/usr/sbin/runc"
    args = [CONMON, "--api-version", "1", "-c", cid, "-u", cid, "-r", runc, "-b", cdir,
            "-p", os.path.join(cdir, "pidfile"), "-n", name, "--exit-dir", exits_dir,
            "-l", f"k8s-file:{log_path}", "--log-level", "error",
            "--runtime-arg", f"--root={runc_root}",
            "--conmon-pidfile", os.path.join(cdir, "conmon.pid"),
            "--socket-dir-path", cdir, "--full-attach", "--no-sync-log"]
    if log_size_max:
        # conmon starts a new file past this size; fabric keeps the old ones
        # (fabric.engine.logfiles)
        args += ["--log-size-max", str(log_size_max)]
    if tty:
        args.append("-t")
    if stdin:
        args.append("-i")
        if not stdin_once:
            # Docker's `-d -i`: stdin stays open across attach sessions.
            args.append("--leave-stdin-open")
    if exit_command:
        args += ["--exit-command", exit_command[0]]
        for a in exit_command[1:]:
            args += ["--exit-command-arg", a]
    r, w = os.pipe()
    try:
        env = {"_OCI_SYNCPIPE": str(w),
               "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        proc = subprocess.Popen(args, pass_fds=(w,), env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        os.close(w)
        w = -1
        ready, _, _ = select.select([r], [], [], timeout)
        data = os.read(r, 65536) if ready else b""
        proc.wait(timeout=timeout)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    if not data:
        raise FabricError(f"conmon did not start the container: {err.strip() or 'no answer'}")
    msg = json.loads(data.splitlines()[0])
    pid = msg.get("data", -1)
    if pid < 0:
        raise start_error(msg.get("message", "") or err)
    return pid


def start_error(message: str) -> FabricError:
    """Map runc's failure to Docker's exit codes: 127 not found, 126 cannot invoke."""
    text = message.strip().splitlines()[-1] if message.strip() else "runc create failed"
    if 'msg="' in text:
        text = text.split('msg="', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')
    low = text.lower()
    if "executable file not found" in low or "no such file or directory" in low:
        return CommandNotFound(text)
    if "permission denied" in low or "exec format error" in low or "is a directory" in low:
        return CannotInvoke(text)
    return FabricError(text)
