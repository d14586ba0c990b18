"""The command lines of the stages that also run alone (`python -m ibc.codec.training.postfilter train
--help`, `… discriminator train --help`): one option per field of their config dataclass."""
from dataclasses import fields


def add_options(parser, config_class) -> None:
    """One `--name` option per field of a config dataclass, typed and defaulted by the field."""
    defaults = config_class()
    for f in fields(config_class):
        kind = next(a for a in getattr(f.type, "__args__", (f.type,)) if a is not type(None))
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=getattr(defaults, f.name),
                            help=f"default: {getattr(defaults, f.name)}")


def from_options(args, config_class):
    """The config dataclass from parsed `add_options` arguments."""
    return config_class(**{f.name: getattr(args, f.name) for f in fields(config_class)})
