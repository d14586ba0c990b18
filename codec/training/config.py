"""The command lines of the stages that also run alone (`python -m ibc.codec.training.postfilter train
--help`, `… discriminator train --help`): one option per field of their config dataclass."""
from dataclasses import fields


def add_options(parser, config_class) -> None:
    """One `--name` option per field of a config dataclass, typed and defaulted by the field (a tuple field
    takes comma-separated numbers: `--qualities 10,80`)."""
    defaults = config_class()
    for f in fields(config_class):
        kind = next(a for a in getattr(f.type, "__args__", (f.type,)) if a is not type(None))
        parser.add_argument("--" + f.name.replace("_", "-"), type=numbers if kind is tuple else kind,
                            default=getattr(defaults, f.name), help=f"default: {getattr(defaults, f.name)}")


def numbers(text: str) -> tuple:
    """"10,80" → (10, 80); "18.5,40" → (18.5, 40): integers stay integers (step weight codes)."""
    return tuple(int(v) if v.strip().lstrip("-").isdigit() else float(v) for v in text.split(","))


def from_options(args, config_class):
    """The config dataclass from parsed `add_options` arguments."""
    return config_class(**{f.name: getattr(args, f.name) for f in fields(config_class)})
