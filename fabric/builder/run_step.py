"""A RUN step in a real container on fabric's runtime: created, started and waited for
through the engine like any other, its output streamed into the build's, and its
overlay upper directory committed as the step's layer (as `commit` does)."""

from __future__ import annotations

import os
import threading

from fabric.engine import logs
from fabric.engine.commit import excluder, write_layer


def run_in_container(engine, image_id: str, argv: list[str], run_args: list[str], say,
                     tar: str) -> None:
    from fabric.builder.builder import RunFailed
    C = engine.containers
    doc = C.create({"Image": image_id, "Cmd": argv, "Entrypoint": [], "Env": run_args,
                    "Tty": False, "OpenStdin": False, "AttachStdin": False,
                    "AttachStdout": False, "AttachStderr": False,
                    "HostConfig": {"NetworkMode": "default"}})
    cid = doc["Id"]
    log_path = C.get(cid)["LogPath"]
    say(f" ---> Running in {cid[:12]}\n")
    try:
        done = threading.Event()
        result: dict = {}

        def waiter() -> None:
            try:
                result.update(C.wait(cid))
            finally:
                done.set()
        C.start(cid)
        threading.Thread(target=waiter, daemon=True, name=f"build-{cid[:12]}").start()
        for rec in logs.read(log_path, {"stdout", "stderr"}, None, None, None, True,
                             lambda: not done.is_set()):
            if rec is not None:
                say(rec.data.decode(errors="replace"))
        done.wait()
        code = int(result.get("StatusCode", 1))
        if code != 0:
            raise RunFailed(" ".join(argv), code)
        write_layer(os.path.join(C.cdir(cid), "upper"), tar, excluder(C.get(cid)))
    finally:
        C.remove(cid, force=True, volumes=True)
    say(f"Removing intermediate container {cid[:12]}\n")
