"""A lab file's shape, checked against the JSON Schema shipped with fabric
(fabric/lab/schema.json): the keys there are, their types and their allowed values.
What the values mean (addresses in their subnets, names that exist) is resolve.py's.

The first problem found becomes one line; a misspelled key names the close one.
"""

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

from fabric.lab.source import Source

_TYPE_NAMES = {"string": "a string", "number": "a number", "integer": "a whole number",
               "boolean": "true or false", "array": "a list", "object": "a mapping",
               "null": "nothing"}


@cache
def schema() -> dict:
    return json.loads(resources.files("fabric.lab").joinpath("schema.json").read_text())


def check(src: Source) -> None:
    import jsonschema
    validator = jsonschema.Draft202012Validator(schema())
    errors = list(validator.iter_errors(src.data))
    if not errors:
        return
    # the first in the file, so fixing them top to bottom works
    first = min(errors, key=lambda e: (src.line(tuple(e.absolute_path)), len(e.absolute_path)))
    where, problem = _explain(first)
    raise src.error(where, problem)


def _explain(e) -> tuple[tuple, str]:
    where = tuple(e.absolute_path)
    kind, inst, sch = e.validator, e.instance, e.schema
    if kind == "additionalProperties" and isinstance(inst, dict):
        known = sorted(sch.get("properties", {}))
        extra = [k for k in inst if k not in known]
        key = extra[0] if extra else "?"
        return where + (key,), f"unknown key '{key}'{_suggest(key, known)}"
    if kind == "required" and isinstance(inst, dict):
        missing = [k for k in sch["required"] if k not in inst]
        return where, f"missing key '{missing[0]}'"
    if kind == "type":
        want = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
        names = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in want if t != "null")
        return where, f"expected {names}, got {_shown(inst)}"
    if kind == "enum":
        allowed = ", ".join(str(v) for v in e.validator_value if not str(v).isupper())
        return where, f"{_shown(inst)} is not one of {allowed}"
    if kind == "minProperties":
        return where, "must not be empty"
    if kind in ("minimum", "maximum", "exclusiveMinimum"):
        return where, f"{inst} is out of range ({kind} {e.validator_value})"
    return where, e.message


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (known: {', '.join(known)})"


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return _TYPE_NAMES["object" if isinstance(value, dict) else "array"]
    return repr(value)
