"""A lesson's README played as a learner would: its ```console blocks are read as
commands (`$ CMD`, `# exit N` at the end when it is not 0) each followed by the output
the README says the learner sees, and run in order in a copy of the lesson, so the
README cannot drift from what fabric does.

What the README shows must be the real output (stdout and stderr as a terminal shows
them), line by line and in order, where a `...` line stands for lines left out: so a
command shown with no output must print nothing, and one shown without `...` before
its first line (or after its last) must begin (or end) with it. Only what differs
from run to run is masked on both sides: container and interface ids, MAC addresses,
ICMP ids, times, packet counters. The lab runs under
a name of the test's own (`lab up` gets `--name`), put wherever the lesson's name is.
"""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from lab.labcli import FABRIC, LABS

LESSONS = os.path.join(LABS, "lessons")
EXIT = re.compile(r"\s+# exit (\d+)$")
MASKS = [
    (re.compile(r"\b(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\b"), "MAC"),
    (re.compile(r"[0-9a-f]{10,}"), "ID"),
    (re.compile(r"\bid \d+"), "id N"),
    (re.compile(r"packets \d+ bytes \d+"), "packets N bytes N"),
    (re.compile(r"\(\d+ sent\)"), "(N sent)"),
    (re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])"), "T"),      # a time, never an address
    (re.compile(r"slowest to converge: .*"), "slowest to converge: ..."),
]


@dataclass
class Step:
    command: str
    code: int
    shown: list[str]        # the output the README shows


def steps(lesson: str) -> list[Step]:
    with open(os.path.join(LESSONS, lesson, "README.md")) as f:
        text = f.read()
    out: list[Step] = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.M | re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                m = EXIT.search(line)
                cmd = line[2:m.start()] if m else line[2:]
                out.append(Step(cmd.strip(), int(m.group(1)) if m else 0, []))
            else:
                assert out, f"{lesson}: output before any command: {line!r}"
                out[-1].shown.append(line)
    assert out, f"{lesson}: no console block in its README"
    return out


def copy(lesson: str, where: str) -> str:
    """The lesson's directory copied to `where/labs/lessons/NAME` (a README may edit
    its lab file); returns `where`, the directory its commands run in."""
    shutil.copytree(os.path.join(LESSONS, lesson), os.path.join(where, "labs", "lessons",
                                                                lesson))
    return where


def normal(line: str) -> str:
    line = line.rstrip()
    for pattern, mask in MASKS:
        line = pattern.sub(mask, line)
    return line


def play(step: Step, cwd: str, lab_name: str, run: str) -> None:
    """Run one step as the README writes it, under the test's lab name, and assert
    its exit code and that the output shown is in what it printed."""
    cmd = step.command.replace(lab_name, run)
    if cmd.startswith("fabric lab up "):
        cmd = f"fabric lab up --name {run} " + cmd[len("fabric lab up "):]
    env = {k: v for k, v in os.environ.items() if k != "FABRIC_HOST"}
    env["PATH"] = os.path.dirname(FABRIC[0]) + os.pathsep + env["PATH"]
    p = subprocess.run(["sh", "-c", cmd], cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=180)
    got = [normal(x) for x in p.stdout.splitlines()]
    shown = [normal(x.replace(lab_name, run)) for x in step.shown]
    assert matches(shown, got), (f"`{step.command}`: the README shows\n"
                                 + "\n".join(step.shown) + f"\nbut it printed:\n{p.stdout}")
    assert p.returncode == step.code, \
        f"`{step.command}` exited {p.returncode}, the README says {step.code}:\n{p.stdout}"


def matches(shown: list[str], got: list[str]) -> bool:
    """`got` is `shown`, each `...` standing for any lines (none too)."""
    if not shown:
        return not got
    if shown[0] != "...":
        return bool(got) and got[0] == shown[0] and matches(shown[1:], got[1:])
    rest = shown[1:]
    return any(matches(rest, got[i:]) for i in range(len(got) + 1))
