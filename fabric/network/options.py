"""Values of driver options (`-o key=value`) and daemon settings, spelled as Docker
accepts them."""

from fabric.errors import InvalidArgument

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


def parse_bool(value: object, what: str) -> bool:
    """`what` names the option for the error, e.g. "option icc" or "setting icc"."""
    if isinstance(value, bool):
        return value
    v = str(value).strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise InvalidArgument(f"{what}: expected true or false, got {value!r}")
