"""The one exception the CLI turns into a one-line message and exit status 2."""


class CodecError(Exception):
    """A user-facing failure: bad input, a corrupt file, a missing model. The message is one line."""
