"""Errors about a lab file: one line naming the file, the line and the field.

    labs/x.yaml:12: containers.web.host: no host 'h3'
"""

from fabric.errors import InvalidArgument

Field = tuple[str | int, ...]


def field_name(where: Field) -> str:
    """("hosts", "h1", "nics", 0, "address") -> "hosts.h1.nics[0].address"."""
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def known(names) -> str:
    """" (known: a, b)" to end a "no such NAME" message; "" when there are none."""
    names = list(names)
    return f" (known: {', '.join(names)})" if names else ""


class LabError(InvalidArgument):
    """Bad lab input; its message is the one line the user sees (exit 125)."""

    def __init__(self, file: str, line: int | None, where: Field, problem: str):
        self.file, self.line, self.where, self.problem = file, line, where, problem
        at = f"{file}:{line}" if line is not None else file
        name = field_name(where)
        super().__init__(f"{at}: {name}: {problem}" if name else f"{at}: {problem}")
