"""Logs that scale: `--tail` reads the end of the file, not all of it; `-f` follows from
the end; the daemon never holds a log in memory; `--log-opt max-size/max-file` rotate,
with a default cap like Docker's local driver, and no line is lost or repeated across
a rotation, also for a reader following it.

A log of hundreds of MB is written straight into the container's file, in conmon's
k8s-file format, rather than by a container (which would take minutes)."""

import json
import os
import re
import select
import subprocess
import time

from helpers import status, wait_for

BIG = 256 << 20


def _write_big_log(path: str, size: int, last: list[str]) -> None:
    """`size` bytes of filler records, then `last` lines with timestamps a second apart
    at the end (now), conmon's format: TIME STREAM F|P TEXT."""
    now = time.time()
    filler = b"".join(b"2020-01-01T00:00:00.%09d+00:00 stdout F filler line %07d %s\n"
                      % (i, i, b"x" * 60) for i in range(10000))
    with open(path, "wb") as f:
        written = 0
        while written < size:
            f.write(filler)
            written += len(filler)
        for i, text in enumerate(last):
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - len(last) + i))
            f.write(f"{stamp}.000000000+00:00 stdout F {text}\n".encode())


def _io_and_memory(pid: int) -> tuple[int, int]:
    """Bytes the daemon has read (all threads, every read(2)), and its peak resident
    memory, in bytes, since the last reset."""
    with open(f"/proc/{pid}/io") as f:
        rchar = int(next(ln for ln in f if ln.startswith("rchar:")).split()[1])
    with open(f"/proc/{pid}/status") as f:
        hwm = int(next(ln for ln in f if ln.startswith("VmHWM:")).split()[1]) * 1024
    return rchar, hwm


def _reset_peak(pid: int) -> int:
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
    return _io_and_memory(pid)[1]


