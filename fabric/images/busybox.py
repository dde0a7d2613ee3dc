"""The built-in `busybox` image, made on first use from Debian's busybox-static.

Every applet the binary offers is linked, so a network lab has sh, ping, ip, nc, wget,
httpd, nslookup, traceroute and the rest without pulling anything.
"""

import io
import os
import shutil
import subprocess
import tarfile
import time

from fabric.errors import FabricError

BUSYBOX = "/bin/busybox"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
tty:x:5:
www-data:x:33:
nogroup:x:65534:
"""


def _busybox_path() -> str:
    path = shutil.which("busybox") or BUSYBOX
    if not os.path.exists(path):
        raise FabricError("busybox-static is not installed: run ./setup.sh (apt-get install "
                          "busybox-static)")
    return path


def applets(path: str) -> list[str]:
    out = subprocess.run([path, "--list-full"], capture_output=True, text=True, check=True)
    return [a for a in out.stdout.split() if a and a != "bin/busybox"]


def build_layer(dest_tar: str) -> None:
    """Write the image's single layer, deterministically (fixed mtimes and owners)."""
    bb = _busybox_path()
    mtime = int(os.stat(bb).st_mtime)

    def info(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.size, ti.mtime, ti.linkname = kind, mode, size, mtime, link
        return ti

    with tarfile.open(dest_tar, "w", format=tarfile.PAX_FORMAT) as tf:
        # Each path once: `docker load` refuses a layer with duplicate entries.
        dirs = ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "home", "var",
                "var/www", "var/spool", "var/spool/mail", "proc", "sys", "dev", "run", "mnt"]
        for d in dirs:
            tf.addfile(info(d, tarfile.DIRTYPE, 0o755))
        tf.addfile(info("root", tarfile.DIRTYPE, 0o700))
        tf.addfile(info("tmp", tarfile.DIRTYPE, 0o1777))
        with open(bb, "rb") as f:
            tf.addfile(info("bin/busybox", tarfile.REGTYPE, 0o755, os.path.getsize(bb)), f)
        for a in sorted(set(applets(bb))):
            tf.addfile(info(a, tarfile.SYMTYPE, 0o777, link="/bin/busybox"))
        for name, text in (("etc/passwd", PASSWD), ("etc/group", GROUP),
                           ("etc/shadow", "root:*:10933:0:99999:7:::\n")):
            data = text.encode()
            tf.addfile(info(name, tarfile.REGTYPE, 0o644 if "shadow" not in name else 0o600,
                            len(data)), io.BytesIO(data))


def image_config(diff_id: str, created: str) -> dict:
    return {
        "architecture": "amd64", "os": "linux", "created": created,
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created,
                     "created_by": "fabric: busybox-static from Debian, all applets linked"},
                    {"created": created, "created_by": 'CMD ["sh"]', "empty_layer": True}],
    }


def created_stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.stat(_busybox_path()).st_mtime))
