"""top, stats, cp and port, with Docker's flags and output."""

import io
import json
import os
import sys
from collections.abc import Iterator

import click

from fabric.cli.humanize import human_size
from fabric.cli.main import cli
from fabric.cli.table import print_aligned, print_rows


# ---- top ------------------------------------------------------------------------------
@cli.command(context_settings={"help_option_names": ["--help"], "ignore_unknown_options": True,
                               "allow_interspersed_args": False})
@click.argument("container")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def top(obj, container, ps_args):
    """Display the running processes of a container."""
    res = obj.client.get(f"/containers/{container}/top", ps_args=" ".join(ps_args) or None)
    titles = res.get("Titles") or []
    if titles:
        print_aligned([titles] + [list(p) for p in res.get("Processes") or []])


# ---- stats ----------------------------------------------------------------------------
def _binary(n: float) -> str:
    """Docker's units.BytesSize: %.4g with KiB, MiB, GiB..."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024.0
        i += 1
    return f"{n:.4g}{units[i]}"


def stats_fields(s: dict, no_trunc: bool) -> dict:
    cid = s.get("id", "")
    cpu = s.get("cpu_stats") or {}
    pre = s.get("precpu_stats") or {}
    cpu_delta = ((cpu.get("cpu_usage") or {}).get("total_usage") or 0) - \
        ((pre.get("cpu_usage") or {}).get("total_usage") or 0)
    sys_delta = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
    percpu = (cpu.get("cpu_usage") or {}).get("percpu_usage") or []
    ncpu = cpu.get("online_cpus") or len(percpu) or 1
    cpu_pct = cpu_delta / sys_delta * ncpu * 100.0 if sys_delta > 0 and cpu_delta > 0 else 0.0
    mem = s.get("memory_stats") or {}
    usage = mem.get("usage") or 0
    inactive = (mem.get("stats") or {}).get("total_inactive_file", 0)
    if inactive < usage:
        usage -= inactive
    limit = mem.get("limit") or 0
    mem_pct = usage / limit * 100.0 if limit else 0.0
    rx = sum(n.get("rx_bytes", 0) for n in (s.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (s.get("networks") or {}).values())
    rd = wr = 0
    for e in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = e.get("op", "").lower()
        if op == "read":
            rd += e.get("value", 0)
        elif op == "write":
            wr += e.get("value", 0)
    running = bool(mem)
    name = (s.get("name") or "").lstrip("/")
    return {
        "Container": cid if no_trunc else cid[:12], "ID": cid if no_trunc else cid[:12],
        "Name": name or "--",
        "CPUPerc": f"{cpu_pct:.2f}%" if running else "0.00%",
        "MemUsage": f"{_binary(usage)} / {_binary(limit)}" if running else "0B / 0B",
        "MemPerc": f"{mem_pct:.2f}%" if running else "0.00%",
        "NetIO": f"{human_size(rx)} / {human_size(tx)}",
        "BlockIO": f"{human_size(rd)} / {human_size(wr)}",
        "PIDs": str((s.get("pids_stats") or {}).get("current", 0)),
    }


STATS_COLUMNS = [("CONTAINER ID", "ID"), ("NAME", "Name"), ("CPU %", "CPUPerc"),
                 ("MEM USAGE / LIMIT", "MemUsage"), ("MEM %", "MemPerc"),
                 ("NET I/O", "NetIO"), ("BLOCK I/O", "BlockIO"), ("PIDS", "PIDs")]


def _print_stats(docs: list[dict], no_trunc: bool, fmt: str | None) -> None:
    fields = [stats_fields(d, no_trunc) for d in docs]
    print_rows(fields, STATS_COLUMNS, fmt)


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers (default: running).")
@click.option("--no-stream", is_flag=True, help="Print one sample and exit.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output.")
@click.option("--format", "fmt", default=None, help="Go template, or 'table TEMPLATE'.")
@click.argument("containers", nargs=-1)
@click.pass_obj
def stats(obj, containers, all_, no_stream, no_trunc, fmt):
    """Display a live stream of containers' resource usage."""
    import threading
    import time

    from fabric.client.http import ApiError
    c = obj.client
    refs = list(containers)
    if not refs:
        refs = [r["Id"] for r in c.get("/containers/json", all=all_)]
    latest: dict[str, dict] = {}
    errors: dict[str, str] = {}

    def one(ref: str) -> None:
        try:
            if no_stream:
                latest[ref] = c.get(f"/containers/{ref}/stats", stream=False)
                return
            r = c.request("GET", f"/containers/{ref}/stats", {"stream": True})
            r.raise_for_status()
            buf = b""
            for chunk in r.chunks():
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        latest[ref] = json.loads(line)
        except ApiError as e:
            errors[ref] = e.message
        except (OSError, ValueError) as e:  # a stream cut short: the container went away
            errors.setdefault(ref, str(e))

    threads = [threading.Thread(target=one, args=(r,), daemon=True) for r in refs]
    for t in threads:
        t.start()
    if no_stream:
        for t in threads:
            t.join()
        bad = [r for r in refs if r in errors and r not in latest]
        for r in bad:
            click.echo(f"Error response from daemon: {errors[r]}", err=True)
        _print_stats([latest[r] for r in refs if r in latest], no_trunc, fmt)
        if bad:
            sys.exit(1)
        return
    try:
        while True:
            time.sleep(1.0)
            if sys.stdout.isatty():
                click.echo("\033[2J\033[H", nl=False)
            _print_stats([latest[r] for r in refs if r in latest], no_trunc, fmt)
            if refs and all(not t.is_alive() for t in threads):
                if errors and not latest:
                    for m in errors.values():
                        click.echo(f"Error response from daemon: {m}", err=True)
                    sys.exit(1)
                return
    except KeyboardInterrupt:
        return


