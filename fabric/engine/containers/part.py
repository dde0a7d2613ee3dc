"""What every part of the container lifecycle holds: the engine, the shared records, and
the `Containers` object through which it reaches the other parts."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fabric.engine.containers import Containers


class Part:
    def __init__(self, ctrs: "Containers"):
        self.ctrs = ctrs
        self.engine = ctrs.engine
        self.records = ctrs.records
