"""The one exception family qbtrace raises on purpose; only the CLI catches it."""

from __future__ import annotations


class QbtraceError(Exception):
    """A problem the user can fix (bad input, bad option); printed as one line, exit status 2."""

    slug = "error"

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class InputError(QbtraceError):
    """An input file that cannot be read at all."""

    slug = "bad-input"


class ConfigError(QbtraceError):
    """A config file or option value that is not usable."""

    slug = "bad-config"