# ---- port -----------------------------------------------------------------------------
def port_lines(ports: dict, want: str | None) -> list[str]:
    def key(k: str):
        num, _, proto = k.partition("/")
        return (int(num) if num.isdigit() else 0, proto)
    out = []
    for k in sorted(ports or {}, key=key):
        binds = ports[k]
        if not binds:
            continue
        for b in binds:
            ip = b.get("HostIp") or "0.0.0.0"
            if ":" in ip:
                ip = f"[{ip}]"
            addr = f"{ip}:{b.get('HostPort', '')}"
            out.append(addr if want else f"{k} -> {addr}")
    return out


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.argument("container")
@click.argument("private_port", required=False)
@click.pass_obj
def port(obj, container, private_port):
    """List port mappings or a specific mapping for the container."""
    doc = obj.client.get(f"/containers/{container}/json")
    ports = (doc.get("NetworkSettings") or {}).get("Ports") or {}
    if private_port:
        num, _, proto = private_port.partition("/")
        proto = proto or "tcp"
        if not num.isdigit():
            raise click.ClickException(f"invalid port {private_port!r}")
        k = f"{num}/{proto}"
        lines = port_lines({k: ports.get(k)}, k)
        if not lines:
            click.echo(f"Error: No public port '{k}' published for {container}", err=True)
            sys.exit(1)
    else:
        lines = port_lines(ports, None)
    for ln in lines:
        click.echo(ln)


# ---- cp -------------------------------------------------------------------------------
def _split(arg: str) -> tuple[str | None, str]:
    """Docker: a path that starts with / or . is local; otherwise NAME:PATH names a
    container."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    ctr, _, path = arg.partition(":")
    return ctr, path


def _stat(c, ctr: str, path: str) -> dict | None:
    import base64
    r = c.request("HEAD", f"/containers/{ctr}/archive", {"path": path})
    if r.status == 404:
        r.read()
        c.get(f"/containers/{ctr}/json")  # raises when the container itself is missing
        return None
    r.raise_for_status()
    r.read()
    h = r.headers.get("x-docker-container-path-stat")
    return json.loads(base64.b64decode(h)) if h else {}


def _is_dir(st: dict) -> bool:
    return bool(st.get("mode", 0) & (1 << 31))


def _is_link(st: dict) -> bool:
    return bool(st.get("mode", 0) & (1 << 27))


def _upload(c, ctr: str, path: str, f, copy_uid: bool) -> None:
    q = {"path": path, "noOverwriteDirNonDir": "1"}
    if copy_uid:
        q["copyUIDGID"] = "1"
    r = c.request("PUT", f"/containers/{ctr}/archive", query=q, upload=f,
                  headers={"Content-Type": "application/x-tar"})
    r.raise_for_status()
    r.read()


def _cp_to_container(c, src: str, ctr: str, dest: str, follow: bool, archive: bool) -> None:
    import tarfile
    import tempfile

    from fabric import tarsafe
    if not dest:
        raise click.ClickException("the destination path must not be empty")
    if src == "-":
        _upload(c, ctr, dest, sys.stdin.buffer, archive)
        return
    try:
        st = os.stat(src) if follow else os.lstat(src)
    except OSError as e:
        raise click.ClickException(f"{'stat' if follow else 'lstat'} {src}: "
                                   f"{(e.strerror or str(e)).lower()}") from None
    import stat as statm
    src_dir = statm.S_ISDIR(st.st_mode)
    if not src_dir and src.endswith("/"):
        raise click.ClickException(f"{src} is not a directory")
    dst = _stat(c, ctr, dest)
    if dst is not None and _is_link(dst) and dst.get("linkTarget"):
        followed = _stat(c, ctr, dst["linkTarget"])
        if followed is not None:
            dst, dest = followed, dst["linkTarget"]
    contents = src_dir and (src.endswith("/.") or src == ".")
    if dst is not None and _is_dir(dst):
        into, arc = dest, ("." if contents else os.path.basename(os.path.normpath(
            os.path.abspath(src))))
    elif dst is not None:
        if src_dir:
            raise click.ClickException("cannot copy a directory to a file")
        into, arc = os.path.dirname(dest.rstrip("/")) or "/", os.path.basename(dest)
    else:
        if dest.endswith("/") and not src_dir:
            raise click.ClickException(f'destination directory "{dest}" must exist')
        d = dest.rstrip("/") or "/"
        into, arc = os.path.dirname(d) or "/", os.path.basename(d)
        if not arc:
            raise click.ClickException(f"invalid destination {dest!r}")
    real = src if not follow else os.path.realpath(src)

    def fix(ti):
        if not archive:
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
        return ti
    with tempfile.TemporaryFile() as tmp:
        with tarfile.open(fileobj=tmp, mode="w|", format=tarfile.PAX_FORMAT) as tf:
            if contents:
                for name in sorted(os.listdir(real)):
                    tarsafe.add_tree(tf, os.path.join(real, name), name, filter_=fix)
            elif follow and not src_dir:
                ti = tf.gettarinfo(real, arc)
                with open(real, "rb") as fh:
                    tf.addfile(fix(ti), fh)
            else:
                tarsafe.add_tree(tf, real, arc, skip_devices=False, filter_=fix)
        tmp.seek(0)
        _upload(c, ctr, into, tmp, archive)


class _Chunks(io.RawIOBase):
    """A response's chunks as a file, for tarfile's stream mode."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks, self._buf = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n], self._buf = self._buf[:n], self._buf[n:]
        return n


