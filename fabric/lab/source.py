"""A lab file as read: its data, and the line every key and item came from.

Errors about a lab file name the file, the line and the field
(`labs/x.yaml:12: containers.web.host: no host 'h3'`), so the loader keeps PyYAML's
composer marks: the document is composed into nodes, and the plain data is built from
them by hand, recording each key's line under its path (("containers", "web", "host")).
Mapping keys are kept as written (`8080`, `yes` stay strings: they are names here);
values are resolved as YAML resolves them. A key given twice is an error rather than
YAML's silent "the last one wins".
"""

import hashlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from fabric.lab.errors import LabError

Path = tuple[str | int, ...]


@dataclass
class Source:
    path: str                   # as the user gave it
    text: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def line(self, where: Path) -> int:
        """The line of `where`, or of its nearest enclosing key that has one."""
        while where:
            if where in self.lines:
                return self.lines[where]
            where = where[:-1]
        return self.lines.get((), 1)

    def error(self, where: Path, message: str) -> LabError:
        return LabError(self.path, self.line(where), where, message)


def read(path: str) -> Source:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise LabError(path, None, (), f"cannot read the lab file: {e.strerror}") from None
    except UnicodeDecodeError:
        raise LabError(path, None, (), "not a text file (UTF-8)") from None
    return parse(path, text)


def parse(path: str, text: str) -> Source:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        src = Source(path, text, None)
        if node is None:
            raise LabError(path, 1, (), "the file is empty; a lab needs at least `hosts:`")
        src.data = _build(node, (), src, loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        raise LabError(path, line, (), f"not valid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise LabError(path, None, (), f"not valid YAML: {e}") from None
    finally:
        loader.dispose()
    return src


def _build(node: yaml.Node, where: Path, src: Source, loader: yaml.SafeLoader) -> Any:
    src.lines.setdefault(where, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)   # `<<: *anchor` merge keys
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise LabError(src.path, key_node.start_mark.line + 1, where,
                               "a key must be a plain name")
            key = key_node.value
            if key in out:
                raise LabError(src.path, key_node.start_mark.line + 1, where + (key,),
                               f"'{key}' is given twice")
            src.lines[where + (key,)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, where + (key,), src, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, where + (i,), src, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)

