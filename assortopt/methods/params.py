"""Declared types and ranges of method options (``--param KEY=VALUE``), checked before any work.

A method registers its options as ``params={"window": int_ge(0), "add_back": boolean, ...}``
(`assortopt.methods.base.register`); `check_params` then turns each given value into the declared
type or raises `OptionError` naming the method, the key and the accepted values, so a bad value
never reaches the code as a crash or as a silently different meaning. A method that declares only
the names (a tuple) gets its values unchecked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..exceptions import OptionError

__all__ = [
    "Check",
    "any_value",
    "auto_or_boolean",
    "boolean",
    "check_params",
    "choice",
    "float_ge",
    "float_gt",
    "float_in",
    "int_ge",
    "method_name",
    "optional",
    "words",
]

#: A check turns a raw value into the declared type or raises ``ValueError`` with what it expects.
Check = Callable[[Any], Any]


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError("a number") from None
    if not isinstance(value, int | float):
        raise ValueError("a number")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError("a finite number")
    return x


def int_ge(low: int) -> Check:
    """An integer ≥ ``low`` (``3`` or ``"3"``; ``1.5`` and ``true`` are refused)."""

    def check(value: Any) -> int:
        x = _number(value)
        if not x.is_integer():
            raise ValueError(f"an integer >= {low}")
        if x < low:
            raise ValueError(f"an integer >= {low}")
        return int(x)

    check.__doc__ = f"an integer >= {low}"
    return check


def float_ge(low: float) -> Check:
    """A finite number ≥ ``low``."""

    def check(value: Any) -> float:
        x = _number(value)
        if x < low:
            raise ValueError(f"a number >= {low:g}")
        return x

    check.__doc__ = f"a number >= {low:g}"
    return check


def float_gt(low: float) -> Check:
    """A finite number > ``low``."""

    def check(value: Any) -> float:
        x = _number(value)
        if not x > low:
            raise ValueError(f"a number > {low:g}")
        return x

    check.__doc__ = f"a number > {low:g}"
    return check


def float_in(low: float, high: float) -> Check:
    """A finite number in the open-closed interval (``low``, ``high``]."""

    def check(value: Any) -> float:
        x = _number(value)
        if not low < x <= high:
            raise ValueError(f"a number in ({low:g}, {high:g}]")
        return x

    check.__doc__ = f"a number in ({low:g}, {high:g}]"
    return check


def boolean(value: Any) -> bool:
    """``true``/``false`` (JSON booleans or the words true/false, yes/no, 1/0)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "yes", "1", "on"):
            return True
        if word in ("false", "no", "0", "off"):
            return False
    raise ValueError("true or false")


def auto_or_boolean(value: Any) -> str | bool:
    """``auto``, or true/false."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        return boolean(value)
    except ValueError:
        raise ValueError("auto, true or false") from None


def words(*values: str) -> Check:
    """A non-empty list of the words ``values`` (``"up,drop"`` or a JSON list), as a tuple."""

    def check(value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError(f"a comma-separated list of {', '.join(values)}")
        out = tuple(str(x).strip() for x in items if str(x).strip())
        if not out or any(x not in values for x in out):
            raise ValueError(f"a comma-separated list of {', '.join(values)}")
        return out

    check.__doc__ = f"a comma-separated list of {', '.join(values)}"
    return check


def choice(*values: str) -> Check:
    """One of the words ``values``."""

    def check(value: Any) -> str:
        if isinstance(value, str) and value in values:
            return value
        raise ValueError(f"one of {', '.join(values)}")

    check.__doc__ = f"one of {', '.join(values)}"
    return check


def method_name(value: Any) -> str:
    """A method name (checked against the registry when the method runs) or ``none``."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError("a method name or none")


def optional(inner: Check) -> Check:
    """``inner``, or ``null``/``none`` for "not given"."""

    def check(value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
            return None
        return inner(value)

    check.__doc__ = f"{inner.__doc__ or 'a value'} or none"
    return check


def any_value(value: Any) -> Any:
    """Any value; the method checks it itself (e.g. a mapping of product ids)."""
    return value


def check_params(
    method: str, spec: Mapping[str, Check] | tuple[str, ...], params: Mapping[str, Any]
) -> dict[str, Any]:
    """``params`` with every value turned into its declared type.

    Raises
    ------
    OptionError
        A key the method does not take, or a value outside its declared type or range; the
        message names the method and the key, e.g. ``method 'heuristic': --param window=1.5:
        expected an integer >= 0``.
    """
    names = tuple(spec)
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise OptionError(
            f"method {method!r} does not take option(s) {', '.join(unknown)}"
            f" (it takes: {', '.join(names) or 'nothing'})"
        )
    if not isinstance(spec, Mapping):
        return dict(params)
    out: dict[str, Any] = {}
    for key, value in params.items():
        try:
            out[key] = spec[key](value)
        except ValueError as exc:
            raise OptionError(
                f"method {method!r}: --param {key}={_show(value)}: expected {exc}"
            ) from None
    return out


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
