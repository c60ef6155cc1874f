"""One builder per formulation, and `build`, the uniform entry to all of them.

Every builder returns a `Formulation` (`assortopt.models.formulation`): the model as arrays
for HiGHS, a Pyomo ``ConcreteModel`` made on first access of ``.model`` (add your own variables,
constraints or objective terms to it), variable blocks that map columns to products and
scenarios, ``.solve`` (a `SolveResult`: status, incumbent, bound, gap), ``.plan`` (a `Plan`),
``.values`` (a labelled pandas view of a block) and ``.solution`` (an `assortopt.api.Solution`
for `simulate` and the solution file).

=====================  ===================================  ==================================
name                   model                                data
=====================  ===================================  ==================================
``lp_bound``           LP upper bound on expected profit    none
``saa_lp``             SAA-LP with fluid spill (continuous) first-choice counts (K, |S|)
``spill_mip``          spill MIP (integer stock)            first-choice counts (K, |S|)
``sample_path_mip``    exact sample-path SAA MIP            a `Stream` of K scenarios
=====================  ===================================  ==================================

When ``data`` is None, `build` samples exactly what the methods ``spill-mip`` (default
``products="all"``) and ``mip`` sample, so ``build("spill_mip" | "sample_path_mip", inst,
scenarios=K, seed=s)`` is the model ``assortopt.solve`` solves with the same K and seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..exceptions import OptionError

if TYPE_CHECKING:
    from ..instance import Instance
    from .formulation import Formulation

__all__ = ["FORMULATIONS", "build"]

#: The formulation names `build` accepts (hyphens are read as underscores).
FORMULATIONS = ("lp_bound", "saa_lp", "spill_mip", "sample_path_mip")


def build(
    name: str,
    inst: Instance,
    data: Any = None,
    *,
    scenarios: int = 100,
    seed: int = 0,
    committed: Any = None,
    **opts: Any,
) -> Formulation:
    """Build formulation ``name`` for ``inst`` and return its `Formulation`.

    Parameters
    ----------
    name
        ``"lp_bound"``, ``"saa_lp"``, ``"spill_mip"`` or ``"sample_path_mip"`` (``-`` may
        replace ``_``).
    inst
        The instance.
    data
        What the formulation plans on. ``saa_lp``/``spill_mip``: an int array (K, |S|) of
        first-choice counts on S (`assortopt.models.scenario_data.first_choice_counts`), or a
        `Stream` whose customers are counted (`counts_from_stream`). ``sample_path_mip``: a
        `Stream` (`assortopt.sample_streams`). ``lp_bound``: must be None. When None, sampled
        from ``(scenarios, seed)`` exactly as the methods ``spill-mip`` and ``mip`` sample.
    scenarios
        K, the number of scenarios sampled when ``data`` is None.
    seed
        Seed of that sampling (recorded in ``info["seed"]``; `Formulation.solution` evaluates
        out of sample from ``seed + 1`` by default, as `assortopt.solve` does).
    committed
        Stock already bought (`assortopt.commitment`: int array, -1 free, or ``{id: units}``):
        the stock columns of those products are fixed (`assortopt.models.committed`); for
        ``lp_bound``, the bound over plans that keep it. Committed products with units are added
        to ``offered_mask`` / ``min_stock`` so that they have a column.
    **opts
        Passed to the builder: ``use_budget`` (`build_lp_bound`); ``offered_mask``, ``rho``,
        ``chain`` (`build_saa_lp`, `build_spill_mip`); ``formulation``, ``candidates``,
        ``min_stock``, ``merge_scenarios``, ``binary_buys``, ``unit_level``
        (`build_sample_path_mip`).

    Returns
    -------
    Formulation
        With ``instance`` set, so ``f.plan(result)`` and ``f.solution(result)`` need no
        instance. ``lp_bound`` has no ``"stock"`` block: its ``plan`` raises `OptionError`
        (use `assortopt.lp_bound` for the bound's assortment).

    Raises
    ------
    OptionError
        Unknown name or option, ``scenarios < 1``, or data of the wrong kind or shape.
    """
    from ..streams import Stream

    key = str(name).replace("-", "_")
    if key not in FORMULATIONS:
        raise OptionError(f"unknown formulation {name!r}; choose from {', '.join(FORMULATIONS)}")
    if data is None and key != "lp_bound" and int(scenarios) < 1:
        raise OptionError(f"scenarios must be >= 1, got {scenarios}")
    allowed = {
        "lp_bound": ("use_budget",),
        "saa_lp": ("offered_mask", "rho", "chain"),
        "spill_mip": ("offered_mask", "rho", "chain"),
        "sample_path_mip": (
            "formulation",
            "candidates",
            "min_stock",
            "merge_scenarios",
            "binary_buys",
            "unit_level",
        ),
    }[key]
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        raise OptionError(
            f"{key} does not take option(s) {', '.join(unknown)}; it takes {', '.join(allowed)}"
        )
    sampled = data is None
    if committed is not None:
        import numpy as np

        from ..commitment import check_commitment

        committed = check_commitment(inst, committed)
        units = np.maximum(committed, 0)
        if key in ("saa_lp", "spill_mip") and opts.get("offered_mask") is not None:
            opts["offered_mask"] = np.asarray(opts["offered_mask"], dtype=bool) | (units > 0)
        if key == "sample_path_mip":
            lo = opts.get("min_stock")
            opts["min_stock"] = units if lo is None else np.maximum(np.asarray(lo), units)
    if key == "lp_bound":
        if data is not None:
            raise OptionError("lp_bound takes no data (the bound needs no scenarios)")
        from .lp_bound import build_lp_bound

        f = build_lp_bound(inst, committed=committed, **opts)
    elif key in ("saa_lp", "spill_mip"):
        from .scenario_data import counts_from_stream, first_choice_counts

        mask = opts.get("offered_mask")
        if data is None:
            counts = first_choice_counts(inst, mask, int(scenarios), seed)
        elif isinstance(data, Stream):
            _check_stream(inst, data)
            counts = counts_from_stream(data, mask)
        else:
            counts = data
        try:
            if key == "saa_lp":
                from .saa_lp import build_saa_lp

                f = build_saa_lp(inst, counts, **opts)
            else:
                from .spill_mip import build_spill_mip

                f = build_spill_mip(inst, counts, **opts)
        except ValueError as exc:
            if isinstance(exc, OptionError):
                raise
            raise OptionError(f"{key}: {exc}") from exc
    else:
        if data is None:
            from ..sampling import sample_streams

            data = sample_streams(inst, int(scenarios), seed)
        elif not isinstance(data, Stream):
            raise OptionError(
                "sample_path_mip needs a Stream of preference lists (assortopt.sample_streams), "
                f"got {type(data).__name__}"
            )
        _check_stream(inst, data)
        from .sample_path_mip import build_sample_path_mip

        f = build_sample_path_mip(inst, data, **opts)
    if committed is not None and key != "lp_bound":
        from .committed import fix_committed

        fix_committed(f, committed)
    f.instance = inst
    f.info["seed"] = int(seed)
    f.info["sampled"] = sampled
    if key != "lp_bound" and "scenarios" not in f.info:
        f.info["scenarios"] = int(scenarios)
    return f


def _check_stream(inst: Instance, stream: Any) -> None:
    if stream.n_products != inst.n:
        raise OptionError(f"stream has {stream.n_products} products, the instance has {inst.n}")