def test_tail_of_a_big_log(host):
    cid = host.fab("create", "--name", "big", "busybox", "true").out.strip()
    log = os.path.join(host.root, "containers", cid, "ctr.log")
    _write_big_log(log, BIG, ["third from last", "second from last", "the last line"])
    pid = host.daemon_pid()
    assert pid
    rss0 = _reset_peak(pid)
    read0, _ = _io_and_memory(pid)
    r = host.fab("logs", "--tail", "1", "big", timeout=120)
    read1, peak = _io_and_memory(pid)
    assert r.out == "the last line\n"
    assert read1 - read0 < 1 << 20, f"--tail 1 read {read1 - read0} bytes"
    assert peak - rss0 < 20 << 20, f"the daemon grew by {(peak - rss0) >> 20} MB"
    out = host.fab("logs", "--tail", "3", "-t", "big").out.splitlines()
    assert [ln.split(" ", 1)[1] for ln in out] == \
        ["third from last", "second from last", "the last line"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.0{9}Z", out[0].split()[0])
    # --since finds its place without reading what comes before
    read0, _ = _io_and_memory(pid)
    assert host.fab("logs", "--since", "10m", "big").out.splitlines() == \
        ["third from last", "second from last", "the last line"]
    assert _io_and_memory(pid)[0] - read0 < 1 << 20
    # all of it streams from the first byte on: the daemon never holds the log
    rss0 = _reset_peak(pid)
    p = host.popen("logs", "big", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert p.stdout is not None
    head = p.stdout.read(64 << 20)
    p.kill()
    p.wait()
    assert head.startswith(b"filler line 0000000 ") and head.count(b"\n") > (64 << 20) // 130
    assert _io_and_memory(pid)[1] - rss0 < 20 << 20


def _readline(p: subprocess.Popen, timeout: float) -> str:
    assert p.stdout is not None
    ready, _, _ = select.select([p.stdout], [], [], timeout)
    assert ready, "no line in time"
    return p.stdout.readline().decode()


def test_follow_starts_at_the_end(host):
    cid = host.fab("create", "--name", "chatty", "busybox", "sh", "-c",
                   "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.1; done").out.strip()
    _write_big_log(os.path.join(host.root, "containers", cid, "ctr.log"), BIG, ["old"])
    host.fab("start", "chatty")
    wait_for(lambda: "tick3" in host.fab("logs", "--tail", "2", "chatty").out)
    pid = host.daemon_pid()
    assert pid
    read0, _ = _io_and_memory(pid)
    for args in (("--tail", "1"), ("--since", "1s")):
        t0 = time.monotonic()
        p = host.popen("logs", "-f", *args, "chatty", stdout=subprocess.PIPE)
        try:
            first = _readline(p, 5)
            took = time.monotonic() - t0
            nums = [int(first.strip()[4:])] + [int(_readline(p, 5).strip()[4:])
                                                for _ in range(3)]
        finally:
            p.kill()
            p.wait()
        assert took < 3, took
        assert nums == list(range(nums[0], nums[0] + 4)), nums
    assert _io_and_memory(pid)[0] - read0 < 4 << 20


def _files(host, cid: str) -> dict[int, int]:
    """The log's files (inode: size); the empty one made ready for conmon's next
    rotation does not count."""
    cdir = os.path.join(host.root, "containers", cid)
    live = os.stat(os.path.join(cdir, "ctr.log")).st_ino
    found = {}
    for n in os.listdir(cdir):
        if n.startswith("ctr.log"):
            st = os.stat(os.path.join(cdir, n))
            if st.st_size or st.st_ino == live:
                found[st.st_ino] = st.st_size
    return found


def test_rotation_keeps_every_line_once(host):
    # small files, many of them: a reader following from the start sees each line once,
    # in order, across every rotation
    script = ("i=1; while [ $i -le 3000 ]; do echo line$i; "
              "[ $((i % 100)) = 0 ] && sleep 0.05; i=$((i+1)); done")
    cid = host.fab("run", "-d", "--name", "rot", "--log-opt", "max-size=8k", "--log-opt",
                   "max-file=100", "busybox", "sh", "-c", script).out.strip()
    p = host.popen("logs", "-f", "rot", stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=60)
    assert out.split() == [f"line{i}" for i in range(1, 3001)]
    files = _files(host, cid)
    assert len(files) > 10 and max(files.values()) <= 8 << 10, files
    assert host.fab("logs", "rot").out == out
    assert json.loads(host.fab("inspect", "-f", "{{json .HostConfig.LogConfig.Config}}",
                               "rot").out) == {"max-size": "8k", "max-file": "100"}
    # fewer files: the oldest go, what is left is the end, whole and in order
    cid = host.fab("run", "--name", "few", "--log-opt", "max-size=8k", "--log-opt",
                   "max-file=3", "busybox", "sh", "-c", script).out
    cid = host.inspect("few")["Id"]
    files = _files(host, cid)
    assert len(files) <= 3 and max(files.values()) <= 8 << 10, files
    kept = host.fab("logs", "few").out.split()
    first = int(kept[0][4:])
    assert kept == [f"line{i}" for i in range(first, 3001)] and first > 1
    assert host.fab("logs", "--tail", "5", "few").out.split() == \
        [f"line{i}" for i in range(2996, 3001)]


def test_default_cap_and_bad_options(host):
    cid = host.fab("run", "-d", "--name", "d", "busybox", "sleep", "300").out.strip()
    conmon = subprocess.run(["pgrep", "-af", f"conmon.*{cid}"], capture_output=True,
                            text=True).stdout
    # Docker's local driver: 20 MB files, five of them
    assert "--log-size-max 20971520" in conmon, conmon
    assert status(host, "d") == "running"
    for opt, says in (("max-size=lots", "invalid max-size"),
                      ("max-size=-1", "invalid max-size"),
                      ("max-file=0", "max-file must be a positive number"),
                      ("nope=1", "unknown log opt 'nope'"),
                      ("max-size", "invalid max-size")):
        r = host.fab("run", "--rm", "--log-opt", opt, "busybox", "true", check=False)
        assert r.code == 125 and says in r.err and r.err.count("\n") == 1, (opt, r)
