"""The method protocol and registry.

A method is a function ``(inst, request) -> Plan``. `assortopt.solve` looks it up by name, times
it, adds the LP bound and an out-of-sample evaluation, and writes the solution file. Methods
register themselves with ``@register("name")``; importing `assortopt.methods.all` loads them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import OptionError
from ..instance import Instance
from ..solver import SolverOptions


@dataclass(frozen=True)
class PlanRequest:
    """What a method is asked to do.

    Attributes
    ----------
    scenarios
        K, the number of sampled scenarios (streams) the method may plan on.
    seed
        Seed of every random draw the method makes (planning streams, rounding trials, ...).
        Out-of-sample evaluation uses a different stream derived by `assortopt.solve`.
    options
        Solver control (time limit, MIP gap, threads, verbosity).
    params
        Method-specific options (e.g. ``{"start": "heuristic"}`` for local search,
        ``{"formulation": "bigm"}`` for the MIP). Unknown keys raise `OptionError`.
    write_model
        If set, a method that builds an LP/MIP writes it to this ``.mps``/``.lp`` file
        (pass it as ``Formulation.solve(write=...)``).
    """

    scenarios: int = 100
    seed: int = 0
    options: SolverOptions = field(default_factory=SolverOptions)
    params: dict[str, Any] = field(default_factory=dict)
    write_model: str | None = None

    def param(self, key: str, default: Any) -> Any:
        return self.params.get(key, default)


@dataclass
class Plan:
    """A method's answer: integer stock per product plus what the method knows about it.

    ``objective`` is the method's own in-sample value (None if it has none); ``bound`` and
    ``gap`` are a MIP's proven bound and relative gap; ``status`` is a contract status.
    """

    stock: np.ndarray
    status: str = "heuristic"
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_result(cls, stock: np.ndarray, res: Any, extra: dict[str, Any] | None = None) -> Plan:
        """The plan of a solver run: ``stock`` with the status, objective, bound, gap and
        message of ``res`` (a `SolveResult` or anything with those attributes)."""
        return cls(
            stock,
            status=res.status,
            objective=res.objective,
            bound=res.bound,
            gap=res.gap,
            message=res.message,
            extra=dict(extra or {}),
        )


Method = Callable[[Instance, PlanRequest], Plan]
METHODS: dict[str, Method] = {}


def register(name: str, params: tuple[str, ...] = ()) -> Callable[[Method], Method]:
    """Register a method under ``name``; ``params`` lists the method-specific keys it accepts."""

    def deco(fn: Method) -> Method:
        fn.accepted_params = params  # type: ignore[attr-defined]

        def checked(inst: Instance, req: PlanRequest) -> Plan:
            unknown = sorted(set(req.params) - set(params))
            if unknown:
                raise OptionError(f"method {name!r} does not take option(s) {', '.join(unknown)}")
            return fn(inst, req)

        checked.__doc__ = fn.__doc__
        checked.__name__ = fn.__name__
        checked.accepted_params = params  # type: ignore[attr-defined]
        METHODS[name] = checked
        return fn

    return deco


def get_method(name: str) -> Method:
    from . import all as _all  # noqa: F401  (registers every method)

    try:
        return METHODS[name]
    except KeyError:
        raise OptionError(
            f"unknown method {name!r}; choose from {', '.join(sorted(METHODS))}"
        ) from None


def list_methods() -> dict[str, tuple[str, ...]]:
    """Every registered method name with the option keys it accepts (``--param KEY=VALUE``);
    `assortopt.solve` takes the same keys in ``params``. Raises nothing."""
    from . import all as _all  # noqa: F401

    return {k: v.accepted_params for k, v in sorted(METHODS.items())}  # type: ignore[attr-defined]
