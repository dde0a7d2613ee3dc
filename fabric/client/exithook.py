"""conmon's exit command: tell the host's daemon a container exited, starting the daemon
when none is up, so --rm and restart policies hold while the daemon is down.

Usage (by conmon): python -m fabric.client.exithook ROOT CONTAINER-ID, through the
shell gate of `command()`.
"""

import os
import sys

from fabric.paths import HostRoot

# conmon runs this the moment the container exits, when a live daemon is tearing the
# container down: a Python start there (about 25 ms of CPU on a 2-core host) slows that
# teardown. So a shell waits a little, and leaves the container alone if the daemon has
# removed it meanwhile (--rm, the common short-lived case); otherwise the Python hook
# below decides, as it always did. The wait runs in the background: conmon waits for
# its exit command, and should be gone as soon as the container is.
_GATE = '{ sleep 0.2; [ -d "$2" ] || exit 0; exec "$3" -P -m fabric.client.exithook "$1" "$4"; } &'


def command(python: str, root: str, cid: str) -> list[str]:
    """conmon's exit command for a container of this root."""
    return ["/bin/sh", "-c", _GATE, "fabric-exithook", root,
            HostRoot(root).container_dir(cid), python, cid]


def main() -> int:
    root, cid = HostRoot(sys.argv[1]), sys.argv[2]
    # A removed container needs nothing; do not wake a daemon that was stopped on purpose,
    # nor one whose host is being torn down (fabric.host.teardown marks the root first).
    if not os.path.isdir(root.container_dir(cid)) or os.path.exists(root.removing):
        return 0
    # The daemon's own watcher usually settles the exit before this process has even
    # started; only an exit nobody recorded (no daemon was up) needs a daemon woken.
    if not _unsettled(root.db, cid):
        return 0
    # only now: the client and its socket/json imports are for the rare wake-up. The
    # root's own daemon, whatever FABRIC_HOST says, in this process's namespace, which
    # is conmon's, which is the daemon's that started the container.
    from fabric.client.connect import Target, reach
    from fabric.client.http import Client
    client = reach(Target(Client(root.socket), root))
    client.call("POST", f"/fabric/containers/{cid}/exited")
    return 0


def _unsettled(db: str, cid: str) -> bool:
    import sqlite3
    if not os.path.exists(db):
        return False  # the root is gone (removed by hand): nothing to settle, no one to wake
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            row = c.execute("SELECT status FROM containers WHERE id=?", (cid,)).fetchone()
        finally:
            c.close()
    except sqlite3.Error:
        return True  # cannot tell: let the daemon decide
    return bool(row) and row[0] in ("running", "paused")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:
        print(f"fabric exit hook: {e}", file=sys.stderr)
        sys.exit(1)
