"""The mpi-sppy scenario contract: each scenario of an SAA program as its own Pyomo model.

The module contract of mpi-sppy (``scenario_names_creator``, ``scenario_creator``,
``kw_creator``, ``inparser_adder``, ``scenario_denouement``) for three formulations
(`FORMULATIONS`; the write-up is models/mpi.md):

``saa-lp-all``
    the SAA-LP over every product (`assortopt.models.saa_lp.build_saa_lp`), first stage = stock;
``spill-mip``
    the spill MIP (`assortopt.models.spill_mip.build_spill_mip`), first stage = integer stock
    (and the ``carry`` binaries when fixed costs or ``max_products`` need them);
``mip``
    the exact sample-path MIP (`assortopt.models.sample_path_mip.build_sample_path_mip`), first
    stage = integer stock (and ``carry``) on the products some scenario can sell.

Scenario k's model is the project's builder applied to scenario k's data alone (K = 1), made
inside its rank from the instance file and the seed: every rank draws the K scenarios' *data*
exactly as the single-process method does (first-choice counts, or customer streams: cheap
arrays, `scenario_data`) and builds Pyomo models only for the scenarios it owns. No Pyomo object
is pickled. Two facts of the K-scenario model are global and are restored on each one-scenario
model: the stock bounds (the spill MIP's big-M and the sample-path MIP's unit count are maxima
over all scenarios; a one-scenario model would cut the stock to what that scenario alone can
sell) and the first-stage cost (paid once, on the nonanticipative stock).

The decompositions reach the scenario data through this module (``contract.scenario_data``), so
a test can wrap that one function (tests/mpi_failing_rank.py makes a rank fail there).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import OptionError
from ..instance import Instance, load_instance

__all__ = [
    "FORMULATIONS",
    "ScenarioData",
    "check_method",
    "inparser_adder",
    "kw_creator",
    "scenario_creator",
    "scenario_data",
    "scenario_denouement",
    "scenario_formulation",
    "scenario_names_creator",
    "stock_from_block",
]

#: Methods with an mpi-sppy scenario model.
FORMULATIONS = ("saa-lp-all", "spill-mip", "mip")


@dataclass
class ScenarioData:
    """Everything a rank needs to build any scenario of one SAA program (arrays only).

    ``counts`` (K, N) first-choice counts (SAA-LP, spill MIP) or ``stream`` (K scenarios of
    preference lists, sample-path MIP); ``stock_hi`` the global stock bound per first-stage
    product; ``products`` the positions of the first-stage products.
    """

    inst: Instance
    method: str
    scenarios: int
    seed: int
    products: np.ndarray
    counts: np.ndarray | None = None
    stream: Any = None
    stock_hi: np.ndarray | None = None
    need_carry: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def check_method(method: str) -> None:
    """Raise `OptionError` unless ``method`` has a scenario model (`FORMULATIONS`)."""
    if method not in FORMULATIONS:
        raise OptionError(f"--mpi: method must be one of {', '.join(FORMULATIONS)}, got {method!r}")


@functools.lru_cache(maxsize=4)
def scenario_data(inst_path: str, method: str, scenarios: int, seed: int) -> ScenarioData:
    """The K scenarios' data of ``method`` exactly as the single-process method draws them.

    Cached per process: every scenario a rank builds reuses it. Raises `OptionError` for an
    unknown method or K < 1 and `InstanceError` for a bad instance file.
    """
    check_method(method)
    if scenarios < 1:
        raise OptionError(f"scenarios must be >= 1, got {scenarios}")
    inst = load_instance(inst_path)
    if method in ("saa-lp-all", "spill-mip"):
        from ..choice.mc import drop_self_loops
        from ..models.scenario_data import first_choice_counts
        from ..models.spill_mip import max_inflow

        counts = first_choice_counts(inst, None, scenarios, seed)
        data = ScenarioData(inst, method, scenarios, seed, np.arange(inst.n), counts=counts)
        # the K-scenario spill MIP's big-M (build_spill_mip): the largest inflow over all K;
        # also a valid stock bound of the SAA-LP (a unit beyond it never sells)
        vmax = max_inflow(drop_self_loops(inst.transitions), counts)
        data.stock_hi = np.maximum(np.ceil(vmax.max(axis=0) - 1e-9), 0.0)
        if method == "spill-mip":
            data.need_carry = bool(np.any(inst.fixed_cost > 0)) or inst.max_products is not None
        return data
    from ..models.sample_path_mip import candidate_mask, prepare_pairs
    from ..sampling import sample_streams

    stream = sample_streams(inst, scenarios, seed)
    pairs = prepare_pairs(inst, stream, candidate_mask(inst))
    need_carry = bool(np.any(inst.fixed_cost[pairs.products] > 0)) or (
        inst.max_products is not None
    )
    return ScenarioData(
        inst,
        method,
        scenarios,
        seed,
        np.asarray(pairs.products),
        stream=stream,
        stock_hi=pairs.units.astype(np.float64),
        need_carry=need_carry,
    )


def scenario_names_creator(num_scens: int, start: int = 0) -> list[str]:
    """Scenario names ``scen0 .. scen{K-1}`` (mpi-sppy contract)."""
    return [f"scen{k}" for k in range(start, start + num_scens)]


def _scenario_index(name: str) -> int:
    if not name.startswith("scen") or not name[4:].isdigit():
        raise ValueError(f"bad scenario name {name!r} (expected scen<k>)")
    return int(name[4:])


def scenario_formulation(data: ScenarioData, k: int) -> Any:
    """Scenario k's `Formulation` (the project's builder on row k of ``data``, K = 1), in array
    form: no Pyomo model is built until its ``model`` is read. Its global stock bounds are
    restored (see the module docstring; for ``mip``, `scenario_creator` adds them as the
    first-stage Vars)."""
    if not 0 <= k < data.scenarios:
        raise ValueError(f"scenario scen{k} outside 0..{data.scenarios - 1}")
    method = data.method
    inst = data.inst
    if method == "mip":
        from ..models.sample_path_mip import build_sample_path_mip

        return build_sample_path_mip(inst, data.stream.scenario(k), "strong")
    if method == "saa-lp-all":
        from ..models.saa_lp import build_saa_lp

        f = build_saa_lp(inst, data.counts[k : k + 1])
        f.lp.col_hi[f.var_blocks["stock"].cols.ravel()] = data.stock_hi
        return f
    from ..models.spill_mip import build_spill_mip

    # the one-scenario big-M would cap the shared stock: use the K-scenario one
    return build_spill_mip(inst, data.counts[k : k + 1], big_m=data.stock_hi)


def scenario_creator(
    scenario_name: str,
    inst_path: str = "",
    method: str = "spill-mip",
    num_scens: int = 10,
    seed: int = 0,
) -> Any:
    """One scenario's Pyomo model (mpi-sppy contract), built with the project's builders.

    Scenario k's data is row k of `scenario_data` (K = 1 for the builder,
    `scenario_formulation`); the nonanticipative first stage is the ``stock`` Var (plus
    ``carry`` when present; for ``mip`` the ``first_stock`` and ``first_carry`` Vars linked to
    the scenario's own), attached with ``sputils.attach_root_node``; the probability is 1/K.
    The objective (maximised) is the scenario's profit, so the probability-weighted sum is the
    K-scenario SAA objective. The model keeps its formulation as ``_assortopt_formulation``
    (the extensive form completes warm starts from it).
    """
    import mpisppy.utils.sputils as sputils

    data = scenario_data(str(inst_path), method, int(num_scens), int(seed))
    f = scenario_formulation(data, _scenario_index(scenario_name))
    inst = data.inst
    if method == "mip":
        m, first_obj, nonants = _sample_path_scenario(data, f)
    else:
        m = f.model
        ucost = inst.cost - inst.salvage
        first_obj = -sum(float(ucost[i]) * m.stock[inst.ids[i]] for i in range(inst.n))
        nonants = [m.stock]
        if "carry" in f.var_blocks:
            first_obj = first_obj - sum(
                float(inst.fixed_cost[i]) * m.carry[inst.ids[i]] for i in range(inst.n)
            )
            nonants.append(m.carry)
    m.name = scenario_name
    sputils.attach_root_node(m, first_obj, nonants)
    m._mpisppy_probability = 1.0 / data.scenarios
    m._assortopt_formulation = f
    return m


def _sample_path_scenario(data: ScenarioData, f: Any) -> tuple[Any, Any, list[Any]]:
    """Scenario k of the sample-path MIP with global first-stage Vars.

    The one-scenario builder bounds its stock by what scenario k can sell (U_k) and drops
    products nobody in scenario k wants. The first stage ``first_stock`` x (bounded by the
    K-scenario U) carries the purchase cost; the scenario's ``stock`` q equals min(x, U_k),
    enforced with a binary d: q ≤ x, x − q ≤ (U − U_k) d, q ≥ U_k d (a unit beyond U_k never sells).
    """
    import pyomo.environ as pyo

    inst = data.inst
    prods = data.products
    assert data.stock_hi is not None
    ids = [inst.ids[i] for i in prods]
    hi = dict(zip(ids, data.stock_hi, strict=True))
    m = f.model
    m.first_stock = pyo.Var(ids, domain=pyo.NonNegativeIntegers, bounds=lambda _m, i: (0, hi[i]))
    ucost = dict(zip(inst.ids, inst.cost - inst.salvage, strict=True))
    fixed = dict(zip(inst.ids, inst.fixed_cost, strict=True))
    first_obj = -sum(float(ucost[i]) * m.first_stock[i] for i in ids)
    nonants = [m.first_stock]
    own = f.var_blocks["stock"]
    own_ids = [own.labels[0][j] for j in range(own.cols.shape[0])]
    own_hi = dict(zip(own_ids, f.lp.col_hi[own.cols], strict=True))
    short = [i for i in own_ids if own_hi[i] < hi[i] - 1e-9]
    m.first_link = pyo.Constraint(
        [i for i in own_ids if i not in short], rule=lambda _m, i: _m.stock[i] == _m.first_stock[i]
    )
    m.first_cut = pyo.Var(short, domain=pyo.Binary)
    m.first_cut_hi = pyo.Constraint(
        short,
        rule=lambda _m, i: _m.first_stock[i] - _m.stock[i] <= (hi[i] - own_hi[i]) * _m.first_cut[i],
    )
    m.first_cut_lo = pyo.Constraint(
        short, rule=lambda _m, i: _m.stock[i] >= own_hi[i] * _m.first_cut[i]
    )
    m.first_cut_le = pyo.Constraint(short, rule=lambda _m, i: _m.stock[i] <= _m.first_stock[i])
    if data.need_carry:
        m.first_carry = pyo.Var(ids, domain=pyo.Binary)
        first_obj = first_obj - sum(float(fixed[i]) * m.first_carry[i] for i in ids)
        nonants.append(m.first_carry)
        m.first_carry_link = pyo.Constraint(
            ids, rule=lambda _m, i: _m.first_stock[i] <= hi[i] * _m.first_carry[i]
        )
        if "carry" in f.var_blocks:
            m.first_carry_own = pyo.Constraint(
                own_ids, rule=lambda _m, i: _m.carry[i] == _m.first_carry[i]
            )
        if inst.max_products is not None:
            m.first_max_products = pyo.Constraint(
                expr=sum(m.first_carry[i] for i in ids) <= inst.max_products
            )
    if inst.budget is not None:
        cost = dict(zip(inst.ids, inst.cost, strict=True))
        m.first_budget = pyo.Constraint(
            expr=sum(float(cost[i]) * m.first_stock[i] for i in ids) <= inst.budget
        )
    # the scenario's objective without its own first-stage terms, plus the global ones
    c = f.lp.c.copy()
    for blk in ("stock", "carry"):
        if blk in f.var_blocks:
            c[f.var_blocks[blk].cols.ravel()] = 0.0
    cols = f.column_vars
    nz = np.flatnonzero(c)
    second = sum(float(c[j]) * cols[j] for j in nz) if len(nz) else 0.0
    m.objective.deactivate()
    m.scenario_profit = pyo.Objective(expr=second + first_obj, sense=pyo.maximize)
    return m, first_obj, nonants


def kw_creator(cfg: Any) -> dict[str, Any]:
    """``scenario_creator`` keyword arguments from an mpi-sppy Config (mpi-sppy contract)."""
    return {
        "inst_path": cfg.get("instance"),
        "method": cfg.get("method", "spill-mip"),
        "num_scens": cfg.get("num_scens"),
        "seed": cfg.get("seed", 0),
    }


def inparser_adder(cfg: Any) -> None:
    """Declare this module's options on an mpi-sppy Config (mpi-sppy contract)."""
    cfg.num_scens_required()
    cfg.add_to_config("instance", "assortopt instance file", domain=str, default=None)
    cfg.add_to_config("method", "saa-lp-all, spill-mip or mip", domain=str, default="spill-mip")
    cfg.add_to_config("seed", "scenario seed", domain=int, default=0)


def scenario_denouement(rank: int, scenario_name: str, scenario: Any) -> None:
    """Nothing to report per scenario (mpi-sppy contract)."""


def stock_from_block(block: Any, kw: dict[str, Any], val: Any) -> np.ndarray:
    """First-stage stock (length N) read off one scenario's model."""
    data = scenario_data(kw["inst_path"], kw["method"], kw["num_scens"], kw["seed"])
    inst = data.inst
    var = block.first_stock if kw["method"] == "mip" else block.stock
    q = np.zeros(inst.n)
    for i in data.products:
        v = var[inst.ids[i]]
        q[i] = float(val(v))
    return q
