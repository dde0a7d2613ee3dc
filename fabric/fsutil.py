"""Small file-system helpers shared by the image store, containers, volumes and hosts.

Trees here come from images and containers, so they can be as deep as Linux allows:
a path of 1,200 directories is valid. Python 3.11's os.walk, os.makedirs and
shutil.rmtree recurse once per level and stop near 1,000, so these walk iteratively,
never following symlinks.
"""

import os
import stat
from collections.abc import Callable, Iterator


def walk(top: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk(top), top-down, without recursion: (dirpath, dirnames, filenames), where
    symlinks to directories count as files. Unreadable directories are skipped."""
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:
            continue
        dirs = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        files = [e.name for e in entries if not e.is_dir(follow_symlinks=False)]
        yield d, dirs, files
        stack.extend(os.path.join(d, n) for n in reversed(dirs))


def disk_usage(path: str) -> int:
    """Bytes in the regular files and links under `path` (like `du -b`, apparent size)."""
    total = 0
    for dirpath, _dirs, files in walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def makedirs(path: str, mode: int = 0o777) -> None:
    """os.makedirs(path, mode, exist_ok=True) without recursion."""
    missing = []
    p = path
    while p and not os.path.isdir(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for d in reversed(missing):
        try:
            os.mkdir(d, mode)
        except FileExistsError:
            if not os.path.isdir(d):
                raise


def rmtree(path: str, ignore_errors: bool = False,
           onerror: Callable[[str, OSError], None] | None = None) -> None:
    """shutil.rmtree without recursion: a directory goes once what it holds is gone. A
    failure goes to `onerror(path, error)`, is ignored with ignore_errors, is raised
    otherwise; what failed is not tried again."""
    def failed(p: str, e: OSError) -> None:
        if onerror is not None:
            onerror(p, e)
        elif not ignore_errors:
            raise e

    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return
    except FileNotFoundError:
        return
    except OSError as e:
        failed(path, e)
        return
    stack, given_up = [path], set()
    while stack:
        d = stack[-1]
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except FileNotFoundError:
            stack.pop()
            continue
        except OSError as err:
            entries = []
            failed(d, err)
        subdirs = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.path not in given_up:
                    subdirs.append(entry.path)
                continue
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass
            except OSError as err:
                failed(entry.path, err)
        if subdirs:
            stack.extend(subdirs)
            continue
        stack.pop()
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError as e:
            given_up.add(d)
            failed(d, e)
