"""The exceptions the CLI turns into a one-line message: exit status 2, or 3 for corrupt data."""


class CodecError(Exception):
    """A user-facing failure: bad input, a missing model, … The message is one line."""


class CorruptData(CodecError):
    """A file that is damaged, truncated or not an .ibc file at all: its own exit status, so that scripts can
    tell damaged data from a mistake in the command."""
