"""`run` and `create`: Docker's flags turned into an Engine API create body."""

import json
import os
import sys

import click

from fabric.cli.main import cli

_UNITS = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def _bytes(value: str | None, flag: str) -> int:
    if not value:
        return 0
    v = value.strip().lower().rstrip("b") or "0"
    unit = v[-1] if v[-1] in _UNITS else "b"
    num = v[:-1] if v[-1] in _UNITS else v
    try:
        n = float(num)
    except ValueError:
        raise click.ClickException(f"invalid value {value!r} for {flag}: use a number with an "
                                   "optional unit b, k, m or g, e.g. 256m") from None
    if n < 0:
        raise click.ClickException(f"invalid value {value!r} for {flag}: it must be positive")
    return int(n * _UNITS[unit])


def _cpus(value: str | None) -> int:
    if not value:
        return 0
    try:
        n = float(value)
    except ValueError:
        raise click.ClickException(f"invalid value {value!r} for --cpus: use a number such as "
                                   "0.5 or 2") from None
    if n <= 0:
        raise click.ClickException(f"invalid value {value!r} for --cpus: it must be greater "
                                   "than 0")
    return int(round(n * 1e9))


def _env_file(paths: tuple[str, ...]) -> list[str]:
    """Docker's reading of an env file: blank lines and comments skipped, leading blanks
    dropped, a name with blanks in it refused, the value passed through as written, and
    a bare NAME taking the client's own value (or left out when it has none)."""
    out = []
    for p in paths:
        try:
            with open(p, encoding="utf-8", newline="") as f:
                lines = [ln.removesuffix("\r") for ln in f.read().split("\n")]
        except OSError as e:
            raise click.ClickException(f"cannot read --env-file {p}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise click.ClickException(f"env file {p} contains invalid utf8 bytes") from None
        for ln in lines:
            ln = ln.lstrip()
            if not ln or ln.startswith("#"):
                continue
            name, eq, value = ln.partition("=")
            if any(c.isspace() for c in name):
                raise click.ClickException(f"poorly formatted environment: variable '{name}' "
                                           "contains whitespaces")
            if not name:
                raise click.ClickException("poorly formatted environment: no variable name on "
                                           f"line '{ln}'")
            if eq:
                out.append(f"{name}={value}")
            elif name in os.environ:
                out.append(f"{name}={os.environ[name]}")
    return out


def _env(values: tuple[str, ...]) -> list[str]:
    # Docker: `-e NAME` without a value takes the client's own variable, or drops it.
    out = []
    for v in values:
        if not v.partition("=")[0]:
            raise click.ClickException(f'invalid argument "{v}" for "-e, --env" flag: invalid '
                                       f"environment variable: {v}")
        if "=" in v:
            out.append(v)
        elif v in os.environ:
            out.append(f"{v}={os.environ[v]}")
    return out


def _security_opts(values: tuple[str, ...]) -> list[str]:
    """Docker's CLI reading: a seccomp profile is a file here, sent as its JSON."""
    out = []
    for opt in values:
        key, eq, value = opt.partition("=")
        if not eq and key != "no-new-privileges":
            if ":" not in opt:
                raise click.ClickException(f"Invalid --security-opt: {json.dumps(opt)}")
            key, _, value = opt.partition(":")
        if key == "seccomp" and value not in ("unconfined", "builtin"):
            try:
                with open(value, "rb") as f:
                    text = f.read()
            except OSError as e:
                raise click.ClickException(f"opening seccomp profile ({value}) failed: open "
                                           f"{value}: {(e.strerror or str(e)).lower()}") from None
            try:
                compact = json.dumps(json.loads(text), separators=(",", ":"))
            except ValueError as e:
                raise click.ClickException(f"compacting json for seccomp profile ({value}) "
                                           f"failed: {e}") from None
            opt = f"seccomp={compact}"
        out.append(opt)
    return out


def _duration(value: str | None, flag: str) -> int:
    from fabric import durations
    if value is None:
        return 0
    try:
        ns = durations.parse(value)
    except ValueError as e:
        raise click.ClickException(f'invalid argument "{value}" for "{flag}" flag: {e}') \
            from None
    if ns < 0:
        raise click.ClickException(f"{flag} cannot be negative")
    return ns


def _healthcheck(o: dict) -> dict | None:
    """Docker's CLI reading of the --health-* flags into Config.Healthcheck."""
    spans = {key: _duration(o[opt], "--" + opt.replace("_", "-")) for key, opt in
             (("Interval", "health_interval"), ("Timeout", "health_timeout"),
              ("StartPeriod", "health_start_period"))}
    retries = o["health_retries"] or 0
    if retries < 0:
        raise click.ClickException("--health-retries cannot be negative")
    given = bool(o["health_cmd"]) or any(spans.values()) or bool(retries)
    if o["no_healthcheck"]:
        if given:
            raise click.ClickException("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not given:
        return None
    return {"Test": ["CMD-SHELL", o["health_cmd"]] if o["health_cmd"] else [], **spans,
            "Retries": retries}


def container_options(f):
    opts = [
        click.option("-e", "--env", multiple=True, help="Set an environment variable."),
        click.option("--env-file", multiple=True, help="Read environment variables from a file."),
        click.option("-h", "--hostname", default=None, help="Container host name."),
        click.option("-w", "--workdir", default=None, help="Working directory inside."),
        click.option("-u", "--user", default=None, help="Username or UID (name|uid[:group|gid])."),
        click.option("--entrypoint", default=None, help="Overwrite the image's ENTRYPOINT."),
        click.option("--restart", default="no",
                     help="Restart policy: no, on-failure[:N], always, unless-stopped."),
        click.option("-m", "--memory", default=None, help="Memory limit (e.g. 256m)."),
        click.option("--cpus", default=None, help="Number of CPUs (e.g. 0.5)."),
        click.option("--pids-limit", type=int, default=None, help="Process limit (-1: none)."),
        click.option("-v", "--volume", multiple=True, help="Bind mount or volume."),
        click.option("--volumes-from", multiple=True, help="Mount volumes of a container."),
        click.option("--mount", multiple=True, help="type=bind|volume|tmpfs,source=,target=."),
        click.option("--tmpfs", multiple=True, help="Mount a tmpfs directory."),
        click.option("--network", "--net", "network", default=None,
                     help="Network: none, host, container:NAME or a network name."),
        click.option("--network-alias", multiple=True, help="Alias on the network."),
        click.option("--ip", default=None, help="IPv4 address on the network."),
        click.option("--mac-address", default=None, help="MAC address."),
        click.option("--dns", multiple=True, help="DNS server."),
        click.option("--dns-search", multiple=True, help="DNS search domain."),
        click.option("--dns-option", multiple=True, help="DNS option."),
        click.option("--add-host", multiple=True, help="host:ip line for /etc/hosts."),
        click.option("--link", multiple=True, help="Link to a container: NAME[:ALIAS]."),
        click.option("--expose", multiple=True, help="Expose a port or range."),
        click.option("-p", "--publish", multiple=True, help="Publish: [IP:][HOSTPORT:]PORT[/udp]."),
        click.option("-P", "--publish-all", is_flag=True, help="Publish every exposed port."),
        click.option("-l", "--label", multiple=True, help="Set a label KEY=VALUE."),
        click.option("--cap-add", multiple=True, help="Add a Linux capability."),
        click.option("--cap-drop", multiple=True, help="Drop a Linux capability."),
        click.option("--privileged", is_flag=True, help="Every capability and device."),
        click.option("--security-opt", multiple=True,
                     help="seccomp=unconfined|FILE, no-new-privileges."),
        click.option("--log-opt", multiple=True,
                     help="Log options: max-size=20m, max-file=5 (the defaults)."),
        click.option("--read-only", is_flag=True, help="Read-only root filesystem."),
        click.option("--stop-signal", default=None, help="Signal to stop the container."),
        click.option("--stop-timeout", type=int, default=None, help="Seconds before SIGKILL."),
        click.option("--explain", is_flag=True, help="Print the kernel commands fabric runs."),
        click.option("--dry-run", is_flag=True, help="Print the kernel commands, change nothing."),
        click.option("-a", "--attach", "attach_streams", multiple=True,
                     help="Attach to STDIN, STDOUT or STDERR."),
        click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY."),
        click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open."),
        click.option("--name", default=None, help="Container name."),
        click.option("--pull", type=click.Choice(["missing", "always", "never"]),
                     default="missing", help="Pull image before running."),
        click.option("--health-cmd", default=None, help="Command to run to check health."),
        click.option("--health-interval", default=None,
                     help="Time between running the check (ms|s|m|h) (default 30s)."),
        click.option("--health-timeout", default=None,
                     help="Maximum time to allow one check to run (ms|s|m|h) (default 30s)."),
        click.option("--health-start-period", default=None,
                     help="Start period for the container to initialize before counting "
                          "retries towards unstable (ms|s|m|h) (default 0s)."),
        click.option("--health-retries", type=int, default=None,
                     help="Consecutive failures needed to report unhealthy (default 3)."),
        click.option("--no-healthcheck", is_flag=True,
                     help="Disable any container-specified HEALTHCHECK."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def build_body(image: str, command: tuple[str, ...], o: dict, detach: bool) -> dict:
    from fabric.errors import FabricError
    from fabric.ports import parse_expose, to_bindings
    try:
        exposed, bindings = to_bindings(list(o["publish"]))
        for e in o["expose"]:
            for k in parse_expose(e):
                exposed[k] = {}
    except FabricError as e:
        raise click.ClickException(e.message) from None
    restart_name, _, restart_n = (o["restart"] or "no").partition(":")
    if restart_n and not restart_n.isdigit():
        raise click.ClickException(f"invalid restart policy {o['restart']!r}: the retry count "
                                   "must be a whole number")
    labels = {}
    for lab in o["label"]:
        k, _, v = lab.partition("=")
        labels[k] = v
    tmpfs = {}
    for t in o["tmpfs"]:
        path, _, opts = t.partition(":")
        tmpfs[path] = opts
    attach = {s.lower() for s in o["attach_streams"]}
    stdin = o["interactive"]
    cfg = {
        "Image": image,
        "Cmd": list(command) or None,
        "Entrypoint": ([o["entrypoint"]] if o["entrypoint"] else []) if o["entrypoint"] is not None
        else None,
        "Env": _env_file(o["env_file"]) + _env(o["env"]),
        "Hostname": o["hostname"] or "",
        "WorkingDir": o["workdir"] or "",
        "User": o["user"] or "",
        "Tty": o["tty"],
        "OpenStdin": stdin,
        "StdinOnce": stdin and not detach,
        "AttachStdin": stdin and not detach,
        "AttachStdout": not detach and (not attach or "stdout" in attach),
        "AttachStderr": not detach and (not attach or "stderr" in attach),
        "ExposedPorts": exposed or None,
        "Labels": labels,
        "StopSignal": o["stop_signal"],
        "StopTimeout": o["stop_timeout"],
        "MacAddress": o["mac_address"] or "",
        **({"Healthcheck": hc} if (hc := _healthcheck(o)) is not None else {}),
        "HostConfig": {
            "Binds": list(o["volume"]) or None,
            "Mounts": list(o["mount"]) or None,
            "VolumesFrom": list(o["volumes_from"]) or None,
            "Tmpfs": tmpfs or None,
            "AutoRemove": o.get("rm", False),
            "RestartPolicy": {"Name": restart_name, "MaximumRetryCount": int(restart_n or 0)},
            "Memory": _bytes(o["memory"], "--memory"),
            "NanoCpus": _cpus(o["cpus"]),
            "PidsLimit": o["pids_limit"],
            "NetworkMode": o["network"] or "default",
            "PortBindings": bindings,
            "PublishAllPorts": o["publish_all"],
            "Links": list(o["link"]) or None,
            "Dns": list(o["dns"]), "DnsSearch": list(o["dns_search"]),
            "DnsOptions": list(o["dns_option"]),
            "ExtraHosts": list(o["add_host"]) or None,
            "CapAdd": list(o["cap_add"]) or None, "CapDrop": list(o["cap_drop"]) or None,
            "Privileged": o["privileged"],
            "SecurityOpt": _security_opts(o["security_opt"]) or None,
            **({"LogConfig": {"Type": "", "Config": dict(opt.partition("=")[::2]
                                                          for opt in o["log_opt"])}}
               if o["log_opt"] else {}),
            "ReadonlyRootfs": o["read_only"],
        },
    }
    for h in o["add_host"]:
        if ":" not in h:
            raise click.ClickException(f"invalid --add-host {h!r}: use HOST:IP")
    for m in tmpfs:
        cfg["HostConfig"]["Mounts"] = (cfg["HostConfig"]["Mounts"] or []) + [
            f"type=tmpfs,target={m}"]
    net = o["network"]
    user_net = net and net not in ("none", "host", "default", "bridge") and \
        not net.startswith("container:")
    if user_net or o["ip"] or o["network_alias"]:
        name = net or "bridge"
        cfg["NetworkingConfig"] = {"EndpointsConfig": {name: {
            "IPAMConfig": {"IPv4Address": o["ip"]} if o["ip"] else None,
            "Aliases": list(o["network_alias"]) or None,
            "Links": list(o["link"]) or None,
            "MacAddress": o["mac_address"] or "",
        }}}
    return cfg


def _mesh_network(c, o: dict) -> None:
    """`--ip ADDRESS[/PREFIX]` without --network, as `weave run` takes it: the mesh
    network whose subnet holds it, which the daemon names."""
    if not o["ip"] or o["network"]:
        return
    r = c.request("GET", "/fabric/mesh/network", {"ip": o["ip"]})
    if r.status == 404 and "/" not in o["ip"]:
        r.read()    # a plain address: Docker's rule (user-defined networks only) says it
        return
    r.raise_for_status()
    doc = r.json()
    o["network"], o["ip"] = doc["Name"], doc["IP"]


def create_container(c, image: str, command, o: dict, detach: bool) -> str:
    _mesh_network(c, o)
    body = build_body(image, command, o, detach)
    q = {"name": o["name"], "dry_run": o.get("dry_run") or None}
    if o.get("pull") == "always":
        from fabric.cli.registry import pull_image
        pull_image(c, image, out=sys.stderr)
    r = c.request("POST", "/containers/create", q, body)
    if r.status == 404 and o.get("pull") == "missing":
        from fabric.cli.registry import pull_missing
        r = pull_missing(c, image, r, lambda: c.request("POST", "/containers/create", q, body))
    r.raise_for_status()
    doc = r.json()
    for w in doc.get("Warnings") or []:
        click.echo(f"WARNING: {w}", err=True)
    if o.get("dry_run"):
        for line in doc.get("Explain") or []:
            click.echo(line)
        sys.exit(0)
    return doc["Id"]


@cli.command(context_settings={"ignore_unknown_options": False, "help_option_names": ["--help"],
                               "allow_interspersed_args": False})
@container_options
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def create(obj, image, command, **o):
    """Create a container without starting it."""
    click.echo(create_container(obj.client, image, command, o, detach=True))


@cli.command(context_settings={"help_option_names": ["--help"], "allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Run in the background, print the id.")
@click.option("--rm", is_flag=True, help="Remove the container when it exits.")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Proxy signals to the process.")
@container_options
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def run(obj, image, command, detach, rm, sig_proxy, **o):
    """Create and start a container (Docker's `run`)."""
    o["rm"] = rm
    c = obj.client
    cid = create_container(c, image, command, o, detach)
    if detach:
        _start(c, cid, o)
        click.echo(cid)
        return
    sys.exit(attach_and_start(c, cid, tty=o["tty"], stdin=o["interactive"], rm=rm,
                              start=lambda: _start(c, cid, o), sig_proxy=sig_proxy))


def _start(c, cid: str, o: dict) -> None:
    from fabric.client.http import ApiError
    try:
        r = c.request("POST", f"/containers/{cid}/start", {"explain": o.get("explain") or None})
        r.raise_for_status()
        if o.get("explain"):
            # stderr: stdout stays what Docker prints (the id, the container's output).
            for line in (r.json() or {}).get("Explain") or []:
                click.echo(line, err=True)
        else:
            r.read()
    except ApiError:
        # `run` is one command to the user: a start that fails leaves no container
        # behind (Docker would leave it created).
        try:
            c.request("DELETE", f"/containers/{cid}", {"force": True, "v": True}).read()
        except Exception:
            pass
        raise


def attach_and_start(c, cid: str, *, tty: bool, stdin: bool, rm: bool, start, sig_proxy=True,
                     logs: bool = False) -> int:
    """Attach first (so no output is lost), then start, stream, and return the exit code."""
    from fabric.cli import streams
    r = c.request("POST", f"/containers/{cid}/attach",
                  {"stream": True, "stdin": stdin, "stdout": True, "stderr": True, "logs": logs},
                  upgrade=True)
    if r.status != 101:
        r.raise_for_status()
    if start:
        start()
    if tty and os.isatty(1):
        def resize(h, w):
            try:
                c.request("POST", f"/containers/{cid}/resize", {"h": h, "w": w}).read()
            except Exception:
                pass
        resize(*streams.terminal_size())
        streams.on_resize(resize)
    with streams.raw_terminal(tty and stdin):
        detached = streams.pump(r.sock, r._rest, tty=tty, stdin=stdin)
    if detached:
        return 0
    w = c.request("POST", f"/containers/{cid}/wait",
                  {"condition": "removed" if rm else "not-running"})
    if w.status == 404:
        return 0
    w.raise_for_status()
    doc = w.json()
    return int(doc.get("StatusCode", 0))
