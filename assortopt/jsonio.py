"""Reading and writing the JSON files of assortopt (instances, solutions, reports).

Reading is strict: ``NaN``/``Infinity`` literals (which Python's `json` accepts) and duplicate
keys in an object are refused, and every failure is an `InstanceError` naming the file. Writing is
atomic (a temporary file in the same directory, then `os.replace`), so a crash never leaves a
half-written file, and the layout is readable: an object or list of plain values, or one that
fits in 100 characters, is kept on one line (one product per line, as in the contract's
example); key order is kept as given.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from .exceptions import InstanceError, OptionError

__all__ = [
    "check_output",
    "default_mode",
    "dumps",
    "dumps_at",
    "LONG_LIST",
    "parse_json",
    "read_json",
    "write_atomic",
    "write_json_atomic",
    "write_json_or_stdout",
]

_WIDTH = 100  # a container whose one-line form fits within this width stays on one line
LONG_LIST = _WIDTH // 3  # a list longer than this never takes one line: one line per item


class _BadLiteral(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Constant:
    """Stands for a ``NaN``/``Infinity`` literal until its place in the document is known."""

    def __init__(self, name: str) -> None:
        self.name = name


class _DupDict(dict):  # type: ignore[type-arg]
    """An object that repeated ``key``; kept until its place in the document is known."""

    dup: str = ""


class _Hooks:
    """Parse hooks that remember a bad literal or a repeated key, so that the error can name
    the field where it sits (``products[2].price``), found by one walk after the parse."""

    def __init__(self) -> None:
        self.bad = False

    def constant(self, name: str) -> Any:
        self.bad = True
        return _Constant(name)

    def pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(pairs)
        if len(d) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self.bad = True
                    out = _DupDict(d)
                    out.dup = key
                    return out
                seen.add(key)
        return d


def _find_bad(obj: Any, path: str = "") -> tuple[str, str]:
    """(field, message) of the first bad literal or repeated key in ``obj``."""
    stack: list[tuple[Any, str]] = [(obj, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, _Constant):
            return where, f"invalid JSON: {node.name} is not allowed: all numbers must be finite"
        if isinstance(node, _DupDict):
            field = f"{where}.{node.dup}" if where else node.dup
            return field, f"invalid JSON: duplicate key {node.dup!r} in an object"
        if isinstance(node, dict):
            items = [(v, f"{where}.{k}" if where else str(k)) for k, v in node.items()]
            stack.extend(reversed(items))
        elif isinstance(node, list):
            stack.extend(reversed([(v, f"{where}[{i}]") for i, v in enumerate(node)]))
    return "", "invalid JSON: a NaN/Infinity literal or a repeated key"


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file strictly.

    Raises
    ------
    InstanceError
        The file is missing or unreadable, is not valid JSON (the message gives line and
        column), contains ``NaN``/``Infinity``, repeats a key within one object, or is nested
        too deeply. The message starts with the file name.
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InstanceError("", "no such file", source) from None
    except IsADirectoryError:
        raise InstanceError("", "is a directory, not a file", source) from None
    except OSError as exc:
        raise InstanceError("", f"cannot read file: {exc.strerror or exc}", source) from None
    return parse_json(raw, source)


def parse_json(raw: bytes | str, source: str | None, prefix: str = "") -> Any:
    """Parse JSON text strictly (no ``NaN``/``Infinity``, no repeated key); errors are one
    `InstanceError` naming ``source`` and the field (under ``prefix``, e.g. ``header``)."""
    hooks = _Hooks()
    try:
        obj = json.loads(raw, parse_constant=hooks.constant, object_pairs_hook=hooks.pairs)
        if hooks.bad:
            raise _BadLiteral(*_find_bad(obj, prefix))
        return obj
    except json.JSONDecodeError as exc:
        raise InstanceError(
            prefix, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", source
        ) from None
    except _BadLiteral as exc:
        raise InstanceError(exc.field, str(exc), source) from None
    except UnicodeDecodeError:
        raise InstanceError(prefix, "invalid JSON: not UTF-8 text", source) from None
    except RecursionError:
        raise InstanceError(prefix, "invalid JSON: nested too deeply", source) from None


def _is_scalar(obj: Any) -> bool:
    return not isinstance(obj, dict | list | tuple)


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


# Rows of a long list of rows are encoded in one C call: this item separator cannot occur
# elsewhere in the text (the encoder escapes control characters inside strings).
_ROWS_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",\x00", ": "))


def _all_dicts(items: Any) -> bool:
    """Every item is a dict (checked on the set of types: fast for a million rows)."""
    return all(issubclass(k, dict) for k in {type(r) for r in items})


def _never_fits(obj: Any) -> bool:
    """True when ``obj`` holds a container of more than _WIDTH // 3 entries: its one-line form
    (at least 3 characters per entry) cannot fit, so it need not be encoded to find out."""
    values = obj.values() if isinstance(obj, dict) else obj
    return any(not _is_scalar(v) and len(v) > _WIDTH // 3 for v in values)


def _encode_rows(rows: list[Any], indent: int, out: list[str]) -> bool:
    """A list of dicts of scalars, one per line (what the general path writes), in one encoder
    call. Returns False, writing nothing, when some value may be a container (the text holds
    ": {" or ": [", the only way a container value can start; a string may also hold them, and
    then the general path runs)."""
    text = _ROWS_ENCODER.encode(rows)  # "[row,\x00row,...]", rows' own items also ",\x00"
    if ": {" in text or ": [" in text:
        return False
    pad = " " * (indent + 2)
    # a row ends with }, a scalar inside a row never does: these are the row breaks
    text = text[1:-1].replace("},\x00", "},\n" + pad).replace(",\x00", ", ")
    out.append("[\n" + pad + text + "\n" + " " * indent + "]")
    return True


def _encode(obj: Any, indent: int, out: list[str]) -> None:
    # Scalars and containers of scalars (a product, a row) take one line; other containers when
    # they fit (one with more than _WIDTH // 3 entries never fits: big ones are not encoded twice).
    if _is_scalar(obj) or all(map(_is_scalar, obj.values() if isinstance(obj, dict) else obj)):
        out.append(_ENCODER.encode(obj))
        return
    if len(obj) > _WIDTH // 3 and not isinstance(obj, dict) and _all_dicts(obj):
        if _encode_rows(list(obj), indent, out):
            return
    if len(obj) <= _WIDTH // 3 and not _never_fits(obj):
        one_line = _ENCODER.encode(obj)
        if indent + len(one_line) <= _WIDTH:
            out.append(one_line)
            return
    pad = " " * (indent + 2)
    if isinstance(obj, dict):
        if not obj:
            out.append("{}")
            return
        out.append("{\n")
        for k, (key, value) in enumerate(obj.items()):
            out.append(f"{pad}{json.dumps(str(key), ensure_ascii=False)}: ")
            _encode(value, indent + 2, out)
            out.append(",\n" if k + 1 < len(obj) else "\n")
        out.append(" " * indent + "}")
    else:
        out.append("[\n")
        for k, value in enumerate(obj):
            out.append(pad)
            _encode(value, indent + 2, out)
            out.append(",\n" if k + 1 < len(obj) else "\n")
        out.append(" " * indent + "]")


def dumps_at(obj: Any, indent: int) -> str:
    """``obj`` formatted as it appears at ``indent`` inside a `dumps` text (no final newline):
    lets a writer assemble a large file from parts, some of them formatted by faster means."""
    out: list[str] = []
    _encode(obj, indent, out)
    return "".join(out)


def dumps(obj: Any) -> str:
    """Format ``obj`` as readable JSON text ending in a newline (the file and stdout layout).

    Raises ``ValueError`` for NaN or infinite floats and ``TypeError`` for objects JSON cannot
    hold: assortopt never writes a file it would refuse to read.
    """
    out: list[str] = []
    _encode(obj, 0, out)
    out.append("\n")
    return "".join(out)


def default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically: readers see the old file or the new one.

    The text is formatted first (so an unserialisable object leaves the file untouched), then
    written by `write_atomic`.
    """
    text = dumps(obj)
    write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def write_atomic(path: str | os.PathLike[str], write: Callable[[BinaryIO], Any]) -> None:
    """Write a file atomically: ``write(fh)`` fills a temporary file in the same directory, which
    is flushed to disk and renamed over ``path``, so readers (and an interrupted run) see the old
    file or the new one, never half of one.

    A symlink is written through (its target is replaced), never replaced by a file; a
    write-protected file is refused (``PermissionError``). The new file gets the permissions of
    the file it replaces, or the usual ones for a new file.
    """
    target = Path(os.path.realpath(path))
    if target.exists() and not _writable(target):
        raise PermissionError(f"{path}: the file is write-protected")
    directory = target.parent if str(target.parent) else Path(".")
    try:
        mode = target.stat().st_mode & 0o777
    except OSError:
        mode = default_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _writable(path: Path) -> bool:
    # the mode bits too: root passes os.access on a file its owner write-protected
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)