def _cp_from_container(c, ctr: str, src: str, dest: str, follow: bool) -> None:
    import tarfile

    from fabric import tarsafe
    st = _stat(c, ctr, src)
    if st is None:
        raise click.ClickException(f"No such container:path: {ctr}:{src}")
    if follow and _is_link(st) and st.get("linkTarget"):
        src = st["linkTarget"]
        st = _stat(c, ctr, src)
        if st is None:
            raise click.ClickException(f"No such container:path: {ctr}:{src}")
    r = c.request("GET", f"/containers/{ctr}/archive", {"path": src})
    r.raise_for_status()
    if dest == "-":
        for chunk in r.chunks():
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    src_dir = _is_dir(st)
    dest_abs = os.path.abspath(dest)
    exists = os.path.lexists(dest_abs)
    isdir = os.path.isdir(dest_abs)
    if not src_dir:
        if isdir:
            target = os.path.join(dest_abs, st["name"])
        elif dest.endswith("/"):
            raise click.ClickException(f'destination directory "{dest}" must exist')
        else:
            target = dest_abs
    else:
        if not exists:
            target = dest_abs
        elif isdir:
            target = dest_abs if (src.endswith("/.") or src == ".") else \
                os.path.join(dest_abs, st["name"])
        else:
            raise click.ClickException("cannot copy a directory to a file")
    base, top = os.path.dirname(target), os.path.basename(target)
    if not os.path.isdir(base):
        raise click.ClickException(f"destination directory {base} does not exist")
    owner = None if os.geteuid() != 0 else (0, 0)
    try:
        with tarfile.open(fileobj=io.BufferedReader(_Chunks(r.chunks())), mode="r|") as tf:
            tarsafe.extract(tf, tarsafe.host_parent(base),
                            rename=lambda parts: [top] + parts[1:], owner=owner)
    except tarsafe.UnsafeArchive as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"cannot write {target}: {e.strerror or e}") from None


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.option("-a", "--archive", is_flag=True, help="Archive mode (copy all uid/gid information).")
@click.option("-L", "--follow-link", is_flag=True, help="Always follow symbol link in SRC_PATH.")
@click.option("-q", "--quiet", is_flag=True, help="Suppress progress output.")
@click.argument("src")
@click.argument("dest")
@click.pass_obj
def cp(obj, src, dest, archive, follow_link, quiet):
    """Copy files/folders between a container and the local filesystem.

    Use '-' as the source to read a tar archive from stdin and extract it to a directory
    destination in a container; use '-' as the destination to stream a tar archive of a
    container source to stdout."""
    s_ctr, s_path = _split(src) if src != "-" else (None, "-")
    d_ctr, d_path = _split(dest) if dest != "-" else (None, "-")
    if s_ctr and d_ctr:
        raise click.ClickException("copying between containers is not supported")
    if not s_ctr and not d_ctr:
        raise click.ClickException("must specify at least one container source")
    if s_ctr:
        _cp_from_container(obj.client, s_ctr, s_path, d_path, follow_link)
    else:
        _cp_to_container(obj.client, s_path, d_ctr, d_path, follow_link, archive)
