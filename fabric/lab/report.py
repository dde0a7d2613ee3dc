"""What `lab test` and `lab ping` print: a from-by-to matrix for people, JSON for
scripts, JUnit XML for CI systems."""

import json
import xml.etree.ElementTree as ET

from fabric.lab.expect import CheckResult


def _cell_entry(r: CheckResult, labelled: bool) -> str:
    text = r.outcome.result if r.passed else r.outcome.result.upper()
    if r.passed and r.converged is not None:
        text += f" {r.converged:.1f}s"
    return f"{r.check.probe.label()} {text}" if labelled else text


def _why(r: CheckResult) -> str:
    c, o = r.check, r.outcome
    if o.result == "error":
        return f"could not probe: {o.detail}"
    if o.result == c.expect:
        missed = [name for name, seen in zip(c.via_names(), o.seen_via) if not seen]
        return f"{o.result} ({o.detail}), but its packets were not seen on " + \
            ", ".join(missed)
    return f"expected {c.expect}, got {o.result}: {o.detail}"


def _order(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def matrix(results: list[CheckResult]) -> str:
    """Rows are sources, columns destinations; each cell holds the result observed
    (UPPER-CASED when it is not the expected one) and the seconds it took to converge,
    with the probe's protocol when the checks do not all use the same one."""
    if not results:
        return "no checks\n"
    rows = _order([r.check.src for r in results])
    dsts = {r.check.dst for r in results}
    # a name that is both a source and a destination (lab ping) keeps one place
    cols = [n for n in _order(rows + [r.check.dst for r in results]) if n in dsts]
    labelled = len({r.check.probe.label() for r in results}) > 1
    cells: dict[tuple[str, str], list[str]] = {}
    for r in results:
        cells.setdefault((r.check.src, r.check.dst), []).append(_cell_entry(r, labelled))
    table = [["from \\ to", *cols]]
    for src in rows:
        table.append([src, *(", ".join(cells.get((src, dst), ["-"])) for dst in cols)])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in table]
    lines.append("")
    lines += [failure_line(r) for r in results if not r.passed]
    lines.append(summary_line(results))
    return "\n".join(lines) + "\n"


def failure_line(r: CheckResult) -> str:
    return f"FAILED {r.check.label()}: {_why(r)}"


def summary_line(results: list[CheckResult]) -> str:
    failed = sum(not r.passed for r in results)
    line = f"{len(results)} checks, {len(results) - failed} passed, {failed} failed"
    done = [r for r in results if r.converged is not None]
    if done:
        slow = max(done, key=lambda r: r.converged or 0.0)
        line += f"; slowest to converge: {slow.check.label()} in {slow.converged:.1f} s"
    return line


def _record(r: CheckResult) -> dict:
    c, p, o = r.check, r.check.probe, r.outcome
    return {
        "from": c.src, "to": c.dst, "proto": p.proto, "port": p.port, "address": p.dst,
        "expect": c.expect, "result": o.result, "passed": r.passed,
        "converged": None if r.converged is None else round(r.converged, 3),
        "detail": o.detail, "tries": r.tries, "elapsed": round(r.elapsed, 3),
        "via": [{"at": name, "seen": seen} for name, seen in zip(c.via_names(), o.seen_via)],
        **({"bytes": p.nbytes} if p.nbytes is not None else {}),
        **({"status": p.status} if p.status is not None else {}),
    }


def as_json(results: list[CheckResult]) -> str:
    failed = sum(not r.passed for r in results)
    doc = {"passed": failed == 0, "total": len(results), "failed": failed,
           "checks": [_record(r) for r in results]}
    return json.dumps(doc, indent=2) + "\n"


def junit(results: list[CheckResult], suite: str) -> str:
    """JUnit XML: one testcase per check; an unexpected result is a <failure>, a probe
    that could not be made an <error>."""
    failures = sum(not r.passed and r.outcome.result != "error" for r in results)
    errors = sum(r.outcome.result == "error" for r in results)
    total = sum(r.elapsed for r in results)
    root = ET.Element("testsuites")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                       failures=str(failures), errors=str(errors), time=f"{total:.3f}")
    for r in results:
        tc = ET.SubElement(ts, "testcase", classname=suite,
                           name=f"{r.check.label()} expect {r.check.expect}",
                           time=f"{r.elapsed:.3f}")
        if not r.passed:
            kind = "error" if r.outcome.result == "error" else "failure"
            ET.SubElement(tc, kind, message=_why(r), type=r.outcome.result).text = \
                r.outcome.detail
        ET.SubElement(tc, "system-out").text = \
            f"{r.outcome.result}: {r.outcome.detail} ({r.tries} tries)"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
