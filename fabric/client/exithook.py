"""conmon's exit command: tell the host's daemon a container exited, starting the daemon
when none is up, so --rm and restart policies hold while the daemon is down.

Usage (by conmon): python -m fabric.client.exithook ROOT CONTAINER-ID
"""

import os
import sys

from fabric.client.connect import connect
from fabric.paths import HostRoot


def main() -> int:
    root, cid = sys.argv[1], sys.argv[2]
    # A removed container needs nothing; do not wake a daemon that was stopped on purpose.
    if not os.path.isdir(HostRoot(root).container_dir(cid)):
        return 0
    client = connect(None, root)
    client.call("POST", f"/fabric/containers/{cid}/exited")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:
        print(f"fabric exit hook: {e}", file=sys.stderr)
        sys.exit(1)
