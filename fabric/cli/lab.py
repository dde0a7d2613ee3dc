"""`fabric lab up|down|ls|status|exec|test|ping|graph|impair|trace|compare`: labs of hosts on this
machine (fabric.lab). Like `fabric host`, these work on hosts and namespaces directly,
not through one daemon, so they may import more than the client; each imports what it
needs when it runs.

Bad lab input is one line naming the file, the line and the field, exit 125.
"""

import os
import sys

import click

from fabric.cli import trace as trace_cli
from fabric.cli.main import cli
from fabric.cli.table import print_rows

NAME_HELP = "The lab's name, overriding the file's `name:` (to run one file twice)."


def _fail(e: Exception) -> None:
    from fabric.errors import FabricError
    from fabric.lab.errors import LabError
    if isinstance(e, LabError):
        click.echo(e.message, err=True)
    else:
        click.echo(f"Error: {e.message if isinstance(e, FabricError) else e}", err=True)
    sys.exit(125)


def _guarded(fn):
    """Run a command body; fabric's errors and the system's become one line, exit 125."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from fabric.errors import FabricError
        try:
            return fn(*args, **kwargs)
        except (FabricError, OSError) as e:
            _fail(e)
    return wrapper


@cli.group("lab", context_settings={"help_option_names": ["--help"]})
def lab_group():
    """Labs: hosts, segments, networks and containers from a YAML file, and the
    reachability expected between them (labs/README.md)."""


def _on_lab(name: str, *options):
    """A command on one lab given as FILE|NAME (--name: the lab a file was brought up
    as), with more options; errors as one line."""
    def wrap(fn):
        fn = _guarded(fn)
        for opt in reversed([lab_group.command(name), click.argument("ref", metavar="FILE|NAME"),
                             click.option("--name", default=None, help=NAME_HELP), *options]):
            fn = opt(fn)
        return fn
    return wrap


RESULTS = (click.option("--json", "as_json", is_flag=True, help="Results as JSON."),
           click.option("--junit", default=None, metavar="FILE",
                        help="Also write JUnit XML here."))


@lab_group.command("up")
@click.argument("file")
@click.option("--name", default=None, help=NAME_HELP)
@click.option("--dry-run", "--explain", "dry_run", is_flag=True,
              help="Print the plan (the commands that would build it), make nothing.")
@click.option("--strict", is_flag=True,
              help="Refuse, making nothing, when the checks run first find a problem "
                   "(default: warn and go on).")
@_guarded
def lab_up(file, name, dry_run, strict):
    """Bring a lab up: its segments, hosts (in parallel), networks and containers. What
    `fabric lab doctor` would find that can be known before is warned of first."""
    from fabric.lab import deploy, explain, resolve
    from fabric.lab.progress import Progress
    lab = resolve.load(file, name)
    if dry_run:
        for line in explain.commands(lab):
            click.echo(line)
        return
    progress = Progress()
    if not deploy.up(lab, progress, strict=strict):
        click.echo(f"lab {lab.name} is up already (from {file}); nothing to do")
        return
    click.echo(f"lab {lab.name} is up: {len(lab.hosts)} host(s), {len(lab.containers)} "
               f"container(s) in {progress.elapsed():.1f} s")


@_on_lab("down")
def lab_down(ref, name):
    """Remove a lab and everything it made (also one half made)."""
    from fabric.lab import labs, teardown
    from fabric.lab.progress import Progress
    lab_name = labs.name_of(ref, name)
    if not teardown.down(lab_name, Progress()):
        click.echo(f"lab {lab_name} is not up")
        return
    click.echo(f"lab {lab_name} removed")


@lab_group.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only names.")
@_guarded
def lab_ls(quiet):
    """List the labs on this machine."""
    from fabric.lab import status
    rows = status.summaries()
    if quiet:
        for r in rows:
            click.echo(r.name)
        return
    print_rows([{"NAME": r.name, "STATE": r.state, "HOSTS": r.hosts,
                 "DAEMONS": f"{r.daemons}/{r.hosts}", "FILE": r.file} for r in rows],
               [(k, k) for k in ("NAME", "STATE", "HOSTS", "DAEMONS", "FILE")])


@_on_lab("status")
def lab_status(ref, name):
    """Hosts (underlay addresses), containers (addresses per network) and their state."""
    from fabric.lab import labs, live, status
    found = labs.find(ref, name)
    lab = found.lab
    click.echo(f"lab {lab.name} ({found.state.state if found.state else 'not up'}, from "
               f"{found.state.doc.get('file') if found.state else lab.file})")
    print_rows(status.host_rows(lab), [(k, k) for k in ("HOST", "STATE", "NAMESPACE",
                                                        "UNDERLAY")])
    if lab.containers:
        click.echo()
        print_rows(status.container_rows(lab, live.gather(lab)),
                   [(k, k) for k in ("CONTAINER", "HOST", "STATE", "ADDRESSES", "IMAGE")])


@lab_group.command("exec", context_settings={"ignore_unknown_options": True,
                                             "allow_interspersed_args": False})
@click.argument("ref", metavar="NAME")
@click.argument("target", metavar="HOST|CONTAINER")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@_guarded
def lab_exec(ref, target, command):
    """Run a command in a lab host's namespace or in a lab container."""
    from fabric.lab import labs
    argv = list(command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    lab = labs.find(ref).lab
    full = labs.exec_argv(lab, target, argv, tty=sys.stdin.isatty() and sys.stdout.isatty())
    sys.stdout.flush()
    os.execvp(full[0], full)


def _report(results, as_json: bool, junit: str | None, suite: str) -> None:
    from fabric.lab import report
    if junit:
        with open(junit, "w") as f:
            f.write(report.junit(results, suite))
    click.echo(report.as_json(results) if as_json else report.matrix(results), nl=False)
    if not all(r.passed for r in results):
        sys.exit(1)


@_on_lab("test", *RESULTS)
def lab_test(ref, name, as_json, junit):
    """Run the lab's expectations; exit 0 only if every result was the expected one."""
    from fabric.lab import labs
    from fabric.lab.progress import Progress
    found = labs.find(ref, name)
    if found.note:
        click.echo(found.note, err=True)
    if not found.lab.expect:
        click.echo(f"lab {found.lab.name} has no expectations (`expect:`)", err=True)
    _report(labs.test(found.lab, say=Progress()), as_json, junit, found.lab.name)


@_on_lab("ping", *RESULTS)
def lab_ping(ref, name, as_json, junit):
    """Every container pings every other (Mininet's pingall)."""
    from fabric.lab import labs
    found = labs.find(ref, name)
    _report(labs.ping(found.lab), as_json, junit, f"{found.lab.name}-ping")


@_on_lab("graph",
         click.option("-o", "--output", default=None, metavar="FILE",
                      help="Write here (.svg, .png, .mmd, .dot); default: standard output."),
         click.option("--format", "fmt", type=click.Choice(["svg", "png", "mermaid", "dot"]),
                      default=None, help="Default: from the output's suffix, else mermaid."))
def lab_graph(ref, name, output, fmt):
    """A picture of the lab: hosts, segments, networks, containers, addresses."""
    from fabric.lab import graph, labs, live
    found = labs.find(ref, name, must_be_up=False)
    up = found.state is not None and found.state.state == "up"
    suffix = {".svg": "svg", ".png": "png", ".mmd": "mermaid", ".dot": "dot", ".gv": "dot"}
    fmt = fmt or suffix.get(os.path.splitext(output or "")[1], "mermaid")
    data = graph.render(found.lab, fmt, live.gather(found.lab) if up else None)
    if output:
        with open(output, "wb") as f:
            f.write(data)
        click.echo(output)
    else:
        sys.stdout.buffer.write(data)


@lab_group.command("impair")
@click.argument("ref", metavar="NAME")
@click.argument("target", metavar="HOST:IF|SEGMENT")
@click.argument("spec", nargs=-1, required=True, metavar="rate=.. loss=.. delay=.. jitter=..")
@click.option("--dry-run", is_flag=True, help="Print the commands, change nothing.")
@_guarded
def lab_impair(ref, target, spec, dry_run):
    """Impair a host's NIC (both directions) or a whole segment; `none` clears it."""
    from fabric.lab import deploy, labs
    lab = labs.find(ref).lab
    p = labs.impairment_plan(lab, target, " ".join(spec))
    for line in p.describe():
        click.echo(line)
    if not dry_run:
        deploy.apply(p)


@_on_lab("doctor",
         click.option("--fix", is_flag=True, help="Repair what fabric owns on every host."),
         click.option("--json", "as_json", is_flag=True, help="Findings as JSON."))
def lab_doctor(ref, name, fix, as_json):
    """`fabric doctor` on every host of the lab, and what only the lab sees (a segment
    whose MTU a tunnel between two hosts does not fit); exit 0 when nothing is left."""
    import json

    from fabric.cli.doctor import echo_findings
    from fabric.lab import doctor, labs
    lab = labs.find(ref, name).lab
    reports = doctor.run(lab, fix=fix)
    left = sum(not f.get("fixed") for r in reports for f in r["Findings"])
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    else:
        for r in reports:
            echo_findings(r, f"{r['Host']}: ")
        if not any(r["Findings"] for r in reports):
            click.echo(f"lab {lab.name}: nothing found on {len(reports)} host(s)")
    sys.exit(1 if left else 0)


@lab_group.command("compare")
@click.argument("file")
@click.option("--network", required=True, metavar="NET",
              help="The lab's network to carry by each driver in turn.")
@click.option("--drivers", default="bridge,routing,mesh,ovs", show_default=True,
              help="Comma-separated: bridge (with an uplink), routing, mesh, ovs.")
@click.option("--name", default=None,
              help="The labs' base name (default: the file's); each driver's is NAME-DRIVER.")
@click.option("-t", "--time", "seconds", type=click.IntRange(1, 600), default=3,
              show_default=True, help="Seconds of each iperf3 run.")
@click.option("--pings", type=click.IntRange(1, 100000), default=200, show_default=True,
              help="Echoes for the round-trip time.")
@click.option("--starts", type=click.IntRange(0, 100), default=3, show_default=True,
              help="Containers started for the time to reachability (the median counts).")
@click.option("--json", "as_json", is_flag=True, help="The results as JSON.")
@_guarded
def lab_compare(file, network, drivers, name, seconds, pings, starts, as_json):
    """Bring the lab up once per driver with NET rewritten to it, run its expectations,
    measure cross-host throughput (iperf3), round-trip time and time to reachability
    between two of NET's containers, take it down; one row per driver. Exit 0 when
    every driver passed every expectation and was measured."""
    from fabric.lab import compare, compare_report
    from fabric.lab.progress import Progress
    plan = compare.prepare(file, network, drivers, name)
    settings = compare.Settings(seconds, pings, starts)
    if not as_json:
        click.echo(compare_report.heading(plan, settings))
    try:
        rows = compare.run(plan, settings, Progress())
    except KeyboardInterrupt:
        click.echo("interrupted: the lab that was up is down again", err=True)
        sys.exit(130)
    click.echo(compare_report.as_json(plan, settings, rows) if as_json
               else compare_report.table(rows), nl=False)
    sys.exit(0 if all(r.ok for r in rows) else 1)


@_on_lab("trace", click.argument("src", metavar="FROM"), click.argument("dst", metavar="TO"),
         *trace_cli.OPTIONS)
def lab_trace(ref, name, src, dst, proto, port, timeout, as_json, verbose):
    """Send one probe from FROM to TO and follow it through every host of the lab
    (containers, NAME@NET, hosts, HOST:IF), the answer too (fabric trace)."""
    from fabric.lab import labs
    from fabric.lab import trace as lab_trace_plan
    from fabric.trace.run import Want, run
    found = labs.find(ref, name)
    story = run(lab_trace_plan.plan(found.lab, src, dst, Want(proto, port, timeout)))
    trace_cli.show(story, as_json, verbose)
