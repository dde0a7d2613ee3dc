"""Values of driver options (`-o key=value`) and daemon settings, spelled as Docker
accepts them."""

from collections.abc import Callable, Mapping

from fabric.errors import InvalidArgument

# option name -> (the config field it sets, its parser: (name, text) -> value)
Specs = Mapping[str, tuple[str, Callable[[str, str], object]]]

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


def config_fields(options: Mapping[str, str], specs: Specs, driver: str, also: str) -> dict:
    """A driver's `-o` options as its config's fields; an unknown one is refused naming
    the driver's own options (Docker's `com.docker...` aliases left out) and `also`."""
    fields: dict = {}
    for key, value in options.items():
        spec = specs.get(key)
        if spec is None:
            known = ", ".join(k for k in specs if not k.startswith("com."))
            raise InvalidArgument(f"unknown {driver} driver option {key!r} (known: {known}, "
                                  f"{also})")
        field, parse = spec
        fields[field] = parse(key, str(value))
    return fields
