"""The one error type the genomics layer raises for bad user input."""


class InputError(ValueError):
    """A malformed or changed input file. The message is one line naming file and line."""

    retryable = False  # retrying cannot fix a bad input: callers fail at once

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
