"""Solution files (README.md, "Solution"): reading a plan back for ``assortopt evaluate``, and
writing one.

A solution file is a JSON object whose ``stock`` maps product ids to whole numbers of units
(products not listed get 0). Every other key is informative (method, status, objective, bound,
evaluation, ...) and kept as read; extra keys are allowed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .exceptions import InstanceError
from .instance import Instance
from .jsonio import read_json, write_json_or_stdout

SOLUTION_FORMAT = "assortopt-solution/1"

_MAX_UNITS = 2**53  # larger counts cannot be told apart from their neighbours in a JSON float


@dataclass(frozen=True, eq=False)
class LoadedSolution:
    """A solution file checked against an instance.

    Attributes
    ----------
    stock
        int64 array of length N: units of each product, in the instance's product order.
    data
        The whole parsed file (``stock`` as written, plus method, status, objective, ...).
    """

    stock: np.ndarray
    data: dict[str, Any] = field(default_factory=dict)


def _whole_units(units: Any) -> bool:
    if isinstance(units, bool | np.bool_) or not isinstance(
        units, int | float | np.integer | np.floating
    ):
        return False
    try:
        x = float(units)
    except OverflowError:
        return False
    return bool(np.isfinite(x)) and x.is_integer() and 0 <= x <= _MAX_UNITS


def solution_from_dict(d: Any, inst: Instance, source: str | None = None) -> LoadedSolution:
    """Check a parsed solution against ``inst`` and turn its ``stock`` into an array.

    Raises
    ------
    InstanceError
        The file is not an object, has a wrong ``format``, or its ``stock`` is missing, not an
        object, names an unknown product or gives a unit count that is not a whole number
        >= 0; the message names the file and the field, e.g. ``sol.json: stock.cocoa90: units
        must be a whole number >= 0, got -3``.
    """
    if not isinstance(d, dict):
        raise InstanceError("", "must be a JSON object (a solution)", source)
    if "format" in d and d["format"] != SOLUTION_FORMAT:
        raise InstanceError("format", f"must be {SOLUTION_FORMAT!r}, got {d['format']!r}", source)
    if "stock" not in d:
        raise InstanceError("stock", "missing (required)", source)
    stock = d["stock"]
    if not isinstance(stock, dict):
        raise InstanceError("stock", "must be an object mapping product ids to units", source)
    for pid, units in stock.items():
        where = f"stock.{pid}"
        if pid not in inst.index:
            raise InstanceError(
                where, f"unknown product id (not in {inst.name or 'the instance'})", source
            )
        if not _whole_units(units):
            raise InstanceError(where, f"units must be a whole number >= 0, got {units!r}", source)
    return LoadedSolution(stock=inst.stock_vector(stock), data=d)


def load_solution(path: str | os.PathLike[str], inst: Instance) -> LoadedSolution:
    """Read a solution file written for ``inst`` (see `solution_from_dict` for the checks).

    Raises
    ------
    InstanceError
        The file is unreadable, not strict JSON, or breaks a rule; the message names the file.
    """
    return solution_from_dict(read_json(path), inst, source=str(path))


def write_solution(path: str | os.PathLike[str] | None, data: dict[str, Any]) -> None:
    """Write a solution dict as JSON: atomically to ``path``, or to stdout if it is None or "-".

    ``data`` is usually ``Solution.to_dict()`` (from `assortopt.solve` or
    ``Formulation.solution``). Raises ``OSError`` when the file cannot be written.
    """
    write_json_or_stdout(path, data)


def violations(inst: Instance, stock: np.ndarray, data: dict[str, Any] | None = None) -> list[str]:
    """What is wrong with planning ``stock`` for ``inst``: each broken constraint
    (``max_products``, ``budget``) and, given the solution file's ``data``, an ``instance`` name
    other than ``inst.name``; one sentence each, empty when nothing is (``evaluate`` warns)."""
    out = []
    q = np.asarray(stock, dtype=np.int64)
    stocked = int((q > 0).sum())
    if inst.max_products is not None and stocked > inst.max_products:
        out.append(f"the plan stocks {stocked} products, above max_products {inst.max_products}")
    if inst.budget is not None:
        spend = float(inst.cost @ q)
        if spend > inst.budget * (1 + 1e-9) + 1e-9:
            out.append(f"the plan costs {spend:g}, above the budget {inst.budget:g}")
    named = (data or {}).get("instance")
    if isinstance(named, str) and inst.name and named != inst.name:
        out.append(f"the solution was written for instance {named!r}, not {inst.name!r}")
    return out
