"""Errors raised by assortopt. Each carries a one-line message meant for a user."""

from __future__ import annotations


class AssortoptError(Exception):
    """Base class of every error assortopt raises on purpose."""


class InstanceError(AssortoptError, ValueError):
    """An instance (or solution) file breaks a rule of the contract.

    The message is one line: ``FILE: FIELD: what is wrong``, e.g.
    ``chocolate.json: products[3].price: must be > 0``.
    """

    def __init__(self, field: str, message: str, source: str | None = None) -> None:
        self.field = field
        self.reason = message
        self.source = source
        where = f"{source}: " if source else ""
        text = f"{where}{field}: {message}" if field else f"{where}{message}"
        super().__init__(_one_line(text))


def _one_line(text: str) -> str:
    """Line breaks and other control characters (an id may hold any) shown escaped, so the
    message stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class OptionError(AssortoptError, ValueError):
    """A bad option (method name, scenario count, time limit, ...) was passed."""


class SolverError(AssortoptError, RuntimeError):
    """The solver failed in a way that leaves no usable answer."""
