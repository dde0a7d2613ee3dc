"""Small file-system helpers shared by the image store and volumes."""

import os


def disk_usage(path: str) -> int:
    """Bytes in the regular files and links under `path` (like `du -b`, apparent size)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total