def check_output(
    path: str | os.PathLike[str] | None,
    inputs: tuple[str | os.PathLike[str], ...] = (),
    flag: str = "--output",
) -> None:
    """Refuse, before any work, an output file that could not be written or must not be.

    ``None`` and ``"-"`` (standard output) pass. Symlinks and ``..`` are resolved first.

    Raises
    ------
    OptionError
        The path is one of ``inputs`` (the same file, by any name), a directory, in a directory
        that does not exist or cannot be written, or an existing write-protected file.
    """
    if path is None or str(path) == "-":
        return
    shown = str(path)
    real = Path(os.path.realpath(path))
    if real.is_dir():
        raise OptionError(f"{flag} {shown}: is a directory, not a file")
    for src in inputs:
        try:
            same = real.exists() and os.path.samefile(real, src)
        except OSError:
            same = False
        if same or real == Path(os.path.realpath(src)):
            raise OptionError(f"{flag} {shown}: is the input file {src}; choose another name")
    parent = real.parent
    if not parent.is_dir():
        raise OptionError(f"{flag} {shown}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OptionError(f"{flag} {shown}: directory {parent} is not writable")
    if real.exists() and not _writable(real):
        raise OptionError(f"{flag} {shown}: the file is write-protected")


def write_json_or_stdout(path: str | os.PathLike[str] | None, obj: Any) -> None:
    """Write ``obj`` atomically to ``path``, or to standard output when ``path`` is None or "-"."""
    if path is None or str(path) == "-":
        sys.stdout.write(dumps(obj))
        sys.stdout.flush()
    else:
        write_json_atomic(path, obj)
