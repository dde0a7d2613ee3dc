"""runc, driven with the host root's own state directory (--root), so every host on
one machine (each lab host) keeps its containers apart."""

import json
import subprocess

from fabric.errors import FabricError

RUNC = "runc"


class Runc:
    def __init__(self, state_root: str):
        self.state_root = state_root

    def _run(self, *args: str, check: bool = True,
             timeout: float = 30) -> subprocess.CompletedProcess:
        p = subprocess.run([RUNC, "--root", self.state_root, *args], capture_output=True,
                           text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise FabricError(f"runc {args[0]} failed: {_msg(p.stderr)}")
        return p

    def state(self, cid: str) -> dict | None:
        p = self._run("state", cid, check=False)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)

    def start(self, cid: str) -> None:
        self._run("start", cid)

    def kill(self, cid: str, signal: str = "TERM", all_procs: bool = False) -> None:
        args = ["kill"] + (["--all"] if all_procs else []) + [cid, signal]
        p = self._run(*args, check=False)
        gone = ("not running", "does not exist", "process already finished")
        if p.returncode != 0 and not any(g in p.stderr for g in gone):
            raise FabricError(f"runc kill failed: {_msg(p.stderr)}")

    def delete(self, cid: str, force: bool = False) -> None:
        p = self._run("delete", *(["--force"] if force else []), cid, check=False)
        if p.returncode != 0 and "does not exist" not in p.stderr:
            raise FabricError(f"runc delete failed: {_msg(p.stderr)}")

    def pause(self, cid: str) -> None:
        self._run("pause", cid)

    def resume(self, cid: str) -> None:
        self._run("resume", cid)

    def ps(self, cid: str) -> list[int]:
        p = self._run("ps", "--format", "json", cid)
        return json.loads(p.stdout or "[]") or []


def _msg(stderr: str) -> str:
    """runc logs as logrus lines; keep the message text."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    if not lines:
        return "unknown error"
    last = lines[-1]
    if 'msg="' in last:
        last = last.split('msg="', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')
    return last
