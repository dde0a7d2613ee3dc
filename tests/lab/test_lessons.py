"""The lessons of labs/lessons/ run exactly as their READMEs tell, and print what the
READMEs say the learner sees (tests/lab/lessons.py): the icc drop and the trace that
names it, a route missing on one host failing `lab test` until it is added, and an
MTU black hole on an Open vSwitch overlay that `lab up` warns of and `lab doctor`
finds. Each lab is taken down, whatever happened, with nothing left behind."""

import os
import shutil

import pytest
import yaml

from fabric.lab import resolve
from lab.labcli import lab, lab_file, leftovers, unique
from lab.lessons import LESSONS, copy, play, steps


def lab_name(lesson: str) -> str:
    with open(os.path.join(LESSONS, lesson, "lab.yaml")) as f:
        return yaml.safe_load(f)["name"]


def teach(lesson: str, tmp_path) -> None:
    name = lab_name(lesson)
    run = unique(name)
    cwd = copy(lesson, str(tmp_path))
    try:
        for step in steps(lesson):
            play(step, cwd, name, run)
    finally:
        lab("down", run)
    assert leftovers(run) == []


def test_icc_ping(tmp_path):
    teach("icc-ping", tmp_path)


def test_missing_route(tmp_path):
    teach("missing-route", tmp_path)


@pytest.mark.skipif(shutil.which("ovs-vswitchd") is None, reason="Open vSwitch not installed")
def test_mtu_blackhole(tmp_path):
    teach("mtu-blackhole", tmp_path)


def test_missing_route_fixed_for_good_is_static_routes(tmp_path):
    # the README's lasting fix, uncommenting docker130's route, makes the lesson the
    # seed's lab, which tests/lab/test_lab_up.py brings up and tests
    text = open(os.path.join(LESSONS, "missing-route", "lab.yaml")).read()
    fixed = tmp_path / "lab.yaml"
    fixed.write_text(text.replace("    # routes: [", "    routes: ["))
    mine = resolve.load(str(fixed), drivers=["bridge"])
    seed = resolve.load(lab_file("static-routes"), drivers=["bridge"])
    assert mine.hosts == seed.hosts and mine.segments == seed.segments
    assert [(c.name, c.host) for c in mine.containers] == \
        [(c.name, c.host) for c in seed.containers]


def test_every_lesson_is_listed_in_the_labs_readme():
    with open(os.path.join(os.path.dirname(LESSONS), "README.md")) as f:
        text = f.read()
    for lesson in sorted(os.listdir(LESSONS)):
        assert f"lessons/{lesson}/" in text, lesson
