"""Every benchmark's imports resolve: to the standard library or an installed package,
to another file of bench/, or to a helper module of the tests (which the benches put on
their path), so a module moved or removed cannot leave a benchmark that no longer
starts (importing them would make their temporary directories: they are read instead)."""

import ast
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
LOCAL = {f[:-3] for d in [BENCH] + [p for p, _, _ in os.walk(os.path.join(ROOT, "tests"))]
         for f in os.listdir(d) if f.endswith(".py")} | \
    {d for d in os.listdir(os.path.join(ROOT, "tests"))
     if os.path.isfile(os.path.join(ROOT, "tests", d, "__init__.py"))}


def imported(path: str) -> set[str]:
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_every_benchmark_import_resolves():
    missing = {}
    for name in sorted(os.listdir(BENCH)):
        if not name.endswith(".py"):
            continue
        gone = sorted(m for m in imported(os.path.join(BENCH, name))
                      if m not in LOCAL and importlib.util.find_spec(m) is None)
        if gone:
            missing[name] = gone
    assert missing == {}, f"benchmarks importing what is not there: {missing}"
