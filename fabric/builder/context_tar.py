"""A build context as the client sends it: the directory as a tar, .dockerignore
applied, the Dockerfile kept (under a name of its own when it lies outside the
context). Standard library only: `fabric build` and `fabric lab up` send contexts."""

import os
import tarfile

from fabric.builder.ignore import FILE as IGNORE_FILE
from fabric.builder.ignore import Ignore
from fabric.errors import InvalidArgument


def write(context: str, dockerfile: str | None, out) -> str:
    """Tar the context into `out` (a file); returns the name of the Dockerfile inside it."""
    ignore = Ignore.of_context(context)
    keep_always = {IGNORE_FILE}
    df_name = "Dockerfile"
    extra = None
    if dockerfile:
        full = os.path.abspath(dockerfile)
        rel = os.path.relpath(full, os.path.abspath(context))
        if rel.startswith(".."):           # outside the context: sent under a name of its own
            df_name, extra = f".dockerfile.{os.getpid()}", full
        else:
            df_name = rel
    keep_always.add(df_name)
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(context):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, context)
                if rel not in keep_always and ignore.excluded(rel):
                    # a directory may hold files a `!` line takes back: keep walking it
                    if name in dirnames and not ignore.negates:
                        dirnames.remove(name)
                    continue
                try:
                    ti = tf.gettarinfo(full, arcname=rel)
                except OSError as e:
                    raise InvalidArgument(f"cannot read {full}: {e.strerror}") from None
                if ti is None:       # sockets and the like
                    continue
                ti.uname = ti.gname = ""
                if ti.isreg():
                    with open(full, "rb") as f:
                        tf.addfile(ti, f)
                else:
                    tf.addfile(ti)
        if extra:
            tf.add(extra, arcname=df_name)
    return df_name
