"""The CLI stays thin: `ps`, `run` and `exec` import click, the client and the standard
library, never the engine, the daemon or the kernel libraries (importing pyroute2 alone
costs more than a whole `fabric ps` should). Each command runs for real, in a fresh
interpreter, against a lab host's daemon; then that interpreter's modules are read."""

import json
import subprocess
import sys

FORBIDDEN = ("fabric.engine", "fabric.daemon", "pyroute2", "scapy", "nftables")

# The CLI's own code path (the lazy group resolving the command, the client, the
# command's module) without fabric.cli.main.main's os._exit, so that the modules can be
# listed once the command is done.
RUN_AND_REPORT = r"""
import json, os, sys
from fabric.cli.main import cli
code = 0
try:
    cli.main(args=sys.argv[1:], prog_name="fabric", standalone_mode=False)
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
sys.stdout.flush()
with open(os.environ["IMPORT_REPORT"], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def forbidden(modules: list[str]) -> list[str]:
    """Which of FORBIDDEN (a package and anything below it) are among the modules."""
    return [f for f in FORBIDDEN if any(m == f or m.startswith(f + ".") for m in modules)]


def run_cli(host, tmp_path, *args: str) -> tuple[int, str, list[str]]:
    """Run `fabric ARGS` in a fresh interpreter in the host's namespace; return its exit
    code, its output and the modules it had imported when the command ended."""
    report = tmp_path / f"report-{args[0]}.json"
    env = {**host.env(), "IMPORT_REPORT": str(report)}
    # -P and a neutral cwd: the installed fabric, not the source tree beside the tests.
    p = subprocess.run(host.prefix + [sys.executable, "-P", "-c", RUN_AND_REPORT, *args],
                       capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert p.returncode == 0, f"fabric {' '.join(args)}: {p.stderr}"
    doc = json.loads(report.read_text())
    return doc["code"], p.stdout, doc["modules"]


def test_ps_run_and_exec_import_neither_engine_daemon_nor_kernel_libraries(host, tmp_path):
    # The daemon starts, and the busybox image is made, before anything is measured.
    host.fab("run", "-d", "--name", "guarded", "busybox", "sleep", "600")

    checks = [(("ps",), "guarded", "fabric.cli.containers"),
              (("run", "--rm", "busybox", "echo", "from-run"), "from-run", "fabric.cli.run"),
              (("exec", "guarded", "echo", "from-exec"), "from-exec", "fabric.cli.containers")]
    for args, shown, command_module in checks:
        code, out, modules = run_cli(host, tmp_path, *args)
        # The command really ran: it answered as a user would see it.
        assert code == 0 and shown in out, (args, code, out)
        assert command_module in modules and "fabric.client.http" in modules, args
        assert forbidden(modules) == [], f"fabric {' '.join(args)} imported {forbidden(modules)}"
